// Reading an ONNX model's graph (onnx-proto: protobufjs code generated from the official
// onnx.proto) and pruning it to the part below a cut: what an ONNX base runs, and what a trained
// model keeps of its trunk.
import onnxProto from 'onnx-proto';
import { usageError } from '../core/errors.js';

const { onnx } = onnxProto;

// Decoded messages always have their repeated fields (as arrays) and strings (empty by default);
// onnx-proto's typings mark every field optional, so graft reads them through these views.
export interface NodeView {
  input: string[];
  output: string[];
  opType: string;
}
export interface ValueInfoView {
  name: string;
  type?: InstanceType<typeof onnx.ValueInfoProto>['type'];
}
export interface GraphView {
  node: NodeView[];
  initializer: { name: string }[];
  input: ValueInfoView[];
  output: ValueInfoView[];
  valueInfo: unknown[];
}
export interface ModelView {
  graph?: GraphView;
  producerName: string;
  opsetImport: { version?: unknown }[];
}

export function decodeModel(bytes: Uint8Array): { proto: InstanceType<typeof onnx.ModelProto>; view: ModelView } {
  const proto = onnx.ModelProto.decode(bytes);
  return { proto, view: proto as unknown as ModelView };
}

/** The model pruned to the nodes the tensor `cut` (or each of several) depends on, with the cut(s) as its outputs. */
export function pruneToCut(bytes: Uint8Array, cut: string | string[]): Uint8Array {
  const cuts = typeof cut === 'string' ? [cut] : cut;
  const { proto, view } = decodeModel(bytes);
  const graph = view.graph!;
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  for (const c of cuts) if (!producer.has(c)) throw usageError(`tensor "${c}" is not computed by any node of the ONNX model`);
  const keep = new Set<number>();
  const stack = [...cuts];
  const needed = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (needed.has(t)) continue;
    needed.add(t);
    const i = producer.get(t);
    if (i === undefined || keep.has(i)) continue;
    keep.add(i);
    stack.push(...graph.node[i].input.filter((x) => x));
  }
  graph.node = graph.node.filter((_, i) => keep.has(i));
  graph.initializer = graph.initializer.filter((t) => needed.has(t.name));
  graph.input = graph.input.filter((v) => needed.has(v.name));
  graph.valueInfo = [];
  const elemFloat = onnx.TensorProto.DataType.FLOAT;
  graph.output = cuts.map((c) => onnx.ValueInfoProto.create({ name: c, type: { tensorType: { elemType: elemFloat } } }) as ValueInfoView);
  return onnx.ModelProto.encode(proto).finish();
}

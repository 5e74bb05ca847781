// Reading an ONNX model's graph (onnx-proto: protobufjs code generated from the official
// onnx.proto) and pruning it to the part below a cut: what an ONNX base runs, and what a trained
// model keeps of its trunk.
import onnxProto from 'onnx-proto';
import { usageError } from '../core/errors.js';
import { int, int64Tensor, ints, node } from './proto.js';
import { splitTokenCut } from './tokens.js';

const { onnx } = onnxProto;

// Decoded messages always have their repeated fields (as arrays) and strings (empty by default);
// onnx-proto's typings mark every field optional, so graft reads them through these views.
export interface NodeView {
  name: string;
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
  valueInfo: ValueInfoView[];
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

/**
 * The output of each numbered layer of a transformer or stage of a CNN, as exporters from PyTorch
 * name their nodes (`/encoder/layer.3/…`, `/blocks.3/…`, `/stages.3/…`): the last tensor computed
 * inside each, in graph order. Empty when the graph's names do not say.
 */
export function layerEnds(graph: GraphView): string[] {
  const last = new Map<string, string>();
  for (const n of graph.node) {
    const scope = /^(.*\/(?:layer|layers|blocks|block|stages|stage)\.\d+)\//.exec(n.name)?.[1];
    if (scope && n.output[0] && n.opType !== 'Constant') {
      last.delete(scope); // re-inserted: the Map keeps the order in which layers finish
      last.set(scope, n.output[0]);
    }
  }
  return [...last.values()];
}

/**
 * The model pruned to the nodes the tensor `cut` (or each of several) depends on, with the cut(s)
 * as its outputs. A token cut (`TENSOR:cls`, `TENSOR:mean`) ends in a node pooling its tensor's
 * tokens, named after the cut.
 */
export function pruneToCut(bytes: Uint8Array, cut: string | string[]): Uint8Array {
  const cuts = typeof cut === 'string' ? [cut] : cut;
  const { proto, view } = decodeModel(bytes);
  const graph = view.graph!;
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  const pooled = cuts.flatMap((c) => {
    const s = splitTokenCut(c);
    return !producer.has(c) && s.pooling ? [{ cut: c, ...s }] : [];
  });
  const tensors = cuts.map((c) => pooled.find((p) => p.cut === c)?.tensor ?? c);
  for (const t of tensors) if (!producer.has(t)) throw usageError(`tensor "${t}" is not computed by any node of the ONNX model`);
  const keep = new Set<number>();
  const stack = [...tensors];
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
  const opset = Number(view.opsetImport.find((o) => !(o as { domain?: string }).domain)?.version ?? 13);
  for (const p of pooled) {
    if (p.pooling === 'cls') {
      // Gather with a scalar index drops the token axis: [n, tokens, hidden] → [n, hidden].
      graph.initializer.push(int64Tensor(`${p.cut}/index`, [], [0]) as { name: string });
      graph.node.push(node('Gather', [p.tensor, `${p.cut}/index`], [p.cut], `${p.cut}/Gather`, { axis: int(1) }) as NodeView);
    } else if (opset >= 18) {
      // ReduceMean took its axes as an attribute until opset 18 and as an input since.
      graph.initializer.push(int64Tensor(`${p.cut}/axes`, [1], [1]) as { name: string });
      graph.node.push(node('ReduceMean', [p.tensor, `${p.cut}/axes`], [p.cut], `${p.cut}/ReduceMean`, { keepdims: int(0) }) as NodeView);
    } else {
      graph.node.push(node('ReduceMean', [p.tensor], [p.cut], `${p.cut}/ReduceMean`, { axes: ints([1]), keepdims: int(0) }) as NodeView);
    }
  }
  const elemFloat = onnx.TensorProto.DataType.FLOAT;
  graph.output = cuts.map((c) => onnx.ValueInfoProto.create({ name: c, type: { tensorType: { elemType: elemFloat } } }) as ValueInfoView);
  return onnx.ModelProto.encode(proto).finish();
}

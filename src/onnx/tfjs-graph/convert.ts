// A frozen TF.js graph model (tensorflowjs_converter's "graph-model": TF's GraphDef plus weights)
// as one ONNX model, op by op through the registry. Every node computed from the image keeps its
// name as the ONNX tensor holding its output (`node`, `node:1` for a second output), in TF's own
// layout, so any node is a cut of the ONNX graph as it was of the GraphModel. Nodes computed from
// constants alone (shape arithmetic the exporter left in the graph) are evaluated once by TF.js
// itself and become constants, so only ops on the image need a converter.
//
// No maintained TF.js-graph → ONNX converter exists on npm (tf2onnx is Python and reads TF's own
// SavedModel, not tfjs's JSON); this one covers the ops of the graph bases graft ships and the
// usual MobileNet/EfficientNet-style graphs, each checked against TF.js (test/tfjs-graph.test.ts).
import * as tf from '@tensorflow/tfjs';
import { GraftError, usageError } from '../../core/errors.js';
import { GRAFT_VERSION } from '../../core/version.js';
import { GraphBuilder, TO_NCHW, TO_NHWC } from '../graph.js';
import { FLOAT, INT32, type ValueInfoProto, encodeModel, floatTensor, int32Tensor, ints, node, valueInfo } from '../proto.js';
import type { Constant, OpContext } from './context.js';
import { attrShape, attrType, graphNodesOf, producerOf, type TfNode, tensorName } from './graph-def.js';
import { GRAPH_OPS, hasConverter } from './registry.js';

export interface GraphConversionOptions {
  /** Nodes (or `node:k` tensors) to output, in this order (default: the model's outputs). */
  outputs?: string[];
  /** producer_name of the ModelProto (default 'graft'). */
  producer?: string;
}

/** The nodes of a graph model and which of them are computed from its inputs. */
interface GraphInfo {
  nodes: Map<string, TfNode>;
  /** Nodes that depend on a Placeholder: the ones converted to ONNX nodes. */
  dynamic: Set<string>;
}

function graphInfo(graph: tf.GraphModel): GraphInfo {
  const list = graphNodesOf(graph);
  const nodes = new Map(list.map((n) => [n.name, n]));
  const memo = new Map<string, boolean>();
  // Iterative, so a deep graph cannot overflow the stack: a node is dynamic if any input is.
  const dynamicOf = (start: string): boolean => {
    const stack = [start];
    while (stack.length) {
      const name = stack[stack.length - 1];
      if (memo.has(name)) {
        stack.pop();
        continue;
      }
      const n = nodes.get(name);
      if (!n) throw new GraftError(`graph model: node ${name} is read but not defined`);
      if (n.op === 'Placeholder') {
        memo.set(name, true);
        stack.pop();
        continue;
      }
      const pending = n.input.map(producerOf).filter((p) => !memo.has(p));
      if (pending.length) {
        stack.push(...pending);
        continue;
      }
      memo.set(
        name,
        n.input.some((i) => memo.get(producerOf(i))),
      );
      stack.pop();
    }
    return memo.get(start)!;
  };
  return { nodes, dynamic: new Set(list.filter((n) => dynamicOf(n.name)).map((n) => n.name)) };
}

const defaultOutputs = (graph: tf.GraphModel) => graph.outputs.map((o) => tensorName(o.name));

/** Nodes the outputs need, inputs first (depth-first, iterative). */
function needed(info: GraphInfo, outputs: string[]): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, 'open' | 'done'>();
  for (const out of outputs) {
    const stack: { name: string; expanded: boolean }[] = [{ name: producerOf(out), expanded: false }];
    while (stack.length) {
      const top = stack.pop()!;
      if (state.get(top.name) === 'done') continue;
      const n = info.nodes.get(top.name);
      if (!n) throw usageError(`graph model has no node ${top.name}`);
      if (top.expanded) {
        state.set(top.name, 'done');
        order.push(n);
        continue;
      }
      if (state.get(top.name) === 'open') continue;
      state.set(top.name, 'open');
      stack.push({ name: top.name, expanded: true });
      if (info.dynamic.has(n.name))
        for (const i of n.input) if (info.dynamic.has(producerOf(i))) stack.push({ name: producerOf(i), expanded: false });
    }
  }
  return order.filter((n) => info.dynamic.has(n.name));
}

/**
 * Ops of the nodes the outputs need (default: the model's) that the converter lacks, each once:
 * empty when the whole graph converts. Nodes on constants alone need none.
 */
export function missingGraphOps(graph: tf.GraphModel, outputs = defaultOutputs(graph)): string[] {
  const ops = needed(graphInfo(graph), outputs)
    .map((n) => n.op)
    .filter((op) => op !== 'Placeholder' && !hasConverter(op));
  return [...new Set(ops)];
}

/** Computed nodes (not constants, not inputs) in graph order, with their ops: the cut candidates. */
export function graphCuts(graph: tf.GraphModel): { name: string; op: string }[] {
  const { nodes, dynamic } = graphInfo(graph);
  return [...nodes.values()].filter((n) => dynamic.has(n.name) && n.op !== 'Placeholder').map((n) => ({ name: n.name, op: n.op }));
}

const ONNX_TYPE: Record<string, number> = { DT_FLOAT: FLOAT, DT_INT32: INT32 };

/** A node's output type as its attributes say (a cast's or index op's own type first, then T, dtype), float when they do not. */
const outputType = (n: TfNode) =>
  ONNX_TYPE[['DstT', 'output_type', 'out_type', 'T', 'dtype'].map((k) => attrType(n, k)).find((t) => t !== undefined) ?? 'DT_FLOAT'] ??
  FLOAT;

/**
 * The graph model as a serialized ONNX ModelProto (IR 8, opset 13), computing what TF.js computes
 * for each output. Inputs keep their names and TF's shapes, the batch dimension left free.
 * Throws a usage error naming the first node whose op (or form of it) the converter lacks.
 */
export function graphModelToOnnx(graph: tf.GraphModel, options: GraphConversionOptions = {}): Uint8Array {
  const info = graphInfo(graph);
  const outputs = options.outputs ?? defaultOutputs(graph);
  const order = needed(info, outputs);
  const g = new GraphBuilder();
  for (const n of info.nodes.values()) g.reserve(n.name);
  const weights = graph.weights;
  const constants = new Map<string, Constant>();
  const materialised = new Set<string>();
  const twins = new Map<string, string>();
  let feed: tf.NamedTensorMap | undefined;

  /** A tensor of constants: a Const's weight, or a node on constants evaluated by TF.js. */
  const constantOf = (input: string): Constant | undefined => {
    const name = tensorName(input);
    if (info.dynamic.has(producerOf(input))) return undefined;
    let known = constants.get(name);
    if (known) return known;
    const node = info.nodes.get(producerOf(input))!;
    let t: tf.Tensor;
    if (node.op === 'Const') {
      const held = weights[node.name]?.[0];
      if (!held) throw usageError(`graph model: constant ${node.name} has no value in the weights`);
      t = held;
    } else {
      // Fed with zeros: the node does not read them, but TF.js asks for every input.
      feed ??= Object.fromEntries(
        graph.inputs.map((i) => [
          i.name,
          tf.zeros(
            (i.shape ?? []).map((d) => (d > 0 ? d : 1)),
            i.dtype,
          ),
        ]),
      );
      t = graph.execute(feed, name) as tf.Tensor;
    }
    if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool')
      throw usageError(`cannot convert graph node ${node.name} (${node.op}) to ONNX: a ${t.dtype} constant`);
    known = { values: t.dataSync() as Constant['values'], shape: t.shape, dtype: t.dtype };
    if (node.op !== 'Const') t.dispose();
    constants.set(name, known);
    return known;
  };

  const tensor = (input: string): string => {
    const name = tensorName(input);
    const k = constantOf(input);
    if (!k) return name;
    if (!materialised.has(name)) {
      if (k.dtype === 'bool') throw usageError(`cannot convert graph constant ${name} to ONNX: a bool tensor`);
      const onnxName = g.claim(name);
      g.initializers.push(
        k.dtype === 'float32' ? floatTensor(onnxName, k.shape, k.values as Float32Array) : int32Tensor(onnxName, k.shape, k.values),
      );
      materialised.add(name);
    }
    return name;
  };

  const graphInputs: ValueInfoProto[] = [];
  try {
    for (const n of order) {
      if (n.op === 'Placeholder') {
        const shape = attrShape(n, 'shape').map((d, i) => (i === 0 || d < 0 ? null : d));
        graphInputs.push(valueInfo(g.claim(n.name), outputType(n), shape));
        continue;
      }
      const convert = GRAPH_OPS[n.op];
      if (!convert) throw usageError(`cannot convert graph node ${n.name} (${n.op}) to ONNX: no converter for ${n.op}`);
      g.scope = n.name;
      const outName = (k: number) => g.claim(k === 0 ? n.name : `${n.name}:${k}`);
      const c: OpContext = {
        node: n,
        g,
        input: (i) => tensor(n.input[i]),
        constant: (i) => constantOf(n.input[i]),
        required: (i, what) => {
          const k = constantOf(n.input[i]);
          if (!k)
            throw usageError(`cannot convert graph node ${n.name} (${n.op}) to ONNX: ${what} is computed from the input, not a constant`);
          return k;
        },
        nchw: (i) => {
          const x = tensor(n.input[i]);
          let twin = twins.get(x);
          if (!twin) {
            twin = g.fresh(`${x}/nchw`);
            g.nodes.push(node('Transpose', [x], [twin], twin, { perm: ints(TO_NCHW) }));
            twins.set(x, twin);
          }
          return twin;
        },
        emit: (opType, inputs, attrs = {}, k = 0) => {
          const out = outName(k);
          g.nodes.push(node(opType, inputs, [out], out, attrs));
        },
        emitFromNchw: (nchw) => {
          const out = outName(0);
          g.nodes.push(node('Transpose', [nchw], [out], out, { perm: ints(TO_NHWC) }));
          twins.set(out, nchw);
        },
        emitAll: (opType, inputs, count, attrs = {}) => {
          const outs = Array.from({ length: count }, (_, k) => outName(k));
          g.nodes.push(node(opType, inputs, outs, outs[0], attrs));
        },
      };
      convert(c);
    }
  } finally {
    if (feed) tf.dispose(Object.values(feed));
  }
  const graphOutputs = outputs.map((o) => {
    const name = tensorName(o);
    const n = info.nodes.get(producerOf(o))!;
    if (!info.dynamic.has(n.name)) throw usageError(`graph output ${o} is a constant, not computed from the input`);
    return { name, type: { tensorType: { elemType: outputType(n) } } };
  });
  return encodeModel(
    { name: 'graph-model', node: g.nodes, initializer: g.initializers, input: graphInputs, output: graphOutputs },
    options.producer ?? 'graft',
    GRAFT_VERSION,
  );
}

// A frozen TF.js graph model as an ONNX base: converted once (onnx/tfjs-graph/) and from there
// run, cut, cached, saved and exported like any ONNX model. Its cuts are the graph's own node
// names (every node computed from the image), not the helper tensors the conversion adds.
import type * as tf from '@tensorflow/tfjs';
import type { OnnxSessionOptions } from '../../backend/onnx-runtime.js';
import { appendPyramidJoins, type PyramidJoin } from '../../onnx/pyramid.js';
import { graphCuts, graphModelToOnnx } from '../../onnx/tfjs-graph/index.js';
import type { OnnxBase } from '../types.js';
import { onnxBaseFromBytes, type OnnxPreprocessing } from './onnx.js';

export interface GraphOnnxOptions extends OnnxPreprocessing, OnnxSessionOptions {
  /** What `rank --cuts blocks` scores (default: the suggested cut). */
  blockCuts?: string[];
  /** Maps of several strides joined into one (`onnx/pyramid.ts`), offered as cuts after the graph's own nodes. */
  joins?: readonly PyramidJoin[];
}

/** `graph` on ONNX Runtime; the caller has checked that every op it computes has a converter. */
export async function graphOnnxBase(name: string, graph: tf.GraphModel, options: GraphOnnxOptions = {}): Promise<OnnxBase> {
  const { blockCuts, joins = [], ...pre } = options;
  const bytes = appendPyramidJoins(graphModelToOnnx(graph, { producer: 'graft (TF.js graph model)' }), joins);
  const suggested = pre.cut ?? graph.outputs[0].name.replace(/:0$/, '');
  const base = await onnxBaseFromBytes(bytes, name, { ...pre, cut: suggested });
  const cuts = [
    ...graphCuts(graph),
    ...joins.map((j) => ({ name: j.name, op: `Concat (strides ${j.levels.map((l) => l.stride).join(', ')} at ${j.stride})` })),
  ];
  return {
    ...base,
    name,
    onnx: {
      ...base.onnx,
      tensors: cuts.map((c) => c.name),
      ops: new Map(cuts.map((c) => [c.name, c.op])),
      blockCuts: blockCuts ?? [suggested],
    },
    provenance: `TF.js GraphModel loaded from ${name}, converted to ONNX (${cuts.length} nodes) and run frozen on ONNX Runtime`,
  };
}

// Tiny TF.js graph models built in memory, one op (or a few) at a time, spelled as
// tensorflowjs_converter writes GraphDef JSON: for checking the graph-model → ONNX converter op by
// op against TF.js itself.
import * as tf from '@tensorflow/tfjs';

type Attr = Record<string, unknown>;
export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Attribute values in GraphDef JSON. */
export const A = {
  s: (v: string) => ({ s: b64(v) }),
  ss: (v: string[]) => ({ list: { s: v.map(b64) } }),
  i: (v: number) => ({ i: String(v) }),
  is: (v: number[]) => ({ list: { i: v.map(String) } }),
  f: (v: number) => ({ f: v }),
  b: (v: boolean) => ({ b: v }),
  type: (v: string) => ({ type: v }),
};

const DTYPES = { float32: 'DT_FLOAT', int32: 'DT_INT32' } as const;

/**
 * A GraphModel with one float input `x` of `shape` (-1 for a free dimension), constants `consts`
 * (Const nodes, by name) and `nodes`.
 */
export async function buildGraph(shape: number[], consts: Record<string, tf.Tensor>, nodes: NodeDef[]): Promise<tf.GraphModel> {
  const dim = (s: number[]) => ({ dim: s.map((d) => ({ size: String(d) })) });
  const constNodes = Object.entries(consts).map(([name, t]) => {
    const dtype = DTYPES[t.dtype as keyof typeof DTYPES];
    return { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: dim(t.shape) } }, dtype: { type: dtype } } };
  });
  const input = { name: 'x', op: 'Placeholder', attr: { dtype: A.type('DT_FLOAT'), shape: { shape: dim(shape) } } };
  const withT = nodes.map((n) => ({ input: [], ...n, attr: { T: A.type('DT_FLOAT'), ...n.attr } }));
  const { data, specs } = await tf.io.encodeWeights(consts);
  const artifacts: tf.io.ModelArtifacts = {
    format: 'graph-model',
    modelTopology: { node: [input, ...constNodes, ...withT], library: {}, versions: {} },
    weightSpecs: specs,
    weightData: data,
  };
  return tf.loadGraphModel(tf.io.fromMemory(artifacts));
}

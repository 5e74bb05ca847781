// The graph-model → ONNX converter, op by op: each tiny graph runs in TF.js and, converted, on ONNX
// Runtime, and the two agree within 1e-4.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createOnnxSession } from '../src/backend/onnx-runtime.js';
import { mulberry32 } from '../src/math/random.js';
import { graphBase } from '../src/bases/image/tfjs.js';
import { graphCuts, graphModelToOnnx, missingGraphOps } from '../src/onnx/tfjs-graph/index.js';
import { A, buildGraph, type NodeDef } from './tfjs-graph-builder.js';

const TOLERANCE = 1e-4;

function random(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale),
    shape,
  );
}
const ints = (v: number[], shape = [v.length]) => tf.tensor(v, shape, 'int32');

/** Largest difference between TF.js and ONNX Runtime on `output` for a random batch of 2. */
async function compare(shape: number[], consts: Record<string, tf.Tensor>, nodes: NodeDef[], output = nodes[nodes.length - 1].name) {
  const graph = await buildGraph(shape, consts, nodes);
  const dims = shape.map((d) => (d < 0 ? 2 : d));
  const x = random(dims, 11);
  const expected = graph.execute(x, output) as tf.Tensor;
  const session = await createOnnxSession(graphModelToOnnx(graph, { outputs: [output] }));
  try {
    const got = (await session.run({ x: { type: 'float32', data: x.dataSync() as Float32Array, dims } })).get(output.replace(/:0$/, ''))!;
    assert.deepEqual(got.dims, expected.shape, `${output}: shape`);
    const want = expected.dataSync();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got.data[i]));
    assert.ok(worst <= TOLERANCE, `${output}: max difference ${worst}`);
    return worst;
  } finally {
    await session.release();
    tf.dispose([x, expected]);
    graph.dispose();
  }
}

const ones4 = A.is([1, 1, 1, 1]);
const conv = (name: string, op: string, input: string[], attr: Record<string, unknown>): NodeDef => ({
  name,
  op,
  input,
  attr: { strides: ones4, dilations: ones4, padding: A.s('SAME'), data_format: A.s('NHWC'), ...attr },
});

describe('graph-model ops on ONNX Runtime equal TF.js', () => {
  const worst: Record<string, number> = {};
  before(async () => {
    await tf.setBackend('cpu');
  });
  const check = (name: string, run: () => Promise<number>) =>
    test(name, async (t) => {
      worst[name] = await run();
      t.diagnostic(`max |TF.js - ONNX| ${worst[name].toExponential(2)}`);
    });

  const k33 = { k: random([3, 3, 3, 5], 1) };
  check('Conv2D: SAME (odd size, stride 2), VALID, EXPLICIT, dilated', async () => {
    const w = await Promise.all([
      compare([-1, 9, 9, 3], k33, [conv('y', 'Conv2D', ['x', 'k'], { strides: A.is([1, 2, 2, 1]) })]),
      compare([-1, 8, 7, 3], k33, [conv('y', 'Conv2D', ['x', 'k'], { padding: A.s('VALID') })]),
      compare([-1, 8, 8, 3], k33, [
        conv('y', 'Conv2D', ['x', 'k'], { padding: A.s('EXPLICIT'), explicit_paddings: A.is([0, 0, 1, 2, 0, 1, 0, 0]) }),
      ]),
      compare([-1, 9, 9, 3], k33, [conv('y', 'Conv2D', ['x', 'k'], { padding: A.s('VALID'), dilations: A.is([1, 2, 2, 1]) })]),
    ]);
    return Math.max(...w);
  });

  const fused = (ops: string[], extra: Record<string, unknown> = {}, args = ['b']): NodeDef =>
    conv('y', '_FusedConv2D', ['x', 'k', ...args], { fused_ops: A.ss(ops), num_args: A.i(args.length), epsilon: A.f(0), ...extra });
  check('_FusedConv2D: BiasAdd with none, Relu, Relu6, LeakyRelu, Prelu, Sigmoid', async () => {
    const consts = { ...k33, b: random([5], 2), alpha: random([5], 3) };
    const w = await Promise.all([
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd'])]),
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd', 'Relu'])]),
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd', 'Relu6'])]),
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd', 'LeakyRelu'], { leakyrelu_alpha: A.f(0.1) })]),
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd', 'Prelu'], {}, ['b', 'alpha'])]),
      compare([-1, 8, 8, 3], consts, [fused(['BiasAdd', 'Sigmoid'])]),
    ]);
    return Math.max(...w);
  });

  check('DepthwiseConv2dNative (multiplier 2, stride 2) and FusedDepthwiseConv2dNative (BiasAdd, Relu6)', async () => {
    const consts = { k: random([3, 3, 4, 2], 4), b: random([8], 5) };
    const w = await Promise.all([
      compare([-1, 9, 9, 4], consts, [conv('y', 'DepthwiseConv2dNative', ['x', 'k'], { strides: A.is([1, 2, 2, 1]) })]),
      compare([-1, 8, 8, 4], consts, [
        conv('y', 'FusedDepthwiseConv2dNative', ['x', 'k', 'b'], { fused_ops: A.ss(['BiasAdd', 'Relu6']), num_args: A.i(1) }),
      ]),
    ]);
    return Math.max(...w);
  });

  check('MatMul (transposed either side), _FusedMatMul (BiasAdd, Relu), BatchMatMulV2, FusedBatchNormV3', async () => {
    const w = await Promise.all([
      compare([-1, 6], { w: random([6, 4], 31) }, [{ name: 'y', op: 'MatMul', input: ['x', 'w'] }]),
      compare([-1, 6], { w: random([4, 6], 32) }, [{ name: 'y', op: 'MatMul', input: ['x', 'w'], attr: { transpose_b: A.b(true) } }]),
      compare([2, 6], { w: random([2, 4], 33) }, [{ name: 'y', op: 'MatMul', input: ['x', 'w'], attr: { transpose_a: A.b(true) } }]),
      compare([-1, 6], { w: random([6, 4], 34), b: random([4], 35) }, [
        {
          name: 'y',
          op: '_FusedMatMul',
          input: ['x', 'w', 'b'],
          attr: { fused_ops: A.ss(['BiasAdd', 'Relu']), num_args: A.i(1), epsilon: A.f(0) },
        },
      ]),
      compare([-1, 3, 6], { w: random([6, 5], 36) }, [{ name: 'y', op: 'BatchMatMulV2', input: ['x', 'w'] }]),
      compare([-1, 4, 4, 3], { s: random([3], 37), o: random([3], 38), m: random([3], 39), v: tf.abs(random([3], 40)) }, [
        {
          name: 'y',
          op: 'FusedBatchNormV3',
          input: ['x', 's', 'o', 'm', 'v'],
          attr: { epsilon: A.f(0.001), data_format: A.s('NHWC'), is_training: A.b(false) },
        },
      ]),
    ]);
    return Math.max(...w);
  });

  check('MaxPool and AvgPool (SAME at the edges, VALID)', async () => {
    const pool = (op: string, padding: string): NodeDef => ({
      name: 'y',
      op,
      input: ['x'],
      attr: { ksize: A.is([1, 3, 3, 1]), strides: A.is([1, 2, 2, 1]), padding: A.s(padding), data_format: A.s('NHWC') },
    });
    const w = await Promise.all(
      ['MaxPool', 'AvgPool'].flatMap((op) => ['SAME', 'VALID'].map((p) => compare([-1, 8, 9, 3], {}, [pool(op, p)]))),
    );
    return Math.max(...w);
  });

  check('Add, AddV2, BiasAdd, Sub, Mul, RealDiv, Maximum, Minimum, SquaredDifference, AddN; hard-swish as TF writes it', async () => {
    const consts = { c: random([3], 6), three: tf.scalar(3), sixth: tf.scalar(1 / 6) };
    const binary = (op: string, other = 'c') => compare([-1, 4, 4, 3], consts, [{ name: 'y', op, input: ['x', other] }]);
    const w = await Promise.all([
      ...['Add', 'AddV2', 'BiasAdd', 'Sub', 'Mul', 'Maximum', 'Minimum', 'SquaredDifference'].map((op) => binary(op)),
      compare([-1, 4, 4, 3], consts, [
        { name: 'sq', op: 'Square', input: ['x'] },
        { name: 'pos', op: 'AddV2', input: ['sq', 'three'] },
        { name: 'y', op: 'RealDiv', input: ['x', 'pos'] },
      ]),
      compare([-1, 4, 4, 3], consts, [{ name: 'y', op: 'AddN', input: ['x', 'x', 'x'], attr: { N: A.i(3) } }]),
      compare([-1, 4, 4, 3], consts, [
        { name: 'plus3', op: 'AddV2', input: ['x', 'three'] },
        { name: 'r6', op: 'Relu6', input: ['plus3'] },
        { name: 'xr6', op: 'Mul', input: ['x', 'r6'] },
        { name: 'y', op: 'Mul', input: ['xr6', 'sixth'] },
      ]),
    ]);
    return Math.max(...w);
  });

  check('Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Elu, Selu, Softplus, Prelu, Neg, Abs, Exp, Rsqrt, Sqrt, Floor, Identity', async () => {
    const unary = (op: string, attr: Record<string, unknown> = {}) =>
      compare([-1, 3, 3, 4], { a: random([4], 8) }, [
        { name: 'big', op: 'Mul', input: ['x', 'x'] },
        { name: 'y', op, input: op === 'Rsqrt' || op === 'Sqrt' ? ['big'] : op === 'Prelu' ? ['x', 'a'] : ['x'], attr },
      ]);
    const ops = ['Relu', 'Relu6', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softplus', 'Prelu', 'Neg', 'Abs', 'Exp', 'Sqrt', 'Floor', 'Identity'];
    const w = await Promise.all([...ops.map((op) => unary(op)), unary('LeakyRelu', { alpha: A.f(0.1) })]);
    // Rsqrt near 0 is large: compared relative to its size.
    const rsqrt = await compare([-1, 3, 3, 4], { one: tf.scalar(1) }, [
      { name: 'sq', op: 'Square', input: ['x'] },
      { name: 'pos', op: 'AddV2', input: ['sq', 'one'] },
      { name: 'y', op: 'Rsqrt', input: ['pos'] },
    ]);
    return Math.max(...w, rsqrt);
  });

  check('Mean, Max, Min, Sum (keep_dims either way), Softmax, ArgMax (then Cast)', async () => {
    const r = (op: string, keep: boolean, axes: number[]) =>
      compare([-1, 4, 5, 3], { axes: ints(axes) }, [
        { name: 'y', op, input: ['x', 'axes'], attr: { keep_dims: A.b(keep), Tidx: A.type('DT_INT32') } },
      ]);
    const w = await Promise.all([
      r('Mean', false, [1, 2]),
      r('Mean', true, [1, 2]),
      r('Max', false, [-1]),
      r('Min', true, [2]),
      r('Sum', false, [1, 3]),
      compare([-1, 4, 5, 3], {}, [{ name: 'y', op: 'Softmax', input: ['x'] }]),
      compare([-1, 4, 5, 3], { axis: tf.scalar(-1, 'int32') }, [
        { name: 'i', op: 'ArgMax', input: ['x', 'axis'], attr: { output_type: A.type('DT_INT32') } },
        { name: 'y', op: 'Cast', input: ['i'], attr: { SrcT: A.type('DT_INT32'), DstT: A.type('DT_FLOAT') } },
      ]),
    ]);
    return Math.max(...w);
  });

  check('ConcatV2, Reshape, Transpose, Pad, PadV2, MirrorPad, Squeeze, ExpandDims, Pack, GatherV2', async () => {
    const w = await Promise.all([
      compare([-1, 4, 4, 3], { axis: tf.scalar(-1, 'int32') }, [
        { name: 'y', op: 'ConcatV2', input: ['x', 'x', 'axis'], attr: { N: A.i(2) } },
      ]),
      compare([-1, 4, 4, 3], { shape: ints([-1, 16, 3]) }, [{ name: 'y', op: 'Reshape', input: ['x', 'shape'] }]),
      compare([-1, 4, 5, 3], { perm: ints([0, 3, 1, 2]) }, [{ name: 'y', op: 'Transpose', input: ['x', 'perm'] }]),
      compare([-1, 4, 5, 3], { p: ints([0, 0, 1, 2, 2, 1, 0, 0], [4, 2]) }, [{ name: 'y', op: 'Pad', input: ['x', 'p'] }]),
      compare([-1, 4, 5, 3], { p: ints([0, 0, 1, 1, 1, 1, 0, 0], [4, 2]), v: tf.scalar(-5) }, [
        { name: 'y', op: 'PadV2', input: ['x', 'p', 'v'] },
      ]),
      compare([-1, 4, 5, 3], { p: ints([0, 0, 2, 1, 1, 2, 0, 0], [4, 2]) }, [
        { name: 'y', op: 'MirrorPad', input: ['x', 'p'], attr: { mode: A.s('REFLECT') } },
      ]),
      compare([-1, 1, 5, 3], {}, [{ name: 'y', op: 'Squeeze', input: ['x'], attr: { squeeze_dims: A.is([1]) } }]),
      compare([-1, 4, 5, 3], { axis: tf.scalar(-1, 'int32') }, [{ name: 'y', op: 'ExpandDims', input: ['x', 'axis'] }]),
      compare([-1, 4, 5, 3], {}, [{ name: 'y', op: 'Pack', input: ['x', 'x'], attr: { axis: A.i(1), N: A.i(2) } }]),
      compare([-1, 4, 5, 3], { idx: ints([3, 0, 3]), axis: tf.scalar(2, 'int32') }, [
        { name: 'y', op: 'GatherV2', input: ['x', 'idx', 'axis'], attr: { batch_dims: A.i(0), Tindices: A.type('DT_INT32') } },
      ]),
    ]);
    return Math.max(...w);
  });

  check('Split, SplitV (second outputs as node:1), StridedSlice (masks, shrink, negative stride), Slice', async () => {
    const ss = (begin: number[], end: number[], strides: number[], masks: Record<string, number>) =>
      compare([-1, 6, 7, 3], { b: ints(begin), e: ints(end), s: ints(strides) }, [
        {
          name: 'y',
          op: 'StridedSlice',
          input: ['x', 'b', 'e', 's'],
          attr: Object.fromEntries(
            ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map((k) => [k, A.i(masks[k] ?? 0)]),
          ),
        },
      ]);
    const w = await Promise.all([
      compare(
        [-1, 4, 4, 6],
        { axis: tf.scalar(3, 'int32') },
        [{ name: 'y', op: 'Split', input: ['axis', 'x'], attr: { num_split: A.i(3) } }],
        'y:1',
      ),
      compare([-1, 4, 4, 6], { sizes: ints([2, 4]), axis: tf.scalar(-1, 'int32') }, [
        { name: 'y', op: 'SplitV', input: ['x', 'sizes', 'axis'], attr: { num_split: A.i(2) } },
        { name: 'z', op: 'Sigmoid', input: ['y:1'] },
      ]),
      ss([0, 1, 2, 0], [0, 5, -1, 2], [1, 2, 1, 1], { begin_mask: 1, end_mask: 1 }),
      // Shrinking with a stride of 2 elsewhere, or at begin -1, TF.js 4.22's cpu kernel gets wrong
      // (x[:, 2, ::2, 1] comes out as x's first elements); TF's meaning is what ONNX computes.
      ss([0, 2, 1, 1], [0, 3, 6, 2], [1, 1, 1, 1], { begin_mask: 1, end_mask: 1, shrink_axis_mask: 2 | 8 }),
      ss([0, 5, 0, 0], [0, 0, 0, 0], [1, -2, 1, 1], { begin_mask: 1 | 4 | 8, end_mask: 1 | 4 | 8 }),
      compare([-1, 6, 7, 3], { b: ints([0, 1, 2, 0]), s: ints([-1, 3, -1, 2]) }, [{ name: 'y', op: 'Slice', input: ['x', 'b', 's'] }]),
    ]);
    return Math.max(...w);
  });

  check('ResizeBilinear and ResizeNearestNeighbor: half-pixel centres, aligned corners, neither; up and down', async () => {
    const resize = (op: string, size: number[], flags: { half?: boolean; align?: boolean }) =>
      compare([-1, 5, 6, 3], { size: ints(size) }, [
        { name: 'y', op, input: ['x', 'size'], attr: { half_pixel_centers: A.b(!!flags.half), align_corners: A.b(!!flags.align) } },
      ]);
    const w = await Promise.all(
      ['ResizeBilinear', 'ResizeNearestNeighbor'].flatMap((op) =>
        [
          [10, 12],
          [3, 4],
          [7, 5],
        ].flatMap((size) => [{ half: true }, { align: true }, {}].map((f) => resize(op, size, f))),
      ),
    );
    return Math.max(...w);
  });

  check('nodes computed from constants alone are folded by TF.js (a Reshape whose shape is arithmetic)', async () => {
    const consts = { a: ints([-1, 6, 3]), b: ints([0, 2, 0]) };
    return compare([-1, 4, 4, 3], consts, [
      { name: 'shape', op: 'AddV2', input: ['a', 'b'], attr: { T: A.type('DT_INT32') } },
      { name: 'y', op: 'Reshape', input: ['x', 'shape'] },
    ]);
  });

  test('an int32 output (ArgMax: its output_type, not its input T) is declared int32, so ONNX Runtime loads and runs it', async () => {
    const graph = await buildGraph([-1, 4, 3], { axis: tf.scalar(1, 'int32') }, [
      { name: 'y', op: 'ArgMax', input: ['x', 'axis'], attr: { output_type: A.type('DT_INT32') } },
    ]);
    const session = await createOnnxSession(graphModelToOnnx(graph, { outputs: ['y'] }));
    const x = random([2, 4, 3], 41);
    // graft's sessions hand back float outputs only: the run succeeding is what is checked.
    assert.equal((await session.run({ x: { type: 'float32', data: x.dataSync() as Float32Array, dims: [2, 4, 3] } })).size, 0);
    await session.release();
    tf.dispose(x);
    graph.dispose();
  });

  test('an op without a converter is named: missingGraphOps lists it, the conversion refuses', async () => {
    const graph = await buildGraph([-1, 4, 4, 3], {}, [
      { name: 'r', op: 'Relu', input: ['x'] },
      { name: 'y', op: 'Cumprod', input: ['r'] },
    ]);
    assert.deepEqual(missingGraphOps(graph, ['y']), ['Cumprod']);
    assert.deepEqual(missingGraphOps(graph, ['r']), []);
    assert.throws(() => graphModelToOnnx(graph, { outputs: ['y'] }), /graph node y \(Cumprod\).*no converter for Cumprod/);
    assert.deepEqual(graphCuts(graph), [
      { name: 'r', op: 'Relu' },
      { name: 'y', op: 'Cumprod' },
    ]);
    graph.dispose();
  });
});

describe('graph-model bases', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  test('run on ONNX Runtime cut at any inner node, equal to TF.js there', async () => {
    const consts = { k: random([3, 3, 3, 4], 21), b: random([4], 22), axes: ints([1, 2]) };
    const nodes: NodeDef[] = [
      conv('conv', '_FusedConv2D', ['x', 'k', 'b'], { fused_ops: A.ss(['BiasAdd', 'Relu']), num_args: A.i(1) }),
      { name: 'pool', op: 'Mean', input: ['conv', 'axes'], attr: { keep_dims: A.b(false) } },
      { name: 'features', op: 'Identity', input: ['pool'] },
    ];
    const graph = await buildGraph([-1, 8, 8, 3], consts, nodes);
    const base = await graphBase('tiny-graph', graph);
    assert.equal(base.kind, 'onnx');
    if (base.kind !== 'onnx') return;
    assert.deepEqual(base.onnx.tensors, ['conv', 'pool', 'features']);
    assert.equal(base.onnx.ops.get('conv'), '_FusedConv2D');
    assert.equal(base.suggestedCut, 'features');
    assert.match(base.provenance, /converted to ONNX .* on ONNX Runtime/);
    const x = random([2, 8, 8, 3], 23);
    const trunk = await base.frozenTrunk('conv');
    try {
      const got = await trunk.predict(x);
      const want = graph.execute(x, 'conv') as tf.Tensor;
      assert.deepEqual(got.shape, [2, 8, 8, 4]);
      assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] <= TOLERANCE);
      tf.dispose([got, want]);
    } finally {
      await trunk.release?.();
      x.dispose();
      graph.dispose();
    }
  });

  test('stay on TF.js when an op has no converter, and say which', async () => {
    const graph = await buildGraph([-1, 4, 4, 3], {}, [{ name: 'y', op: 'Cumprod', input: ['x'] }]);
    const base = await graphBase('odd-graph', graph);
    assert.equal(base.kind, 'graph');
    assert.match(base.provenance, /stays on TF\.js: no ONNX converter for Cumprod/);
    graph.dispose();
  });
});

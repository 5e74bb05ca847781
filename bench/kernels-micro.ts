// Micro-benchmarks for single wasm kernels (graft's vs alternatives / wasm's originals).
//   npx tsx bench/kernels-micro.ts
// wasm kernels run synchronously, so a call's wall time is its cost; inputs are re-created (outside
// the timed region) for every repetition, because XNNPACK caches packed weights per tensor id and a
// training step always sees fresh gradients.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from '../src/backend/kernels/index.js';

export function timeIt(label: string, setup: () => tf.Tensor[], fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[], reps = 7): number {
  const once = (): number => {
    const xs = setup();
    const t0 = performance.now();
    const r = fn(...xs);
    const dt = performance.now() - t0;
    tf.dispose(r);
    tf.dispose(xs);
    return dt;
  };
  once();
  const ts = Array.from({ length: reps }, once).sort((a, b) => a - b);
  const med = ts[Math.floor(ts.length / 2)];
  console.log(`${label.padEnd(72)} ${med.toFixed(2).padStart(8)} ms`);
  return med;
}

const u = (shape: number[]) => () => [tf.randomUniform(shape)];
const u2 = (a: number[], b: number[]) => () => [tf.randomUniform(a), tf.randomUniform(b)];

if (import.meta.url === `file://${process.argv[1]}`) {
  await useBackend('wasm');
  const e = tf.engine();
  const filterGrad =
    (fs: number[], s = 1, pad = 'valid') =>
    (x: tf.Tensor, dy: tf.Tensor) =>
      e.runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad, dataFormat: 'NHWC', filterShape: fs }) as tf.Tensor;
  const inputGrad =
    (xs: number[], s = 1, pad = 'valid') =>
    (dy: tf.Tensor, filter: tf.Tensor) =>
      e.runKernel('Conv2DBackpropInput', { dy, filter }, { strides: s, pad, dataFormat: 'NHWC', inputShape: xs }) as tf.Tensor;
  const dwFilterGrad =
    (fs: number[], s = 1, pad = 'same') =>
    (x: tf.Tensor, dy: tf.Tensor) =>
      e.runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: s, pad, dilations: 1, filterShape: fs }) as tf.Tensor;
  const dwInputGrad =
    (xs: number[], s = 1, pad = 'same') =>
    (dy: tf.Tensor, filter: tf.Tensor) =>
      e.runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { strides: s, pad, dilations: 1, inputShape: xs }) as tf.Tensor;

  console.log('# Keras MNIST CNN, batch 128');
  timeIt('Conv2D fwd conv2 x[128,26,26,32] w[3,3,32,32]', u2([128, 26, 26, 32], [3, 3, 32, 32]), (x, w) =>
    tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'),
  );
  timeIt('Conv2DBackpropFilter conv1 x[128,28,28,1] dy[128,26,26,32]', u2([128, 28, 28, 1], [128, 26, 26, 32]), filterGrad([3, 3, 1, 32]));
  timeIt(
    'Conv2DBackpropFilter conv2 x[128,26,26,32] dy[128,24,24,32]',
    u2([128, 26, 26, 32], [128, 24, 24, 32]),
    filterGrad([3, 3, 32, 32]),
  );
  const bi = (label: string) => {
    timeIt(
      `Conv2DBackpropInput (${label}) dy[128,24,24,32] w[3,3,32,32]`,
      u2([128, 24, 24, 32], [3, 3, 32, 32]),
      inputGrad([128, 26, 26, 32]),
    );
    timeIt(
      `Conv2DBackpropInput (${label}) s2 dy[32,28,28,64] w[3,3,32,64] same`,
      u2([32, 28, 28, 64], [3, 3, 32, 64]),
      inputGrad([32, 56, 56, 32], 2, 'same'),
    );
    timeIt(`BatchMatMul (${label}) dy[128,128]·W[4608,128]ᵀ`, u2([128, 128], [4608, 128]), (a, b) => tf.matMul(a, b, false, true));
    timeIt(`BatchMatMul (${label}) x[128,4608]ᵀ·dy[128,128]`, u2([128, 4608], [128, 128]), (a, b) => tf.matMul(a, b, true, false));
    timeIt(`BatchMatMul (${label}) dy[128,5]·W[128,5]ᵀ`, u2([128, 5], [128, 5]), (a, b) => tf.matMul(a, b, false, true));
    timeIt(`BatchMatMul (${label}) h[128,128]ᵀ·dy[128,5]`, u2([128, 128], [128, 5]), (a, b) => tf.matMul(a, b, true, false));
    const pool = () => {
      const x = tf.randomUniform([128, 24, 24, 32]);
      return [x, tf.randomUniform([128, 12, 12, 32]), tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid')];
    };
    timeIt(
      `MaxPoolGrad (${label}) 2x2 x[128,24,24,32]`,
      pool,
      (x, dy, y) => e.runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor,
    );
    timeIt(`Sum (${label}) axes [0,1,2] of [128,24,24,32] (bias grad)`, u([128, 24, 24, 32]), (x) => tf.sum(x, [0, 1, 2]));
  };
  bi('graft');
  unregisterWasmTrainingKernels({ onlyReplaced: true });
  bi('wasm original');
  registerWasmTrainingKernels();

  console.log('# MobileNetV2-like depthwise layers, batch 32');
  timeIt('DepthwiseConv2dNative fwd x[32,56,56,144] 3x3 s1', u2([32, 56, 56, 144], [3, 3, 144, 1]), (x, w) =>
    tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
  );
  timeIt('DepthwiseConv2dNativeBackpropFilter x[32,56,56,144] s1', u2([32, 56, 56, 144], [32, 56, 56, 144]), dwFilterGrad([3, 3, 144, 1]));
  timeIt(
    'DepthwiseConv2dNativeBackpropFilter x[32,56,56,144] s2',
    u2([32, 56, 56, 144], [32, 28, 28, 144]),
    dwFilterGrad([3, 3, 144, 1], 2),
  );
  timeIt('DepthwiseConv2dNativeBackpropInput dy[32,56,56,144] s1', u2([32, 56, 56, 144], [3, 3, 144, 1]), dwInputGrad([32, 56, 56, 144]));
  timeIt(
    'DepthwiseConv2dNativeBackpropInput dy[32,28,28,144] s2',
    u2([32, 28, 28, 144], [3, 3, 144, 1]),
    dwInputGrad([32, 56, 56, 144], 2),
  );
  timeIt('DepthwiseConv2dNativeBackpropFilter x[32,7,7,960] s1', u2([32, 7, 7, 960], [32, 7, 7, 960]), dwFilterGrad([3, 3, 960, 1]));
}

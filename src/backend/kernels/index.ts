// graft's training kernels for the TF.js wasm backend.
//
// tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
// DepthwiseConv2dNativeBackpropInput or UnsortedSegmentSum, so it cannot train conv nets (or
// embeddings) at all. Each is added here, built from wasm's own fast kernels (XNNPACK Conv2D /
// DepthwiseConv2dNative / matmul, Transpose, PadV2, Reverse, Sum, ScatterNd), called directly
// through their kernelFuncs with every intermediate freed (see exec.ts); the two places where no
// combination of wasm kernels was fast enough (depthwise filter gradients of large images, max-pool
// gradients) are single JavaScript passes over the wasm heap. Derivations: conv.ts, segment.ts,
// pool.ts, reduce.ts, matmul.ts.
//
// Four existing wasm kernels are *replaced* because they dominated a training step, each only after
// measuring that the replacement is faster: single thread, this machine (2-core Xeon, Node 20),
// `npx tsx bench/kernels-micro.ts`, fresh inputs per call, median ms of 7 (wasm original -> graft):
//   Conv2DBackpropInput dy[128,24,24,32] w[3,3,32,32] (MNIST CNN conv2)   460  -> 46   (conv.ts)
//                       stride 2, dy[32,28,28,64] w[3,3,32,64] 'same'      302  -> 112
//   BatchMatMul         dy[128,128]·W[4608,128]ᵀ (Dense dx)                 58  -> 8.6  (matmul.ts)
//                       x[128,4608]ᵀ·dy[128,128] (Dense dW)                 63  -> 13
//   MaxPoolGrad         2x2/2 over [128,24,24,32]                           42  -> 21   (pool.ts)
//   Sum                 axes [0,1,2] of [128,24,24,32] (bias gradient)      13  -> 1.1  (reduce.ts)
// Each falls back to wasm's original for the cases it does not cover (batched matmuls, non-leading
// reductions, non-float32 data...). Whole training step of the Keras MNIST CNN (batch 128,
// `npx tsx bench/profile.ts`): 4 added kernels only 928 ms; + Conv2DBackpropInput/BatchMatMul
// 390 ms; + MaxPoolGrad/Sum and the faster filter gradients ~300 ms.
// Sources read (not copied): tensorflow/tfjs tfjs-backend-wasm/src/kernels/{Conv2D,
// Conv2DBackpropInput,BatchMatMul,ScatterNd}.ts and src/cc/{conv2d_impl,batch_mat_mul_impl}.cc,
// which showed that XNNPACK is used only for forward convs and untransposed, unbatched matmuls, and
// that XNNPACK operators are cached per filter tensor id and dropped when that tensor is disposed
// (so freshly built "filters" such as dyᵀ below cost one weight packing per call, and do not leak).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  conv2DBackpropFilter,
  conv2DBackpropInput,
  depthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropInput,
  type KernelArgs,
} from './conv.js';
import { originals } from './exec.js';
import { batchMatMul } from './matmul.js';
import { maxPoolGrad } from './pool.js';
import { sum } from './reduce.js';
import { unsortedSegmentSum } from './segment.js';

type Impl = (args: KernelArgs) => tf.TensorInfo;

/** Kernels wasm lacks; graft adds them. */
export const ADDED_KERNELS: Readonly<Record<string, Impl>> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseConv2dNativeBackpropInput,
  UnsortedSegmentSum: unsortedSegmentSum,
};

/** Kernels wasm has but runs slowly on training paths; graft replaces them (measured above). */
export const REPLACED_KERNELS: Readonly<Record<string, Impl>> = {
  Conv2DBackpropInput: conv2DBackpropInput,
  BatchMatMul: batchMatMul,
  MaxPoolGrad: maxPoolGrad,
  Sum: sum,
};

const ours = new Set<tf.KernelFunc>();

function isOurs(name: string): boolean {
  const k = tf.getKernel(name, 'wasm');
  return k != null && ours.has(k.kernelFunc);
}

function register(name: string, impl: Impl, setupFunc?: tf.KernelSetupFunc): void {
  const kernelFunc = impl as unknown as tf.KernelFunc;
  ours.add(kernelFunc);
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, setupFunc });
}

export interface RegisterOptions {
  /** Also replace wasm's slow Conv2DBackpropInput / BatchMatMul (default true). */
  replace?: boolean;
}

/**
 * Register graft's training kernels for 'wasm'. Idempotent: kernels already registered (by graft,
 * or natively by a future wasm backend) are left alone. Call before (or after) tf.setBackend('wasm');
 * setupFuncs of replaced kernels are kept, so the originals stay usable.
 */
export function registerWasmTrainingKernels(opts: RegisterOptions = {}): void {
  for (const [name, impl] of Object.entries(ADDED_KERNELS)) {
    if (tf.getKernel(name, 'wasm') == null) register(name, impl);
  }
  if (opts.replace === false) return;
  for (const [name, impl] of Object.entries(REPLACED_KERNELS)) {
    if (isOurs(name)) continue;
    const orig = tf.getKernel(name, 'wasm');
    if (orig == null) {
      register(name, impl);
      continue;
    }
    originals.set(name, orig);
    tf.unregisterKernel(name, 'wasm');
    register(name, impl, orig.setupFunc);
  }
}

/** Undo registerWasmTrainingKernels (restores replaced kernels); for tests and benchmarks. */
export function unregisterWasmTrainingKernels(opts: { onlyReplaced?: boolean } = {}): void {
  for (const name of Object.keys(REPLACED_KERNELS)) {
    const orig = originals.get(name);
    if (!isOurs(name)) continue;
    tf.unregisterKernel(name, 'wasm');
    if (orig != null) tf.registerKernel(orig);
  }
  if (opts.onlyReplaced === true) return;
  for (const name of Object.keys(ADDED_KERNELS)) {
    if (isOurs(name)) tf.unregisterKernel(name, 'wasm');
  }
}

/** Names of the kernels graft currently provides for wasm. */
export function graftWasmKernels(): string[] {
  return [...Object.keys(ADDED_KERNELS), ...Object.keys(REPLACED_KERNELS)].filter(isOurs);
}

// MaxPoolGrad for wasm, as one JavaScript pass over the wasm heap.
// Why not wasm kernels: wasm's own MaxPoolGrad is a scalar C++ loop that re-scans windows per
// input pixel (52 ms for the Keras MNIST CNN's 2x2 pool over [128,24,24,32], vs 1 ms for the
// forward pool), and "MaxPoolWithArgmax + ScatterNd" (21 ms) is not usable: wasm's
// MaxPoolWithArgmax returns index 0 for windows whose values are all <= 0 (it starts its running
// maximum at a positive value), which after a ReLU is every all-zero window. A direct loop that
// tracks the running max per channel (channels innermost, so reads are contiguous) and adds dy at
// the argmax is a single pass over x: 4-6 ms for the same tensor. Ties go to the first maximum in
// window scan order, like the cpu backend and TensorFlow (wasm's own kernel picks the last one).
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './conv.js';
import { type Info, originals, withScope } from './exec.js';

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

export function maxPoolGrad(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  if (input.dtype !== 'float32' || input.shape.length !== 4) {
    const orig = originals.get('MaxPoolGrad');
    if (orig == null) throw new Error('graft: original wasm MaxPoolGrad missing');
    return orig.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
  }
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as PadAttr,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
    strideHeight: sh,
    strideWidth: sw,
    effectiveFilterHeight: fh,
    effectiveFilterWidth: fw,
  } = info;
  const { top: pt, left: pl } = info.padInfo;
  return withScope(backend, (s) => {
    const out = s.alloc(input.shape, 'float32');
    // Views are taken after the allocation (which may grow, i.e. move, the wasm heap).
    const dx = backend.typedArrayFromHeap(out) as Float32Array;
    const x = backend.typedArrayFromHeap(input) as Float32Array;
    const g = backend.typedArrayFromHeap(dy) as Float32Array;
    dx.fill(0);
    for (let b = 0; b < B; b++) {
      for (let o = 0; o < OH; o++) {
        const r0 = Math.max(0, o * sh - pt);
        const r1 = Math.min(H, o * sh - pt + fh);
        for (let p = 0; p < OW; p++) {
          const q0 = Math.max(0, p * sw - pl);
          const q1 = Math.min(W, p * sw - pl + fw);
          const goff = ((b * OH + o) * OW + p) * C;
          const base = (b * H + r0) * W + q0;
          for (let c = 0; c < C; c++) {
            let bv = -Infinity;
            let bp = -1;
            for (let r = r0, rowOff = base * C + c; r < r1; r++, rowOff += W * C) {
              for (let q = q0, off = rowOff; q < q1; q++, off += C) {
                const v = x[off];
                if (v > bv) {
                  bv = v;
                  bp = off;
                }
              }
            }
            if (bp >= 0) dx[bp] += g[goff + c];
          }
        }
      }
    }
    return s.finish(out);
  });
}

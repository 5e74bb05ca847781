// Sum over leading axes, i.e. every bias gradient (dy [B,H,W,C] summed to [C]). wasm's Sum only
// reduces innermost axes, so it first transposes [N,C] -> [C,N] with a scalar strided loop (12.5 ms
// for [128,24,24,32]). A sum over leading axes is N times a global average pool with the kept axes
// as channels, and wasm's AvgPool is XNNPACK's SIMD average pooling reading x in its natural
// layout: 1.1 ms for the same tensor. Everything else goes to wasm's Sum.
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './conv.js';
import { type Info, originals, withScope } from './exec.js';

export function sum(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  const n = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
  const r = tf.util.sizeFromShape(x.shape.slice(axes.length));
  if (!leading || x.dtype !== 'float32' || n < 2 || r < 1) {
    const orig = originals.get('Sum');
    if (orig == null) throw new Error('graft: original wasm Sum missing');
    return orig.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
  }
  const outShape = attrs.keepDims === true ? x.shape.map((d, i) => (i < axes.length ? 1 : d)) : x.shape.slice(axes.length);
  // Pool window n1 x n2 = n, as square as n's divisors allow (any shape works; square keeps both small).
  let n1 = Math.floor(Math.sqrt(n));
  while (n % n1 !== 0) n1--;
  const n2 = n / n1;
  return withScope(backend, (s) => {
    const avg = s.run('AvgPool', { x: s.view(x, [1, n1, n2, r]) }, { filterSize: [n1, n2], strides: 1, pad: 'valid' });
    const v = backend.typedArrayFromHeap(avg);
    for (let i = 0; i < r; i++) v[i] *= n;
    return s.finish(avg, outShape);
  });
}

// UnsortedSegmentSum for wasm. wasm's ScatterNd already is a scatter-*add* into a zeroed output
// (duplicates accumulate), which is exactly a segment sum with ids as 1-element indices. It does no
// bounds checking though, while TF semantics drop ids outside [0, numSegments): those rows are sent
// to one extra scratch segment that is sliced away.
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './conv.js';
import { type Info, withScope } from './exec.js';

export function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const n = tf.util.sizeFromShape(segmentIds.shape);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const outShape = [numSegments, ...innerShape];
  if (segmentIds.dtype !== 'int32') throw new Error('graft: UnsortedSegmentSum needs int32 segment ids');
  return withScope(backend, (s) => {
    if (n === 0 || inner === 0 || numSegments === 0) {
      const out = s.alloc(outShape, x.dtype);
      backend.typedArrayFromHeap(out).fill(0);
      return s.finish(out);
    }
    let ids = backend.typedArrayFromHeap(segmentIds);
    let valid = true;
    for (let i = 0; i < n; i++) {
      const v = ids[i];
      if (v < 0 || v >= numSegments) {
        valid = false;
        break;
      }
    }
    const updates = s.view(x, [n, inner]);
    if (valid) {
      const out = s.run('ScatterNd', { indices: s.view(segmentIds, [n, 1]), updates }, { shape: [numSegments, inner] });
      return s.finish(out, outShape);
    }
    const fixed = s.alloc([n, 1], 'int32');
    const f = backend.typedArrayFromHeap(fixed);
    ids = backend.typedArrayFromHeap(segmentIds); // re-read: allocation may have grown (moved) the heap
    for (let i = 0; i < n; i++) {
      const v = ids[i];
      f[i] = v < 0 || v >= numSegments ? numSegments : v;
    }
    const wide = s.run('ScatterNd', { indices: fixed, updates }, { shape: [numSegments + 1, inner] });
    const out = s.run('Slice', { x: wide }, { begin: [0, 0], size: [numSegments, inner] });
    return s.finish(out, outShape);
  });
}

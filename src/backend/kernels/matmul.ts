// BatchMatMul with transposed operands. wasm only sends the plain, unbatched a·b case to XNNPACK's
// fully-connected operator; every transposeA/transposeB call (i.e. both gradients of every Dense
// layer: dy·Wᵀ and xᵀ·dy) falls into a blocked scalar C++ loop. Materialising the transpose with
// wasm's Transpose (a memory-bound copy, O(rows*cols)) and then taking the XNNPACK path
// (O(rows*cols*n) work at SIMD speed) is much cheaper — see the measurement in index.ts.
import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './conv.js';
import { type Info, originals, withScope } from './exec.js';

function original(args: KernelArgs): Info {
  const fn = originals.get('BatchMatMul')?.kernelFunc;
  if (fn == null) throw new Error('graft: original wasm BatchMatMul missing');
  return fn(args as unknown as Parameters<tf.KernelFunc>[0]) as Info;
}

export function batchMatMul(args: KernelArgs): Info {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  // Batched products never reach XNNPACK in wasm, transposed or not; leave them alone.
  if (
    (!transposeA && !transposeB) ||
    tf.util.sizeFromShape(outerA) !== 1 ||
    tf.util.sizeFromShape(outerB) !== 1 ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32'
  ) {
    return original(args);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transposeA ? ac : ar;
  const n = transposeB ? br : bc;
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB), m, n];
  return withScope(backend, (s) => {
    const a2 = transposeA ? s.run('Transpose', { x: s.view(a, [ar, ac]) }, { perm: [1, 0] }) : a;
    const b2 = transposeB ? s.run('Transpose', { x: s.view(b, [br, bc]) }, { perm: [1, 0] }) : b;
    const out = s.run('BatchMatMul', { a: a2, b: b2 }, { transposeA: false, transposeB: false });
    return s.finish(out, outShape);
  });
}

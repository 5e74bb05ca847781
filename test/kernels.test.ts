// graft's wasm training kernels (src/backend/kernels) against the cpu backend's reference kernels.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { graftWasmKernels, registerWasmTrainingKernels } from '../src/backend/kernels/index.js';

type Arr = Float32Array | Int32Array | Uint8Array;
interface Out {
  values: Arr;
  shape: number[];
}

// Deterministic inputs: the same arrays are uploaded to both backends.
let seed = 12345;
function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; // exact 32-bit LCG (no float rounding)
    a[i] = ((seed >>> 8) / 0x1000000) * 2 - 1;
  }
  return a;
}

async function on(backend: 'wasm' | 'cpu', fn: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const r = fn();
    return (Array.isArray(r) ? r : [r]).map((t) => ({ values: t.dataSync() as Arr, shape: t.shape }));
  });
}

function close(got: Out, want: Out, label: string): void {
  assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < want.values.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want.values[i]));
    maxDiff = Math.max(maxDiff, Math.abs(got.values[i] - want.values[i]));
  }
  assert.ok(
    Number.isFinite(maxDiff) && maxDiff <= 1e-4 * maxAbs + 1e-6,
    `${label}: max |wasm - cpu| = ${maxDiff} vs max |cpu| = ${maxAbs}`,
  );
}

/** Run fn on both backends with the same input data and compare every output. */
async function same(label: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const want = await on('cpu', fn);
  const got = await on('wasm', fn);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => close(g, want[i], `${label} [output ${i}]`));
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

before(async () => {
  registerWasmTrainingKernels();
  registerWasmTrainingKernels(); // idempotent
  await tf.setBackend('wasm');
  await tf.ready();
});

after(async () => {
  await tf.setBackend('cpu');
});

describe('registration', () => {
  test('all kernels are graft kernels on wasm, registered once', () => {
    assert.deepEqual(graftWasmKernels().sort(), [
      'BatchMatMul',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'DepthwiseConv2dNativeBackpropFilter',
      'DepthwiseConv2dNativeBackpropInput',
      'MaxPoolGrad',
      'Sum',
      'UnsortedSegmentSum',
    ]);
  });
});

describe('conv2d gradients (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  const cases: {
    x: [number, number, number, number];
    f: [number, number, number, number];
    s: number | [number, number];
    p: Pad;
    r?: 'floor' | 'ceil';
  }[] = [
    { x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 1, p: 'same' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 1, p: 'valid' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 4], s: 2, p: 'valid' },
    { x: [3, 8, 8, 2], f: [2, 2, 2, 5], s: 2, p: 'same' },
    { x: [3, 8, 8, 2], f: [2, 2, 2, 5], s: 2, p: 'valid' },
    { x: [1, 6, 5, 1], f: [1, 1, 1, 3], s: 2, p: 'valid' }, // unused trailing rows: negative "padding"
    { x: [2, 11, 6, 3], f: [5, 3, 3, 2], s: [2, 1], p: 'same' },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 3], s: 2, p: 1 },
    { x: [2, 8, 8, 2], f: [3, 3, 2, 3], s: 2, p: 1, r: 'floor' },
    {
      x: [2, 7, 8, 2],
      f: [3, 3, 2, 3],
      s: 2,
      p: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
    {
      x: [1, 5, 5, 2],
      f: [2, 2, 2, 2],
      s: 1,
      p: [
        [0, 0],
        [3, 0],
        [0, 3],
        [0, 0],
      ],
    }, // pad > kernel extent
    { x: [8, 28, 28, 1], f: [3, 3, 1, 8], s: 1, p: 'valid' },
    // fh*fw*Ci small enough for the patch-matrix path (first layers)
    { x: [2, 9, 9, 1], f: [3, 3, 1, 16], s: 2, p: 'same' },
    { x: [3, 8, 7, 3], f: [3, 3, 3, 27], s: 1, p: 'valid' },
    { x: [2, 9, 9, 2], f: [2, 2, 2, 8], s: 2, p: 1 },
  ];
  for (const c of cases) {
    test(`x${JSON.stringify(c.x)} f${JSON.stringify(c.f)} s=${JSON.stringify(c.s)} pad=${JSON.stringify(c.p)}${c.r ? ' ' + c.r : ''}`, async () => {
      const xv = rand(tf.util.sizeFromShape(c.x));
      const fv = rand(tf.util.sizeFromShape(c.f));
      await same('conv2d grads', () => {
        const x = tf.tensor4d(xv, c.x);
        const f = tf.tensor4d(fv, c.f);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.p, 'NHWC', 1, c.r)
            .square()
            .sum();
        return tf.grads(loss)([x, f]);
      });
    });
  }

  test('conv2dTranspose (Conv2DBackpropInput forward) and its gradients', async () => {
    for (const [s, p] of [
      [2, 'same'],
      [2, 'valid'],
      [1, 0],
      [2, 1],
    ] as [number, 'same' | 'valid' | number][]) {
      const dyv = rand(2 * 4 * 4 * 3);
      const fv = rand(3 * 3 * 5 * 3);
      const outShape: [number, number, number, number] =
        p === 'valid' ? [2, 9, 9, 5] : p === 'same' ? [2, 4 * s, 4 * s, 5] : [2, (4 - 1) * s + 3 - 2 * p, (4 - 1) * s + 3 - 2 * p, 5];
      await same(`conv2dTranspose s=${s} pad=${p}`, () => {
        const dy = tf.tensor4d(dyv, [2, 4, 4, 3]);
        const f = tf.tensor4d(fv, [3, 3, 5, 3]);
        const fwd = (a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, outShape, s, p)
            .square()
            .sum();
        return [tf.conv2dTranspose(dy, f, outShape, s, p), ...tf.grads(fwd)([dy, f])];
      });
    }
  });
});

describe('depthwiseConv2d gradients (DepthwiseConv2dNativeBackpropFilter/Input)', () => {
  const cases: { x: [number, number, number, number]; f: [number, number, number, number]; s: number | [number, number]; p: Pad }[] = [
    { x: [2, 7, 9, 3], f: [3, 3, 3, 1], s: 1, p: 'same' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 1], s: 1, p: 'valid' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 1], s: 2, p: 'same' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 1], s: 2, p: 'valid' },
    { x: [2, 8, 6, 3], f: [3, 3, 3, 2], s: 1, p: 'same' }, // channel multiplier 2
    { x: [2, 8, 6, 3], f: [3, 3, 3, 3], s: 2, p: 'same' }, // channel multiplier 3
    { x: [3, 9, 7, 2], f: [2, 4, 2, 2], s: 2, p: 'valid' },
    { x: [1, 10, 10, 4], f: [5, 5, 4, 1], s: 2, p: 'same' },
    { x: [2, 9, 9, 2], f: [3, 3, 2, 2], s: 2, p: 1 },
    {
      x: [2, 7, 8, 2],
      f: [3, 3, 2, 1],
      s: 1,
      p: [
        [0, 0],
        [2, 0],
        [1, 1],
        [0, 0],
      ],
    },
  ];
  for (const c of cases) {
    test(`x${JSON.stringify(c.x)} f${JSON.stringify(c.f)} s=${JSON.stringify(c.s)} pad=${JSON.stringify(c.p)}`, async () => {
      const xv = rand(tf.util.sizeFromShape(c.x));
      const fv = rand(tf.util.sizeFromShape(c.f));
      await same('depthwise grads', () => {
        const x = tf.tensor4d(xv, c.x);
        const f = tf.tensor4d(fv, c.f);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf
            .depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.p as 'same')
            .square()
            .sum();
        return tf.grads(loss)([x, f]);
      });
    });
  }

  // tf.grad refuses dilations > 1 for depthwise convs (and the cpu reference kernels ignore the
  // dilations attribute), so dilated kernels are run directly and checked against the cpu kernels
  // applied to the equivalent zero-inserted ("atrous") filter with dilation 1.
  // (Large outputs take the JavaScript filter-gradient path, small ones the depthwise-conv path.)
  for (const [s, p, d, M, H, W] of [
    [1, 'same', 2, 1, 11, 12],
    [1, 'valid', 2, 2, 11, 12],
    [1, 'same', 3, 1, 11, 12],
    [1, 'valid', [2, 3], 1, 11, 12],
    [1, 'valid', 2, 1, 7, 6],
    [1, 'valid', [3, 2], 3, 8, 7],
  ] as [number, 'same' | 'valid', number | [number, number], number, number, number][]) {
    test(`dilations ${JSON.stringify(d)} pad=${p} multiplier ${M} x ${H}x${W}`, async () => {
      const [dh, dw] = typeof d === 'number' ? [d, d] : d;
      const xShape: [number, number, number, number] = [2, H, W, 3];
      const f: [number, number, number, number] = [3, 3, 3, M];
      const fe: [number, number, number, number] = [(f[0] - 1) * dh + 1, (f[1] - 1) * dw + 1, 3, M];
      const oh = p === 'same' ? H : H - fe[0] + 1;
      const ow = p === 'same' ? W : W - fe[1] + 1;
      const dyShape: [number, number, number, number] = [2, oh, ow, 3 * M];
      const xv = rand(tf.util.sizeFromShape(xShape));
      const dyv = rand(tf.util.sizeFromShape(dyShape));
      const fv = rand(tf.util.sizeFromShape(f));
      const atrous = new Float32Array(tf.util.sizeFromShape(fe));
      for (let i = 0; i < f[0]; i++)
        for (let j = 0; j < f[1]; j++)
          for (let c = 0; c < 3 * M; c++) {
            atrous[(i * dh * fe[1] + j * dw) * 3 * M + c] = fv[(i * f[1] + j) * 3 * M + c];
          }
      const run = (dil: [number, number], filter: Float32Array, fShape: number[]) => () => {
        const e = tf.engine();
        const attrs = { strides: s, pad: p, dilations: dil };
        const dx = e.runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy: tf.tensor4d(dyv, dyShape), filter: tf.tensor4d(filter, fShape as [number, number, number, number]) },
          { ...attrs, inputShape: xShape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor;
        let dW = e.runKernel('DepthwiseConv2dNativeBackpropFilter', { x: tf.tensor4d(xv, xShape), dy: tf.tensor4d(dyv, dyShape) }, {
          ...attrs,
          filterShape: fShape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        if (dil[0] === 1 && (dh > 1 || dw > 1)) dW = tf.stridedSlice(dW, [0, 0, 0, 0], fe, [dh, dw, 1, 1]) as tf.Tensor4D;
        return [dx, dW];
      };
      const want = await on('cpu', run([1, 1], atrous, fe));
      const got = await on('wasm', run([dh, dw], fv, f));
      close(got[0], want[0], 'dilated dx');
      close(got[1], want[1], 'dilated dW');
    });
  }
});

describe('UnsortedSegmentSum', () => {
  test('float32, duplicate ids, multi-dim inner shape', async () => {
    const xv = rand(7 * 3 * 2);
    await same('segment sum', () => tf.unsortedSegmentSum(tf.tensor3d(xv, [7, 3, 2]), tf.tensor1d([0, 2, 0, 1, 4, 2, 2], 'int32'), 6));
  });
  test('ids out of range are dropped; int32 data', async () => {
    const xv = rand(6 * 4);
    await same('segment sum (dropped ids)', () =>
      tf.unsortedSegmentSum(tf.tensor2d(xv, [6, 4]), tf.tensor1d([1, -1, 3, 9, 1, 0], 'int32'), 4),
    );
    await same('segment sum int32', () =>
      tf.unsortedSegmentSum(tf.tensor1d([5, 7, -2, 9], 'int32'), tf.tensor1d([2, 0, 2, 1], 'int32'), 3),
    );
  });
  test('gradient of gather (embedding lookup)', async () => {
    const tv = rand(10 * 4);
    await same('gather grad', () =>
      tf.grad((t: tf.Tensor) =>
        tf
          .gather(t, tf.tensor1d([3, 1, 3, 9, 0, 3], 'int32'))
          .square()
          .sum(),
      )(tf.tensor2d(tv, [10, 4])),
    );
  });
});

describe('BatchMatMul', () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    test(`matMul transposeA=${ta} transposeB=${tb} and its gradients`, async () => {
      const av = rand(37 * 53);
      const bv = rand(53 * 19);
      await same('matMul', () => {
        const a = tf.tensor2d(av, ta ? [53, 37] : [37, 53]);
        const b = tf.tensor2d(bv, tb ? [19, 53] : [53, 19]);
        return [
          tf.matMul(a, b, ta, tb),
          ...tf.grads((p: tf.Tensor, q: tf.Tensor) =>
            tf
              .matMul(p as tf.Tensor2D, q as tf.Tensor2D, ta, tb)
              .square()
              .sum(),
          )([a, b]),
        ];
      });
    });
  }
  test('rank 3 with batch 1, and batched (falls back to wasm)', async () => {
    const av = rand(3 * 5 * 7);
    const bv = rand(3 * 6 * 7);
    await same('matMul 3d', () => [
      tf.matMul(tf.tensor3d(av.subarray(0, 35), [1, 7, 5]), tf.tensor3d(bv.subarray(0, 42), [1, 6, 7]), true, true),
      tf.matMul(tf.tensor3d(av, [3, 5, 7]), tf.tensor3d(bv, [3, 6, 7]), false, true),
    ]);
  });
});

describe('training on wasm', () => {
  test('a Conv2D + MaxPool + DepthwiseConv2D + Dense training step leaks no tensors and no wasm buffers', async () => {
    await tf.setBackend('wasm');
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [13, 13, 3], filters: 28, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor4d(rand(16 * 13 * 13 * 3), [16, 13, 13, 3]);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 'int32'), 3).toFloat();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const first = (await model.fit(xs, ys, { batchSize: 8, epochs: 1, verbose: 0 })).history.loss[0] as number;
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    let last = first;
    for (let i = 0; i < 5; i++) last = (await model.fit(xs, ys, { batchSize: 8, epochs: 1, verbose: 0 })).history.loss[0] as number;
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.equal(backend.numDataIds(), buffers, 'wasm buffers leaked');
    assert.ok(Number.isFinite(last) && last < first, `loss should go down: ${first} -> ${last}`);
    const before = tf.memory().numTensors;
    const bufs = backend.numDataIds();
    const opt = tf.train.sgd(0.01);
    const w = tf.variable(tf.randomNormal([3, 3, 3, 1]));
    const cost = () =>
      tf
        .depthwiseConv2d(xs, w as tf.Tensor4D, 1, 'same')
        .square()
        .mean() as tf.Scalar;
    opt.minimize(cost); // warm-up (creates optimizer state)
    const t2 = tf.memory().numTensors;
    const b2 = backend.numDataIds();
    for (let i = 0; i < 3; i++) opt.minimize(cost);
    assert.equal(tf.memory().numTensors, t2, 'minimize leaked tensors');
    assert.equal(backend.numDataIds(), b2, 'minimize leaked wasm buffers');
    w.dispose();
    opt.dispose();
    assert.ok(tf.memory().numTensors <= before + 1, 'variables released');
    assert.ok(backend.numDataIds() <= bufs + 1);
    model.dispose();
    xs.dispose();
    ys.dispose();
  });
});

describe('MaxPoolGrad and Sum (replaced)', () => {
  test('max pool gradients equal cpu (distinct values): overlapping windows, padding, odd sizes', async () => {
    const yv = rand(2 * 9 * 8 * 3);
    for (const [f, s, p] of [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [3, 1, 'valid'],
      [2, 1, 'same'],
      [3, 3, 'same'],
    ] as [number, number, 'same' | 'valid'][]) {
      await same(`maxPool grad f=${f} s=${s} ${p}`, () =>
        tf.grad((v: tf.Tensor) =>
          tf
            .maxPool(v as tf.Tensor4D, f, s, p)
            .square()
            .sum(),
        )(tf.tensor4d(yv, [2, 9, 8, 3])),
      );
    }
  });
  // On ties the gradient goes to the first maximum in window scan order, as on cpu (and in TF);
  // wasm's original kernel picks the last one, so this is the case that tells them apart.
  test('max pool gradients with ties equal cpu', async () => {
    const xv = rand(2 * 9 * 8 * 3).map((v) => Math.max(0, Math.round(v * 3))); // many ties, all-zero windows
    for (const [f, s, p] of [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [3, 1, 'valid'],
    ] as [number, number, 'same' | 'valid'][]) {
      await same(`maxPool grad with ties f=${f} s=${s} ${p}`, () =>
        tf.grad((v: tf.Tensor) =>
          tf
            .maxPool(v as tf.Tensor4D, f, s, p)
            .square()
            .sum(),
        )(tf.tensor4d(xv, [2, 9, 8, 3])),
      );
    }
  });
  test('sum over leading axes (bias gradients) and other reductions', async () => {
    const xv = rand(4 * 7 * 5 * 3);
    await same('sums', () => {
      const x = tf.tensor4d(xv, [4, 7, 5, 3]);
      return [
        tf.sum(x, [0, 1, 2]),
        tf.sum(x, [0, 1]),
        tf.sum(x, 0),
        tf.sum(x, [1, 0], true),
        tf.sum(x, [0, 2]),
        tf.sum(x, 3),
        tf.sum(x),
        tf.sum(tf.tensor2d(xv.subarray(0, 37 * 3), [37, 3]), 0),
      ];
    });
  });
});

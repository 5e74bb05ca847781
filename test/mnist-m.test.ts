// MNIST-M as Ganin et al. built it: |patch − digit| per channel, deterministic by seed, the same
// digits and labels as the built-in mnist in the same order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDataSplits } from '../src/data/index.js';
import { loadMnist } from '../src/data/mnist.js';
import { blendMnistM, loadMnistM, loadMnistRgb } from '../src/data/mnist-m.js';

const IMAGE = 28 * 28 * 3;

describe('mnist-m', () => {
  it('blends as |patch − digit| in each channel', () => {
    const digit = Uint8Array.from([0, 255, 100]);
    const patch = Uint8Array.from([10, 20, 30, 200, 0, 255, 100, 50, 250]);
    assert.deepEqual(Array.from(blendMnistM(digit, patch)), [10, 20, 30, 55, 255, 0, 0, 50, 150]);
    assert.throws(() => blendMnistM(digit, patch.subarray(0, 6)), /expected 3 x 3/);
  });

  it('keeps the digits, labels and order of mnist; the same seed gives the same images, another seed others', async () => {
    const classes = ['7', '3'];
    const [gray, rgb, a, b, c] = await Promise.all([
      loadMnist({ size: { height: 28, width: 28, channels: 1 }, classes }),
      loadMnistRgb({ classes }),
      loadMnistM({ classes, seed: 4 }),
      loadMnistM({ classes, seed: 4 }),
      loadMnistM({ classes, seed: 5 }),
    ]);
    for (const set of [rgb, a]) {
      assert.deepEqual(set.classes, classes);
      assert.deepEqual(set.labels, gray.labels);
      assert.deepEqual(set.size, { height: 28, width: 28, channels: 3 });
      assert.equal(set.pixels.length, gray.labels.length * IMAGE);
    }
    assert.equal(a.labels[0], 0, 'digit 7 first, as the filter orders it');
    assert.deepEqual(rgb.ids, gray.ids);
    assert.deepEqual(
      a.ids,
      gray.ids.map((id) => id.replace('mnist:', 'mnist-m:')),
    );
    for (let p = 0; p < gray.pixels.length; p++) {
      if (rgb.pixels[p * 3] !== gray.pixels[p] || rgb.pixels[p * 3 + 1] !== gray.pixels[p] || rgb.pixels[p * 3 + 2] !== gray.pixels[p]) {
        assert.fail(`mnist-rgb value ${p} is not the gray digit's`);
      }
    }
    assert.deepEqual(a.pixels, b.pixels);
    assert.notDeepEqual(a.pixels, c.pixels);
    // A class filter draws the same patch for an image as the whole set does.
    const whole = await loadMnistM({ seed: 4 });
    assert.equal(whole.labels.length, 10000);
    for (const i of [0, a.labels.length - 1]) {
      const k = whole.ids.indexOf(a.ids[i]);
      assert.deepEqual(whole.pixels.subarray(k * IMAGE, (k + 1) * IMAGE), a.pixels.subarray(i * IMAGE, (i + 1) * IMAGE));
    }
  });

  it('puts every digit on a photograph, whose tint makes the channel means differ', async () => {
    const [rgb, m] = await Promise.all([loadMnistRgb({ classes: ['0', '1'] }), loadMnistM({ classes: ['0', '1'], seed: 1 })]);
    for (let i = 0; i < m.labels.length; i++) {
      const changed = m.pixels.subarray(i * IMAGE, (i + 1) * IMAGE).filter((v, j) => v !== rgb.pixels[i * IMAGE + j]).length;
      assert.ok(changed > IMAGE / 4, `image ${m.ids[i]}: only ${changed} of ${IMAGE} values differ from the plain digit`);
    }
    const means = [0, 0, 0];
    for (let i = 0; i < m.pixels.length; i++) means[i % 3] += m.pixels[i] / (m.pixels.length / 3);
    // The photographs' sepia: red above green above blue, by several levels; the plain digits' means are equal.
    assert.ok(means[0] - means[1] > 3 && means[1] - means[2] > 3, means.map((v) => v.toFixed(1)).join(', '));
  });

  it('is a built-in data set: --data mnist-m and mnist-rgb with a class filter, resized to the base', async () => {
    const calls: number[][] = [];
    const s = await loadDataSplits('mnist-m', {
      size: { height: 32, width: 32, channels: 3 },
      classes: ['5', '6'],
      seed: 1,
      callbacks: [{ onProgress: (_, d, t) => calls.push([d, t]) }],
    });
    assert.deepEqual(s.train.classes, ['5', '6']);
    assert.deepEqual(s.train.size, { height: 32, width: 32, channels: 3 });
    assert.equal(s.train.pixels.length, s.train.labels.length * 32 * 32 * 3);
    assert.ok(s.train.ids.every((id) => id.startsWith('mnist-m:')));
    const total = s.train.labels.length + s.val.labels.length + s.test.labels.length;
    assert.deepEqual(calls.at(-1), [total, total]);
    // Into a 28x28 gray base (digits-cnn), mnist-rgb is mnist itself: the same split, the same bytes.
    const gray = { size: { height: 28, width: 28, channels: 1 as const }, classes: ['5', '6'], seed: 1 };
    const [r, g] = await Promise.all([loadDataSplits('mnist-rgb', gray), loadDataSplits('mnist', gray)]);
    assert.deepEqual(r.test.ids, g.test.ids);
    assert.deepEqual(r.test.pixels, g.test.pixels);
  });
});

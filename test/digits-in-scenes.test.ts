// digits-in-scenes: MNIST digits composited onto crops of the @stdlib photographs, labelled with
// digit and scene (some samples with one of the two only), and the multi-task splits.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { GraftError } from '../src/core/errors.js';
import { MNIST_SIZE, mnistDigit } from '../src/data/mnist.js';
import {
  compositeDigit,
  DIGITS_IN_SCENES_SCENES,
  loadDigitsInScenes,
  planDigitsInScenes,
  resizeArea,
  type DigitsInScenesSample,
} from '../src/data/multitask/digits-in-scenes.js';
import { splitMultiTask, subsetMultiTask } from '../src/data/multitask/split.js';
import type { MultiTaskSet } from '../src/data/multitask/types.js';

const COUNT = 200;
const SIZE = 64;
const IMAGE = SIZE * SIZE * 3;

/** A classification task's labels (fails on another kind). */
function labelsOf(set: MultiTaskSet, task: string): Int32Array {
  const t = set.tasks[task];
  assert.equal(t.kind, 'classification');
  return t.labels;
}

const countOf = (labels: ArrayLike<number>, value: number) => Array.from(labels).filter((l) => l === value).length;

let a: MultiTaskSet;
let plan: DigitsInScenesSample[];

before(async () => {
  [a, plan] = await Promise.all([loadDigitsInScenes({ seed: 3, count: COUNT }), planDigitsInScenes({ seed: 3, count: COUNT })]);
});

describe('digits-in-scenes', () => {
  it('names a scene class after each of the seven photographs', () => {
    assert.equal(DIGITS_IN_SCENES_SCENES.length, 7);
    assert.ok(DIGITS_IN_SCENES_SCENES.includes('nagasaki-boats'));
    assert.ok(
      DIGITS_IN_SCENES_SCENES.every((s) => /^[a-z]+(-[a-z]+)+$/.test(s)),
      DIGITS_IN_SCENES_SCENES.join(', '),
    );
  });

  it('has the documented shape, ids and tasks', () => {
    assert.deepEqual(a.size, { height: SIZE, width: SIZE, channels: 3 });
    assert.equal(a.pixels.length, COUNT * IMAGE);
    assert.equal(a.ids.length, COUNT);
    assert.equal(a.ids[0], 'digits-in-scenes/3/0');
    assert.equal(new Set(a.ids).size, COUNT);
    assert.deepEqual(Object.keys(a.tasks), ['digit', 'scene']);
    const digit = a.tasks.digit;
    const scene = a.tasks.scene;
    assert.ok(digit.kind === 'classification' && scene.kind === 'classification');
    assert.deepEqual(digit.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(scene.classes, [...DIGITS_IN_SCENES_SCENES]);
    for (const t of [digit, scene]) {
      assert.equal(t.labels.length, COUNT);
      assert.ok(t.labels.every((l) => Number.isInteger(l) && l >= -1 && l < t.classes.length));
    }
  });

  it('uses the defaults of the issue: seed 1, 3000 images of 64x64, a fifth with one label', async () => {
    const small = await loadDigitsInScenes({ count: 10 });
    assert.equal(small.ids[0], 'digits-in-scenes/1/0');
    assert.equal(small.pixels.length, 10 * IMAGE);
    const full = await planDigitsInScenes();
    assert.equal(full.length, 3000);
    assert.equal(full.filter((s) => s.keeps !== 'both').length, 600);
  });

  it('is deterministic by seed, and onlyOneLabel changes labels only', async () => {
    const [b, c, d] = await Promise.all([
      loadDigitsInScenes({ seed: 3, count: COUNT }),
      loadDigitsInScenes({ seed: 4, count: COUNT }),
      loadDigitsInScenes({ seed: 3, count: COUNT, onlyOneLabel: 0.5 }),
    ]);
    assert.deepEqual(b, a);
    assert.notDeepEqual(c.pixels, a.pixels);
    assert.notDeepEqual(labelsOf(c, 'digit'), labelsOf(a, 'digit'));
    assert.notDeepEqual(labelsOf(c, 'scene'), labelsOf(a, 'scene'));
    assert.deepEqual(d.pixels, a.pixels);
    for (const task of ['digit', 'scene']) {
      const [x, y] = [labelsOf(a, task), labelsOf(d, task)];
      for (let i = 0; i < COUNT; i++) if (x[i] >= 0 && y[i] >= 0) assert.equal(x[i], y[i]);
    }
  });

  it('labels each image with the digit and photograph it was drawn from, both balanced', () => {
    const digit = labelsOf(a, 'digit');
    const scene = labelsOf(a, 'scene');
    plan.forEach((s, i) => {
      if (s.keeps !== 'scene') assert.equal(digit[i], s.digit);
      if (s.keeps !== 'digit') assert.equal(scene[i], s.scene);
      assert.ok(s.mnistIndex >= 0 && s.mnistIndex < mnistDigit(s.digit).length / 784);
    });
    // Drawn exactly balanced (to within one); the labels left after dropping stay near balanced.
    for (const [key, classes] of [
      ['digit', 10],
      ['scene', 7],
    ] as const) {
      const drawn = Array.from({ length: classes }, (_, c) => plan.filter((s) => s[key] === c).length);
      assert.ok(Math.max(...drawn) - Math.min(...drawn) <= 1, `${key} drawn ${drawn.join(',')}`);
      const kept = Array.from({ length: classes }, (_, c) => countOf(labelsOf(a, key), c));
      assert.ok(Math.min(...kept) >= 0.6 * (COUNT / classes), `${key} labelled ${kept.join(',')}`);
    }
    // Without repeats of an MNIST image while a digit has some left.
    const sources = new Set(plan.map((s) => `${s.digit}/${s.mnistIndex}`));
    assert.equal(sources.size, COUNT);
  });

  it('keeps one label only for the onlyOneLabel fraction, split evenly between the two tasks', async () => {
    const check = (set: MultiTaskSet, fraction: number) => {
      const digit = labelsOf(set, 'digit');
      const scene = labelsOf(set, 'scene');
      const n = digit.length;
      let noDigit = 0;
      let noScene = 0;
      for (let i = 0; i < n; i++) {
        assert.ok(digit[i] >= 0 || scene[i] >= 0, `sample ${i} has no label at all`);
        if (digit[i] < 0) noDigit++;
        if (scene[i] < 0) noScene++;
      }
      const one = Math.round(fraction * n);
      assert.equal(noDigit + noScene, one, `fraction ${fraction}`);
      assert.equal(noDigit, Math.floor(one / 2));
    };
    check(a, 0.2);
    const [none, all, odd] = await Promise.all([
      loadDigitsInScenes({ seed: 3, count: 30, onlyOneLabel: 0 }),
      loadDigitsInScenes({ seed: 3, count: 30, onlyOneLabel: 1 }),
      loadDigitsInScenes({ seed: 3, count: 30, onlyOneLabel: 0.1 }),
    ]);
    check(none, 0);
    check(all, 1);
    check(odd, 0.1);
  });

  it('crops the photographs and composites a bright digit over them', () => {
    // Every crop inside its photograph, every digit box inside the image, within the documented ranges.
    for (const s of plan) {
      assert.ok(s.crop.x >= 0 && s.crop.y >= 0 && s.crop.side >= 0.3 * 484 - 1 && s.crop.side <= 0.7 * 819 + 1, JSON.stringify(s.crop));
      assert.ok(s.box.x >= 0 && s.box.y >= 0 && s.box.x + s.box.side <= SIZE && s.box.y + s.box.side <= SIZE, JSON.stringify(s.box));
      assert.ok(s.box.side >= Math.round(0.35 * SIZE) && s.box.side <= Math.round(0.7 * SIZE), JSON.stringify(s.box));
    }
    // Under the digit's ink the image is much brighter than the scene around it in the same box.
    let ink = 0;
    let inkN = 0;
    let around = 0;
    let aroundN = 0;
    plan.forEach((s, i) => {
      const source = mnistDigit(s.digit).subarray(s.mnistIndex * 784, (s.mnistIndex + 1) * 784);
      const digit = resizeArea(
        { pixels: source, ...MNIST_SIZE },
        { x: 0, y: 0, width: 28, height: 28 },
        { width: s.box.side, height: s.box.side },
      );
      for (let r = 0; r < s.box.side; r++) {
        for (let c = 0; c < s.box.side; c++) {
          const at = i * IMAGE + ((s.box.y + r) * SIZE + s.box.x + c) * 3;
          const v = (a.pixels[at] + a.pixels[at + 1] + a.pixels[at + 2]) / 3;
          const d = digit[r * s.box.side + c];
          if (d > 200) {
            ink += v;
            inkN++;
            assert.ok(v >= 200, `sample ${i}: a full-ink pixel is ${v}, not near white`);
          } else if (d === 0) {
            around += v;
            aroundN++;
          }
        }
      }
    });
    assert.ok(inkN > 0 && aroundN > 0);
    assert.ok(ink / inkN > around / aroundN + 60, `ink ${ink / inkN}, around ${around / aroundN}`);
    // The scenes are photographs, not flat: plenty of distinct values in every image.
    for (let i = 0; i < COUNT; i += 20) assert.ok(new Set(a.pixels.subarray(i * IMAGE, (i + 1) * IMAGE)).size > 40);
  });

  it('rejects impossible options as usage errors', async () => {
    for (const o of [{ count: 0 }, { count: 2.5 }, { size: 4 }, { onlyOneLabel: 1.5 }, { onlyOneLabel: -0.1 }, { seed: 0.5 }]) {
      await assert.rejects(loadDigitsInScenes(o), (e: unknown) => e instanceof GraftError && e.exitCode === 2, JSON.stringify(o));
    }
  });
});

describe('compositeDigit and resizeArea', () => {
  it('blends toward white by the ink, leaving the photo where there is none', () => {
    const image = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => [0, 100, 200, 50][Math.floor(i / 3)]);
    const original = image.slice();
    compositeDigit(image, 2, Uint8Array.from([255]), { x: 1, y: 1, side: 1 });
    assert.deepEqual(image.subarray(0, 9), original.subarray(0, 9));
    assert.deepEqual(Array.from(image.subarray(9)), [255, 255, 255]);
    compositeDigit(image, 2, Uint8Array.from([0, 0, 128, 0]), { x: 0, y: 0, side: 2 });
    assert.deepEqual(Array.from(image.subarray(6, 9)), [228, 228, 228], '200 + 55 x 128/255');
    assert.throws(() => compositeDigit(image, 2, Uint8Array.from([1, 2, 3, 4]), { x: 1, y: 0, side: 2 }), /leaves/);
  });

  it('averages areas when shrinking and interpolates when enlarging', () => {
    const flat = { pixels: new Uint8Array(30 * 20 * 3).fill(77), width: 30, height: 20, channels: 3 };
    assert.ok(resizeArea(flat, { x: 1.5, y: 2.25, width: 17.3, height: 17.3 }, { width: 5, height: 5 }).every((v) => v === 77));
    assert.ok(resizeArea(flat, { x: 0, y: 0, width: 4, height: 4 }, { width: 9, height: 9 }).every((v) => v === 77));
    const grid = { pixels: Uint8Array.from([0, 100, 200, 40]), width: 2, height: 2, channels: 1 };
    assert.deepEqual(Array.from(resizeArea(grid, { x: 0, y: 0, width: 2, height: 2 }, { width: 1, height: 1 })), [85]);
    const ramp = { pixels: Uint8Array.from([0, 100, 0, 100]), width: 2, height: 2, channels: 1 };
    assert.deepEqual(Array.from(resizeArea(ramp, { x: 0, y: 0, width: 2, height: 2 }, { width: 4, height: 1 })), [0, 25, 75, 100]);
    assert.throws(() => resizeArea(flat, { x: 20, y: 0, width: 11, height: 5 }, { width: 2, height: 2 }), /not inside/);
  });
});

describe('multi-task splits', () => {
  it('splits into disjoint train/val/test of the default fractions, in the set order, by seed', () => {
    const s = splitMultiTask(a, { seed: 5 });
    const sizes = [s.train, s.val, s.test].map((p) => p.ids.length);
    assert.equal(sizes[0] + sizes[1] + sizes[2], COUNT);
    for (const n of sizes.slice(1)) assert.ok(Math.abs(n - 0.15 * COUNT) <= 6, `held out ${sizes.join('/')}`);
    const all = [...s.train.ids, ...s.val.ids, ...s.test.ids];
    assert.equal(new Set(all).size, COUNT);
    assert.deepEqual(new Set(all), new Set(a.ids));
    for (const part of [s.train, s.val, s.test]) {
      const index = part.ids.map((id) => a.ids.indexOf(id));
      assert.deepEqual(
        index,
        [...index].sort((x, y) => x - y),
        'kept in the set order',
      );
      assert.deepEqual(part, subsetMultiTask(a, index));
    }
    assert.deepEqual(splitMultiTask(a, { seed: 5 }), s);
    assert.notDeepEqual(splitMultiTask(a, { seed: 6 }).val.ids, s.val.ids);
    const other = splitMultiTask(a, { seed: 5, valFraction: 0.3, testFraction: 0.1 });
    assert.ok(Math.abs(other.val.ids.length - 60) <= 6 && Math.abs(other.test.ids.length - 20) <= 6);
  });

  it('stratifies by the first classification task, the unlabelled as one more stratum', () => {
    const s = splitMultiTask(a, { seed: 5 });
    const digit = labelsOf(a, 'digit');
    for (const l of [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      const n = countOf(digit, l);
      const inVal = countOf(labelsOf(s.val, 'digit'), l);
      const inTest = countOf(labelsOf(s.test, 'digit'), l);
      assert.ok(
        Math.abs(inVal - 0.15 * n) <= 1 && Math.abs(inTest - 0.15 * n) <= 1,
        `digit ${l}: ${n} in all, ${inVal} val, ${inTest} test`,
      );
    }
    const byScene = splitMultiTask(a, { seed: 5, stratifyBy: 'scene' });
    const scene = labelsOf(a, 'scene');
    for (let l = -1; l < 7; l++) {
      const inVal = countOf(labelsOf(byScene.val, 'scene'), l);
      assert.ok(Math.abs(inVal - 0.15 * countOf(scene, l)) <= 1, `scene ${l}: ${inVal} in val`);
    }
    assert.throws(() => splitMultiTask(a, { seed: 5, stratifyBy: 'colour' }), /cannot stratify by "colour"/);
    assert.throws(() => splitMultiTask(a, { seed: 5, valFraction: 0.6, testFraction: 0.5 }), /leave nothing to train on/);
  });

  it('subsets copy the chosen rows of pixels, ids and every kind of task', () => {
    const set: MultiTaskSet = {
      size: { height: 1, width: 2, channels: 1 },
      pixels: Uint8Array.from([1, 2, 3, 4, 5, 6]),
      ids: ['a', 'b', 'c'],
      tasks: {
        kind: { kind: 'classification', classes: ['x', 'y'], labels: Int32Array.from([1, -1, 0]) },
        tags: { kind: 'multi-label', classes: ['p', 'q'], targets: Float32Array.from([1, 0, NaN, NaN, 0, 1]) },
        where: { kind: 'regression', outputs: 1, targets: Float32Array.from([0.5, 1.5, NaN]) },
      },
    };
    const sub = subsetMultiTask(set, [2, 0, 2]);
    assert.deepEqual(Array.from(sub.pixels), [5, 6, 1, 2, 5, 6]);
    assert.deepEqual(sub.ids, ['c', 'a', 'c']);
    assert.deepEqual(sub.tasks.kind, { kind: 'classification', classes: ['x', 'y'], labels: Int32Array.from([0, 1, 0]) });
    assert.deepEqual(sub.tasks.tags, { kind: 'multi-label', classes: ['p', 'q'], targets: Float32Array.from([0, 1, 1, 0, 0, 1]) });
    assert.deepEqual(sub.tasks.where, { kind: 'regression', outputs: 1, targets: Float32Array.from([NaN, 0.5, NaN]) });
    // A real set: row k of the subset is row indices[k] of the set.
    const rows = [7, 3, 150];
    const picked = subsetMultiTask(a, rows);
    rows.forEach((i, k) => {
      assert.deepEqual(picked.pixels.subarray(k * IMAGE, (k + 1) * IMAGE), a.pixels.subarray(i * IMAGE, (i + 1) * IMAGE));
      assert.equal(picked.ids[k], a.ids[i]);
      assert.equal(labelsOf(picked, 'digit')[k], labelsOf(a, 'digit')[i]);
      assert.equal(labelsOf(picked, 'scene')[k], labelsOf(a, 'scene')[i]);
    });
    assert.throws(() => subsetMultiTask(set, [3]), /index 3/);
    // A set with no classification task is split as one stratum.
    const plain = { ...set, tasks: { where: set.tasks.where } };
    const parts = splitMultiTask(plain, { seed: 1, valFraction: 0.34, testFraction: 0.34 });
    assert.deepEqual([parts.train.ids.length, parts.val.ids.length, parts.test.ids.length], [1, 1, 1]);
  });
});

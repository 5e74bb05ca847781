import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Box, GroundTruth } from '../src/data/detection/types.js';
import { type Detection, detectionReport, evaluateDetections, iou, nms } from '../src/evaluate/detection.js';

// Precision is TP / (TP + FP + eps) as in pycocotools (eps = np.spacing(1)), so a perfect score is 1 - 2e-16.
const close = (a: number, b: number, what = '', tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} != ${b}`);
const gt = (box: Box, label = 0, ignore = false): GroundTruth => ({ label, box, ignore });
const det = (box: Box, score: number, label = 0): Detection => ({ label, score, box });
/** One image, one class. */
const one = (objects: GroundTruth[], dets: Detection[], o?: { maxDetections?: number }) =>
  evaluateDetections([{ objects }], [dets], ['thing'], o);

const A: Box = [0, 0, 100, 100];
const B: Box = [200, 200, 50, 50];
const FAR: Box = [400, 400, 30, 30];

describe('iou', () => {
  it('closed forms: half-overlap 1/3, containment, identity, disjoint and touching boxes 0, symmetric', () => {
    close(iou([0, 0, 10, 10], [5, 0, 10, 10]), 50 / 150);
    close(iou([0, 0, 10, 10], [0, 0, 5, 10]), 0.5);
    close(iou([0, 0, 10, 10], [2, 2, 4, 4]), 16 / 100);
    assert.equal(iou(A, A), 1);
    assert.equal(iou([0, 0, 10, 10], [20, 20, 5, 5]), 0);
    assert.equal(iou([0, 0, 10, 10], [10, 0, 10, 10]), 0); // sharing an edge only
    assert.equal(iou([0, 0, 0, 0], [0, 0, 0, 0]), 0); // empty boxes: 0, not NaN
    assert.equal(iou([3, 1, 7, 9], [5, 4, 6, 2]), iou([5, 4, 6, 2], [3, 1, 7, 9]));
    assert.equal(iou(A, [0, 0, 62, 100]), 0.62);
  });
});

describe('nms', () => {
  const a = det([0, 0, 10, 10], 0.9);
  const b = det([1, 0, 10, 10], 0.8); // IoU with a: 90 / 110 = 0.818
  const c = det([20, 20, 10, 10], 0.7);
  const d = det([0, 0, 10, 10], 0.85, 1); // a's box, another class

  it('greedy by score, same class only: a suppresses b, keeps d of another class on the same box; sorted by score', () => {
    assert.deepEqual(nms([c, b, d, a]), [a, d, c]);
  });
  it('max cuts after suppression; a higher iou threshold keeps b', () => {
    assert.deepEqual(nms([c, b, d, a], { max: 2 }), [a, d]);
    assert.deepEqual(nms([c, b, d, a], { iou: 0.9 }), [a, d, b, c]);
  });
  it('suppresses only above the threshold: IoU exactly 0.5 survives 0.5', () => {
    const half = det([0, 0, 10, 5], 0.5); // IoU with a: 50 / 100
    assert.deepEqual(nms([half, a]), [a, half]);
    assert.deepEqual(nms([half, a], { iou: 0.49 }), [a]);
  });
  it('a suppressed box suppresses nothing: chain a > b > e keeps a and e when only b overlaps e', () => {
    const e = det([12, 0, 10, 10], 0.6); // IoU(b, e) = 70 / 130 = 0.54, IoU(a, e) = 0
    assert.deepEqual(nms([e, b, a]), [a, e]);
  });
  it('leaves its input alone', () => {
    const input = [c, b, d, a];
    nms(input);
    assert.deepEqual(input, [c, b, d, a]);
  });
});

describe('evaluateDetections: hand-worked cases', () => {
  it('a perfect detector: 1 everywhere', () => {
    const truth = [{ objects: [gt(A, 0), gt(B, 1)] }, { objects: [gt([10, 10, 40, 20], 1), gt([50, 60, 30, 30], 2)] }];
    const preds = truth.map((t) => t.objects.map((o, i) => det(o.box, 0.9 - i / 10, o.label)));
    const m = evaluateDetections(truth, preds, ['a', 'b', 'c']);
    close(m.ap, 1);
    close(m.ap50, 1);
    close(m.ap75, 1);
    assert.deepEqual(
      m.perClass.map((c) => [c.label, c.objects]),
      [
        ['a', 1],
        ['b', 2],
        ['c', 1],
      ],
    );
    for (const c of m.perClass) {
      close(c.ap, 1, c.label);
      close(c.ap50, 1, c.label);
    }
    assert.equal(m.images, 2);
    assert.equal(m.objects, 4);
  });

  it('IoU 0.62 counts at .50, .55, .60 only: ap50 = 1, ap = 3/10, ap75 = 0', () => {
    const m = one([gt(A)], [det([0, 0, 62, 100], 0.9)]);
    close(m.ap50, 1);
    close(m.ap, 3 / 10);
    assert.equal(m.ap75, 0);
  });

  it('IoU exactly at a threshold matches (≥): IoU 0.5 gives ap50 = 1, ap = 1/10', () => {
    const m = one([gt(A)], [det([0, 0, 50, 100], 0.9)]);
    close(m.ap50, 1);
    close(m.ap, 1 / 10);
  });

  it('a duplicate of lower score is a false positive, after full recall: TP 0.9, FP 0.8 → AP 1', () => {
    // recall [1, 1], precision [1, 0.5]; every recall point r finds index 0, precision 1: AP = 101/101.
    const m = one([gt(A)], [det(A, 0.9), det([1, 0, 100, 100], 0.8)]);
    close(m.ap, 1);
  });

  it('a false positive ranked first halves precision: FP 0.95, TP 0.9 → AP 0.5', () => {
    // recall [0, 1], precision [0, 0.5] → envelope [0.5, 0.5]: 0.5 at all 101 points.
    const m = one([gt(A)], [det(FAR, 0.95), det(A, 0.9)]);
    close(m.ap, 0.5);
    close(m.ap50, 0.5);
  });

  it('the duplicate costs when an object is still to be found: TP, dup, TP → (51 + 50·2/3)/101', () => {
    // Two objects. Sorted: A 0.9 (TP), A again 0.8 (FP: A is taken), B 0.7 (TP).
    // recall [.5, .5, 1], precision [1, .5, 2/3] → envelope [1, 2/3, 2/3]:
    // r = 0 .. 0.50 (51 points) read index 0 → 1; r = 0.51 .. 1 (50 points) read index 2 → 2/3.
    const m = one([gt(A), gt(B)], [det(A, 0.9), det([0, 1, 100, 100], 0.8), det(B, 0.7)]);
    close(m.ap, (51 + (50 * 2) / (3 + 2.220446049250313e-16)) / 101);
    assert.ok(m.ap < 0.84 && m.ap > 0.83);
  });

  it('a missed object: one of two found with the top score → recall 0.5, AP = 51/101', () => {
    // recall [0.5], precision [1]: points 0 .. 0.50 are 51 of precision 1, the other 50 are past the last recall: 0.
    const m = one([gt(A), gt(B)], [det(A, 0.9)]);
    close(m.ap, 51 / 101);
    close(m.ap50, 51 / 101);
    assert.equal(m.objects, 2);
  });

  it('images are pooled per class: FP 0.8 in one image above TP 0.6 in another, an object missed → 0.5 · 51/101', () => {
    // Sorted over both images: FP, TP. recall [0, .5], precision [0, .5] → envelope [.5, .5]; 51 points of 0.5.
    const truth = [{ objects: [gt(A)] }, { objects: [gt(B)] }];
    const m = evaluateDetections(truth, [[det(A, 0.6)], [det(FAR, 0.8)]], ['thing']);
    close(m.ap, (0.5 * 51) / 101);
  });

  describe('ignored objects neither help nor hurt', () => {
    const crowd: Box = [300, 0, 200, 200];
    const inCrowd: Box = [310, 10, 20, 20]; // plain IoU with the crowd 400/40000 = 0.01, over its own area 1

    it('an ignored object left unfound is not missed', () => {
      close(one([gt(A), gt(B, 0, true)], [det(A, 0.9)]).ap, 1);
      // the same object not ignored is a miss: 51/101
      close(one([gt(A), gt(B, 0, false)], [det(A, 0.9)]).ap, 51 / 101);
    });

    it('a detection on an ignored object is not a false positive, even ranked first', () => {
      close(one([gt(A), gt(B, 0, true)], [det(B, 0.95), det(A, 0.9)]).ap, 1);
      close(one([gt(A)], [det(B, 0.95), det(A, 0.9)]).ap, 0.5); // without the object there, it is one
    });

    it('nor is it a true positive: finding only the ignored object scores 0', () => {
      assert.equal(one([gt(A), gt(B, 0, true)], [det(B, 0.95)]).ap, 0);
    });

    it("crowd regions use intersection over the detection's area, and take any number of detections", () => {
      const m = one([gt(A), gt(crowd, 0, true)], [det(inCrowd, 0.97), det([350, 50, 30, 30], 0.96), det(A, 0.9)]);
      close(m.ap, 1); // with plain IoU both would be false positives ranked first: AP 1/3
      assert.equal(m.objects, 1);
    });

    it('a regular object is preferred to an ignored one that overlaps the detection better', () => {
      // The detection is A itself; the crowd covers it (crowd overlap 1 too). Matched to A: a TP, AP 1; to the crowd: AP 0.
      close(one([gt([0, 0, 500, 500], 0, true), gt(A)], [det(A, 0.9)]).ap, 1);
      // and an object already taken is not given to a second detection through the crowd's flag
      close(one([gt([0, 0, 500, 500], 0, true), gt(A), gt(B)], [det(A, 0.9), det(A, 0.8), det(B, 0.7)]).ap, 1);
    });
  });

  it('a class without ground truth is left out of the means (COCO: -1), whatever its detections', () => {
    const truth = [{ objects: [gt(A, 0), gt(B, 2, true)] }];
    const preds = [[det(A, 0.9, 0), det(B, 0.99, 1), det(FAR, 0.98, 1), det(B, 0.97, 2)]];
    const m = evaluateDetections(truth, preds, ['a', 'b', 'c']);
    close(m.ap, 1);
    close(m.ap50, 1);
    assert.deepEqual(m.perClass[1], { label: 'b', ap: -1, ap50: -1, objects: 0 });
    assert.deepEqual(m.perClass[2], { label: 'c', ap: -1, ap50: -1, objects: 0 }); // only an ignored object
    assert.equal(m.objects, 1);
  });

  it('no class with ground truth: 0, not NaN or -1', () => {
    const m = evaluateDetections([{ objects: [] }, { objects: [gt(A, 0, true)] }], [[det(A, 0.5)], []], ['a']);
    assert.deepEqual([m.ap, m.ap50, m.ap75, m.objects], [0, 0, 0, 0]);
    const empty = evaluateDetections([], [], ['a']);
    assert.deepEqual([empty.ap, empty.images], [0, 0]);
  });

  describe('maxDetections', () => {
    it('cuts each image to its highest-scored detections: 3 objects, 3 hits, max 2 → recall 2/3, AP 67/101', () => {
      // recall [1/3, 2/3]: points 0 .. 0.66 (67) read precision 1; 0.67 .. 1 are past the last recall.
      const objects = [gt(A), gt(B), gt(FAR)];
      const dets = [det(FAR, 0.7), det(A, 0.9), det(B, 0.8)];
      close(one(objects, dets, { maxDetections: 2 }).ap, 67 / 101);
      close(one(objects, dets).ap, 1);
    });

    it('the default is 100: a true positive ranked 101st is cut', () => {
      const fps = Array.from({ length: 100 }, (_, i) => det([1000 + 40 * i, 0, 30, 30], 0.99 - i / 1000));
      const dets = [det(A, 0.5), ...fps];
      assert.equal(one([gt(A)], dets).ap, 0);
      // with room for it: recall reaches 1 at the 101st detection, precision 1/101 there
      close(one([gt(A)], dets, { maxDetections: 101 }).ap, 1 / 101);
    });

    it('as in pycocotools, the cap is per image and per class: two classes of two hits each, max 2 → both 1', () => {
      const truth = [{ objects: [gt(A, 0), gt(B, 0), gt(FAR, 1), gt([600, 0, 20, 20], 1)] }];
      const preds = [[det(A, 0.9, 0), det(B, 0.8, 0), det(FAR, 0.7, 1), det([600, 0, 20, 20], 0.6, 1)]];
      const m = evaluateDetections(truth, preds, ['a', 'b'], { maxDetections: 2 });
      close(m.perClass[0].ap, 1);
      close(m.perClass[1].ap, 1);
      // and per image: a second image's detections do not count against the first's
      const two = evaluateDetections(
        [{ objects: [gt(A), gt(B)] }, { objects: [gt(A), gt(B)] }],
        [
          [det(A, 0.9), det(B, 0.8)],
          [det(A, 0.7), det(B, 0.6)],
        ],
        ['a'],
        {
          maxDetections: 2,
        },
      );
      close(two.ap, 1);
    });
  });

  it('refuses mismatched inputs and labels that are not class indices', () => {
    assert.throws(() => evaluateDetections([{ objects: [] }], [], ['a']), /1 images of ground truth but predictions for 0/);
    assert.throws(() => evaluateDetections([{ objects: [gt(A, 1)] }], [[]], ['a']), /object label 1/);
    assert.throws(() => evaluateDetections([{ objects: [] }], [[det(A, 0.5, -1)]], ['a']), /detection label -1/);
    assert.throws(() => evaluateDetections([{ objects: [] }], [[det(A, NaN)]], ['a']), /score/);
    assert.throws(() => one([], [], { maxDetections: 0 }), /maxDetections/);
  });
});

describe('evaluateDetections against pycocotools', () => {
  // test/fixtures/coco-eval.py made this: 16 images of random boxes (some crowds, duplicates, wrong classes, tied
  // scores, a class with detections and no ground truth, an image with 10 objects of one class) and COCOeval's numbers.
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/coco-eval.json', import.meta.url), 'utf8')) as {
    classes: string[];
    images: { objects: GroundTruth[] }[];
    predictions: Detection[][];
    coco: Record<'maxDets100' | 'maxDets5', { ap: number; ap50: number; ap75: number; perClass: { ap: number; ap50: number }[] }>;
  };

  for (const [key, maxDetections] of [
    ['maxDets100', 100],
    ['maxDets5', 5],
  ] as const) {
    it(`the same AP, AP50, AP75 and per-class AP (${key})`, () => {
      const want = fixture.coco[key];
      const m = evaluateDetections(fixture.images, fixture.predictions, fixture.classes, { maxDetections });
      close(m.ap, want.ap, 'ap');
      close(m.ap50, want.ap50, 'ap50');
      close(m.ap75, want.ap75, 'ap75');
      m.perClass.forEach((c, k) => {
        close(c.ap, want.perClass[k].ap, `${c.label} ap`);
        close(c.ap50, want.perClass[k].ap50, `${c.label} ap50`);
      });
    });
  }

  it('the fixture is not trivial: the cap changes the answer, and AP is far from 0 and 1', () => {
    assert.notEqual(fixture.coco.maxDets5.ap, fixture.coco.maxDets100.ap);
    assert.ok(fixture.coco.maxDets100.ap > 0.1 && fixture.coco.maxDets100.ap < 0.9);
  });
});

describe('detectionReport', () => {
  it('AP, AP50, AP75 overall, then a row per class; classes without objects say n/a', () => {
    const m = evaluateDetections([{ objects: [gt(A, 0), gt(B, 0)] }], [[det(A, 0.9, 0)]], ['cat', 'dog']);
    const r = detectionReport('test', m);
    const lines = r.split('\n');
    assert.match(lines[0], /^test: AP 0\.505, AP50 0\.505, AP75 0\.505 .*1 image, 2 objects/);
    assert.deepEqual(lines.slice(1), [
      '| class | objects | AP    | AP50  |',
      '|-------|---------|-------|-------|',
      '| cat   | 2       | 0.505 | 0.505 |',
      '| dog   | 0       | n/a   | n/a   |',
    ]);
  });
});

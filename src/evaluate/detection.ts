// Object-detection evaluation as the field reports it: COCO's box AP.
//
// evaluateDetections follows pycocotools' COCOeval with iouType 'bbox', area range 'all' and maxDets 100
// (cocodataset/cocoapi, PythonAPI/pycocotools/cocoeval.py: computeIoU, evaluateImg, accumulate, summarize;
// the box overlap is bbIou in common/maskApi.c). Written from reading it, step for step:
//
// - Per image and class, detections are sorted by score (a stable sort, as its mergesort argsort) and cut to
//   maxDets = 100. The cut is per image *per category*: evaluate() calls evaluateImg(imgId, catId, areaRng,
//   maxDets[-1]) for each image and category, and computeIoU cuts each (image, category) list the same way,
//   so COCO's "maxDets=100" allows 100 detections of every class in an image. We do the same.
// - Ground truths are ordered regular first, ignored last (stable). Ignored objects are COCO's crowd regions
//   (iscrowd: COCOeval sets ignore = iscrowd) and VOC's difficult ones: for them the overlap is
//   intersection / detection area (bbIou's crowd case), and one may be matched by any number of detections.
//   For VOC's difficult objects that is COCO's rule, not the VOC devkit's (which uses plain IoU).
// - At each IoU threshold .50:.05:.95, each detection in score order takes, among the ground truths not yet
//   matched (crowds always available), the one of best overlap ≥ the threshold (a later one wins a tie, as
//   the `<` test there does); it stops looking at ignored ones once it holds a regular one. Matched to an
//   ignored object, the detection is ignored too: neither a true nor a false positive. Unmatched, and
//   duplicates of an object already taken, are false positives.
// - Per class, the detections of all images are put in one list (images in order, each already sorted) and
//   stably sorted by score; recall = TP / (regular objects), precision = TP / (TP + FP + eps). Precision is
//   made monotone from the right, then read at the 101 recall points 0:.01:1 (at the first index whose
//   recall ≥ r; 0 past the last recall reached). AP is the mean of those. (With eps = np.spacing(1), as there,
//   a perfect detector scores 1 - 2e-16, not 1.)
// - A class with no regular object in the data gets -1 in COCO's precision array and summarize() leaves it
//   out of every mean; so do we (its perClass row says -1, the means never see it).
import { usageError } from '../core/errors.js';
import type { Box, GroundTruth } from '../data/detection/types.js';
import { table } from './report.js';

export interface Detection {
  /** Index into the set's `classes`. */
  label: number;
  score: number;
  box: Box;
}

export interface DetectionMetrics {
  /** AP averaged over IoU thresholds .50:.05:.95 and over the classes that have ground truth (COCO's AP). */
  ap: number;
  /** AP at IoU .50 (Pascal VOC's threshold, with COCO's 101-point interpolation). */
  ap50: number;
  /** AP at IoU .75. */
  ap75: number;
  /**
   * One row per class, in the order of `classes`. `objects` counts its objects that are not ignored; a class
   * with none has ap = ap50 = -1 (COCO's mark for an absent category) and is left out of ap, ap50 and ap75.
   */
  perClass: { label: string; ap: number; ap50: number; objects: number }[];
  images: number;
  /** Objects that count (not ignored), over all classes. */
  objects: number;
}

/** COCO's IoU thresholds, np.linspace(.5, .95, 10) computed as numpy does (i * step + start, the last exact). */
const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : i * ((0.95 - 0.5) / 9) + 0.5));
/** COCO's recall points, np.linspace(0, 1, 101). */
const RECALL_POINTS = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * 0.01));
/** np.spacing(1), which COCO adds to precision's denominator. */
const EPS = 2.220446049250313e-16;

/**
 * bbIou (maskApi.c): intersection over union of two [x, y, w, h] boxes, or, for a crowd region,
 * intersection over the detection's area. Boxes that do not overlap (or are empty) give 0, never NaN.
 */
function overlap(d: Box, g: Box, crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (!(w > 0)) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (!(h > 0)) return 0;
  const i = w * h;
  const da = d[2] * d[3];
  return i / (crowd ? da : da + g[2] * g[3] - i);
}

/** Intersection over union of two [x, y, w, h] boxes in pixels; 0 when they do not overlap. */
export function iou(a: Box, b: Box): number {
  return overlap(a, b, false);
}

const byScore = (a: Detection, b: Detection) => b.score - a.score;

/**
 * Greedy class-aware non-maximum suppression: highest score first, a detection is dropped when its IoU with one
 * already kept of the same class is above `iou` (strictly, as maskApi.c's bbNms); boxes of different classes never
 * suppress each other. The result is sorted by score, descending (ties keep their input order), at most `max` long.
 */
export function nms(dets: Detection[], o: { iou?: number; max?: number } = {}): Detection[] {
  const threshold = o.iou ?? 0.5;
  const max = o.max ?? 100;
  const kept: Detection[] = [];
  for (const d of [...dets].sort(byScore)) {
    if (kept.length >= max) break;
    if (kept.some((k) => k.label === d.label && iou(k.box, d.box) > threshold)) continue;
    kept.push(d);
  }
  return kept;
}

/** One image's part of one class, as evaluateImg leaves it: its detections in order and what each was at each threshold. */
interface ImageResult {
  scores: number[];
  /** [threshold][detection]: matched to an object. */
  matched: boolean[][];
  /** [threshold][detection]: matched to an ignored object, so neither TP nor FP. */
  ignored: boolean[][];
}

/** evaluateImg for one image and class: the greedy matching at every IoU threshold. */
function matchImage(gts: GroundTruth[], dts: Detection[]): ImageResult {
  // Regular objects first, ignored last; stable, as the mergesort argsort on the ignore flag.
  const gt = [...gts.filter((g) => !g.ignore), ...gts.filter((g) => g.ignore)];
  const ious = dts.map((d) => gt.map((g) => overlap(d.box, g.box, g.ignore)));
  const matched: boolean[][] = [];
  const ignored: boolean[][] = [];
  for (const t of IOU_THRESHOLDS) {
    const taken = new Array<boolean>(gt.length).fill(false);
    const m = new Array<boolean>(dts.length).fill(false);
    const ig = new Array<boolean>(dts.length).fill(false);
    for (let d = 0; d < dts.length; d++) {
      let best = Math.min(t, 1 - 1e-10);
      let match = -1;
      for (let g = 0; g < gt.length; g++) {
        if (taken[g] && !gt[g].ignore) continue;
        // Holding a regular object, do not trade it for an ignored one.
        if (match > -1 && !gt[match].ignore && gt[g].ignore) break;
        if (ious[d][g] < best) continue;
        best = ious[d][g];
        match = g;
      }
      if (match === -1) continue;
      m[d] = true;
      ig[d] = gt[match].ignore;
      taken[match] = true;
    }
    matched.push(m);
    ignored.push(ig);
  }
  return { scores: dts.map((d) => d.score), matched, ignored };
}

/** accumulate for one class and one threshold: the 101 interpolated precisions. */
function interpolatedPrecision(matched: boolean[], ignored: boolean[], positives: number): number[] {
  const n = matched.length;
  const recall = new Array<number>(n);
  const precision = new Array<number>(n);
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < n; j++) {
    // An ignored detection stays in the list (COCO keeps it in the cumulative sums) but adds to neither count.
    if (!ignored[j]) {
      if (matched[j]) tp++;
      else fp++;
    }
    recall[j] = tp / positives;
    precision[j] = tp / (fp + tp + EPS);
  }
  for (let j = n - 1; j > 0; j--) if (precision[j] > precision[j - 1]) precision[j - 1] = precision[j];
  const q = new Array<number>(RECALL_POINTS.length).fill(0);
  let j = 0;
  for (let r = 0; r < RECALL_POINTS.length; r++) {
    while (j < n && recall[j] < RECALL_POINTS[r]) j++; // np.searchsorted(recall, r, side='left')
    if (j === n) break; // past the last recall reached: 0
    q[r] = precision[j];
  }
  return q;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * COCO box AP (see the top of this file): `truth[i]` and `predictions[i]` are image i's objects and detections,
 * labels index `classes`. `maxDetections` (default 100, COCO's maxDets) caps the detections of each class in
 * each image, highest scores kept.
 */
export function evaluateDetections(
  truth: { objects: GroundTruth[] }[],
  predictions: Detection[][],
  classes: string[],
  o: { maxDetections?: number } = {},
): DetectionMetrics {
  const maxDet = o.maxDetections ?? 100;
  if (!Number.isInteger(maxDet) || maxDet < 1) throw usageError(`maxDetections must be a positive integer, not ${maxDet}`);
  if (truth.length !== predictions.length)
    throw usageError(`${truth.length} images of ground truth but predictions for ${predictions.length}`);
  const K = classes.length;
  const checkLabel = (label: number, what: string, i: number) => {
    if (!Number.isInteger(label) || label < 0 || label >= K)
      throw usageError(`image ${i}: ${what} label ${label} is not a class index (0..${K - 1})`);
  };
  // Each image's objects and detections split by class, keeping their order.
  const gtBy = truth.map((t, i) => {
    const by: GroundTruth[][] = Array.from({ length: K }, () => []);
    for (const g of t.objects) {
      checkLabel(g.label, 'object', i);
      by[g.label].push(g);
    }
    return by;
  });
  const dtBy = predictions.map((p, i) => {
    const by: Detection[][] = Array.from({ length: K }, () => []);
    for (const d of p) {
      checkLabel(d.label, 'detection', i);
      if (!Number.isFinite(d.score)) throw usageError(`image ${i}: detection score ${d.score} is not a finite number`);
      by[d.label].push(d);
    }
    return by;
  });

  const T = IOU_THRESHOLDS.length;
  // precision[k][t] = the 101 interpolated precisions, or null for a class without objects (COCO's -1).
  const precision: (number[][] | null)[] = [];
  const objects: number[] = [];
  for (let k = 0; k < K; k++) {
    let positives = 0;
    const results: ImageResult[] = [];
    for (let i = 0; i < truth.length; i++) {
      const gts = gtBy[i][k];
      const dts = dtBy[i][k];
      if (!gts.length && !dts.length) continue;
      positives += gts.filter((g) => !g.ignore).length;
      results.push(matchImage(gts, [...dts].sort(byScore).slice(0, maxDet)));
    }
    objects.push(positives);
    if (positives === 0) {
      precision.push(null);
      continue;
    }
    // All images' detections of the class in one list, images in order, then stably sorted by score.
    const all = results.flatMap((r) => r.scores.map((score, d) => ({ score, r, d })));
    all.sort((a, b) => b.score - a.score);
    const perT: number[][] = [];
    for (let t = 0; t < T; t++) {
      const matched = all.map((x) => x.r.matched[t][x.d]);
      const ignored = all.map((x) => x.r.ignored[t][x.d]);
      perT.push(interpolatedPrecision(matched, ignored, positives));
    }
    precision.push(perT);
  }

  const present = precision.filter((p): p is number[][] => p !== null);
  // COCO's summarize() gives -1 when no class has ground truth; we give 0, so that the numbers stay numbers
  // (and perClass and objects = 0 say why).
  const meanAt = (ts: number[]) => (present.length ? mean(present.flatMap((p) => ts.flatMap((t) => p[t]))) : 0);
  const allT = IOU_THRESHOLDS.map((_, t) => t);
  return {
    ap: meanAt(allT),
    ap50: meanAt([0]),
    ap75: meanAt([5]), // IOU_THRESHOLDS[5] === 0.75
    perClass: classes.map((label, k) => {
      const p = precision[k];
      return p ? { label, ap: mean(p.flat()), ap50: mean(p[0]), objects: objects[k] } : { label, ap: -1, ap50: -1, objects: objects[k] };
    }),
    images: truth.length,
    objects: objects.reduce((a, b) => a + b, 0),
  };
}

/** Detection metrics as a person reads them: COCO's AP, AP50 and AP75, then AP and AP50 per class. */
export function detectionReport(title: string, m: DetectionMetrics): string {
  const f = (x: number) => x.toFixed(3);
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  return [
    `${title}: AP ${f(m.ap)}, AP50 ${f(m.ap50)}, AP75 ${f(m.ap75)} (COCO: AP over IoU .50:.95; ${n(m.images, 'image')}, ${n(m.objects, 'object')})`,
    table(
      ['class', 'objects', 'AP', 'AP50'],
      m.perClass.map((c) => (c.objects ? [c.label, c.objects, f(c.ap), f(c.ap50)] : [c.label, 0, 'n/a', 'n/a'])),
    ),
  ].join('\n');
}

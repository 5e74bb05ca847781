// CenterNet's training targets (Zhou et al. 2019, "Objects as Points", §3): for each object, a
// Gaussian peak at its centre cell in its class's heatmap, and at that cell the centre's offset
// within the cell. The size is a target at every cell of the Gaussian, weighted by it, as TTFNet
// does (Liu et al. 2020, "Training-Time-Friendly Network"): with a few hundred boxes, one cell per
// object is little to learn sizes from. Sizes are log(w/stride), log(h/stride): an L1 loss on them
// weighs a 20% error the same on a small and a large pedestrian.
import type { GroundTruth } from '../data/detection/types.js';

/** Values per cell of a target grid: C heatmap values, log-size (2), offset (2), centre mask (1), size weight (1). */
export const targetDepth = (classes: number) => classes + 6;

/**
 * CornerNet's radius as CenterNet computes it (gaussian_radius in its utils/image.py): a shift of
 * a box's corners that keeps its IoU with the true box near `minOverlap`, the smallest of three
 * cases. Each root is divided by 2 rather than 2a, as in that code: the exact roots give radii
 * about 4x smaller (0.6 cells for a 6x6-cell object), and the detectors were tuned with these.
 */
export function gaussianRadius(h: number, w: number, minOverlap = 0.7): number {
  const root = (_a: number, b: number, c: number) => (b + Math.sqrt(Math.max(0, b * b - 4 * _a * c))) / 2;
  const r1 = root(1, h + w, (w * h * (1 - minOverlap)) / (1 + minOverlap));
  const r2 = root(4, 2 * (h + w), (1 - minOverlap) * w * h);
  const r3 = root(4 * minOverlap, -2 * minOverlap * (h + w), (minOverlap - 1) * w * h);
  return Math.min(r1, r2, r3);
}

/**
 * The target grid of one placed image (boxes in canvas pixels): `grid` = canvas / stride cells,
 * row-major, targetDepth(classes) values each. Ignored objects are not targets.
 */
export function encodeTargets(
  objects: readonly GroundTruth[],
  o: { classes: number; stride: number; gridH: number; gridW: number },
): Float32Array {
  const { classes, stride, gridH, gridW } = o;
  const depth = targetDepth(classes);
  const out = new Float32Array(gridH * gridW * depth);
  for (const obj of objects) {
    if (obj.ignore) continue;
    const [x, y, w, h] = obj.box;
    if (w <= 0 || h <= 0) continue;
    const cx = (x + w / 2) / stride;
    const cy = (y + h / 2) / stride;
    const ix = Math.min(gridW - 1, Math.max(0, Math.floor(cx)));
    const iy = Math.min(gridH - 1, Math.max(0, Math.floor(cy)));
    const radius = Math.max(0, Math.floor(gaussianRadius(h / stride, w / stride)));
    const sigma = (2 * radius + 1) / 6;
    for (let gy = Math.max(0, iy - radius); gy <= Math.min(gridH - 1, iy + radius); gy++) {
      for (let gx = Math.max(0, ix - radius); gx <= Math.min(gridW - 1, ix + radius); gx++) {
        const v = gx === ix && gy === iy ? 1 : Math.exp(-((gx - ix) ** 2 + (gy - iy) ** 2) / (2 * sigma * sigma));
        const cell = (gy * gridW + gx) * depth;
        out[cell + obj.label] = Math.max(out[cell + obj.label], v);
        // Where two objects' Gaussians meet, the cell regresses the size of the one nearer its centre.
        if (v > out[cell + classes + 5]) {
          out[cell + classes] = Math.log(w / stride);
          out[cell + classes + 1] = Math.log(h / stride);
          out[cell + classes + 5] = v;
        }
      }
    }
    const cell = (iy * gridW + ix) * depth;
    out[cell + classes + 2] = cx - ix;
    out[cell + classes + 3] = cy - iy;
    out[cell + classes + 4] = 1;
  }
  return out;
}

// From a detector's output grid to boxes: CenterNet's decoding. A cell is a detection when its
// class score is the maximum of its 3x3 neighbourhood (the peak search that replaces anchor
// matching); its box is the centre (cell + offset) · stride, sized exp(log-size) · stride.
// Plain loops on the output's numbers, so any runtime (TF.js, ONNX Runtime, a web page) decodes alike.
import type { Box } from '../data/detection/types.js';
import { unplaceBox, type Placement, type Size } from '../data/detection/geometry.js';
import { nms, type Detection } from './detection.js';

export interface DecodeOptions {
  classes: number;
  stride: number;
  /** Lowest score kept (evaluation keeps nearly all: AP is computed over the whole ranking). */
  threshold: number;
  /** At most this many peaks per image, best first (COCO counts 100). */
  topK?: number;
  /** Class-wise non-maximum suppression at this IoU after decoding (default DEFAULT_NMS_IOU; 1 turns it off). */
  nmsIou?: number;
}

/**
 * 0.7, not the usual 0.5: pedestrians walking side by side overlap by more than half, and
 * CenterNet's peaks need little suppression (its paper uses none).
 */
export const DEFAULT_NMS_IOU = 0.7;

/** One image's output grid (`data`, h x w x (C + 4), row-major) decoded to boxes in canvas pixels. */
export function decodeGrid(data: ArrayLike<number>, gridH: number, gridW: number, o: DecodeOptions): Detection[] {
  const { classes, stride } = o;
  const depth = classes + 4;
  const score = (y: number, x: number, c: number) => data[(y * gridW + x) * depth + c];
  const found: Detection[] = [];
  for (let y = 0; y < gridH; y++) {
    for (let x = 0; x < gridW; x++) {
      for (let c = 0; c < classes; c++) {
        const s = score(y, x, c);
        if (s < o.threshold) continue;
        let peak = true;
        for (let dy = -1; dy <= 1 && peak; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < gridH && xx >= 0 && xx < gridW && score(yy, xx, c) > s) {
              peak = false;
              break;
            }
          }
        if (!peak) continue;
        const at = (y * gridW + x) * depth + classes;
        const w = Math.exp(data[at]) * stride;
        const h = Math.exp(data[at + 1]) * stride;
        const cx = (x + data[at + 2]) * stride;
        const cy = (y + data[at + 3]) * stride;
        found.push({ label: c, score: s, box: [cx - w / 2, cy - h / 2, w, h] });
      }
    }
  }
  found.sort((a, b) => b.score - a.score);
  const top = found.slice(0, o.topK ?? 100);
  const iou = o.nmsIou ?? DEFAULT_NMS_IOU;
  return iou >= 1 ? top : nms(top, { iou, max: o.topK ?? 100 });
}

/** `count` images' grids, one after another in `data`, each decoded. */
export function decodeGrids(data: Float32Array, count: number, gridH: number, gridW: number, o: DecodeOptions): Detection[][] {
  const per = gridH * gridW * (o.classes + 4);
  return Array.from({ length: count }, (_, k) => decodeGrid(data.subarray(k * per, (k + 1) * per), gridH, gridW, o));
}

/** Canvas boxes back in the original image's pixels; boxes left with no area are dropped. */
export function toOriginal(dets: Detection[], p: Placement, src: Size): Detection[] {
  return dets.map((d) => ({ ...d, box: unplaceBox(d.box, p, src) as Box })).filter((d) => d.box[2] > 0 && d.box[3] > 0);
}

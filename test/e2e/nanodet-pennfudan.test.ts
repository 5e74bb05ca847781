// The nanodet base on Penn-Fudan's pedestrians (the shared data set, when it is beside the
// checkout; PENNFUDAN_DIR names another place): on ONNX Runtime, its own COCO person class scores
// highest at a cell inside a pedestrian's box, as a COCO detector's should.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { useBackend } from '../../src/backend/index.js';
import { createOnnxSession } from '../../src/backend/onnx-runtime.js';
import { NANODET_OUTPUTS } from '../../src/bases/image/nanodet.js';
import { loadImageBase } from '../../src/bases/index.js';
import type { OnnxBase } from '../../src/bases/types.js';
import { decodeImageFile } from '../../src/data/images.js';
import { root } from '../helpers.js';

const DIR = process.env.PENNFUDAN_DIR ?? join(root, '..', 'shared', 'data', 'pennfudan');
const ANNOTATIONS = join(DIR, 'annotations.json');
/** Images checked: every one with PENNFUDAN_ALL=1 (the measurement in docs/detection.md), else the first 20. */
const COUNT = process.env.PENNFUDAN_ALL ? Infinity : 20;
const SIZE = 416;
const PERSON = 0;
const CLASSES = 80;

interface Coco {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { image_id: number; bbox: [number, number, number, number] }[];
}

test(
  'nanodet on Penn-Fudan: the person score peaks inside a pedestrian, where person is the top class',
  { skip: existsSync(ANNOTATIONS) ? false : `${ANNOTATIONS} absent: the shared data set is not beside this checkout` },
  async (t) => {
    await useBackend('wasm');
    const base = (await loadImageBase('nanodet')) as OnnxBase;
    const coco = JSON.parse(readFileSync(ANNOTATIONS, 'utf8')) as Coco;
    const session = await createOnnxSession(base.onnx.bytes);
    const strides = [8, 16, 32] as const;
    const names = strides.map((s) => NANODET_OUTPUTS.scores[s]);
    let hits = 0;
    let personTop = 0;
    let scoreSum = 0;
    const images = coco.images.slice(0, COUNT);
    const started = performance.now();
    try {
      for (const image of images) {
        const pixels = await decodeImageFile(join(DIR, image.file_name), { height: SIZE, width: SIZE, channels: 3 }, base.resize);
        const x = new Float32Array(3 * SIZE * SIZE);
        for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) x[c * SIZE * SIZE + p] = pixels[p * 3 + c] / 255;
        const out = await session.run({ input_1: { type: 'float32', data: x, dims: [1, 3, SIZE, SIZE] } }, names);
        // The cell (of any stride) where person scores highest, its centre in the image's pixels.
        let best = { score: -1, cx: 0, cy: 0, top: false };
        strides.forEach((stride, k) => {
          const scores = out.get(names[k])!.data;
          const side = SIZE / stride;
          for (let cell = 0; cell < side * side; cell++) {
            const row = scores.subarray(cell * CLASSES, (cell + 1) * CLASSES);
            if (row[PERSON] <= best.score) continue;
            const centre = (i: number) => (i + 0.5) * stride;
            const top = row.every((v) => v <= row[PERSON]);
            best = {
              score: row[PERSON],
              cx: (centre(cell % side) * image.width) / SIZE,
              cy: (centre(Math.floor(cell / side)) * image.height) / SIZE,
              top,
            };
          }
        });
        const boxes = coco.annotations.filter((a) => a.image_id === image.id).map((a) => a.bbox);
        if (boxes.some(([bx, by, bw, bh]) => best.cx >= bx && best.cx <= bx + bw && best.cy >= by && best.cy <= by + bh)) hits++;
        if (best.top) personTop++;
        scoreSum += best.score;
      }
    } finally {
      await session.release();
    }
    const n = images.length;
    const ms = (performance.now() - started) / n;
    t.diagnostic(
      `${n} images: person's peak inside a pedestrian ${hits}/${n}, person the top class there ${personTop}/${n}, mean peak score ${(scoreSum / n).toFixed(3)}, ${ms.toFixed(0)} ms per image (decode + ONNX Runtime)`,
    );
    assert.ok(hits >= 0.9 * n, `peak inside a pedestrian in ${hits} of ${n} images`);
    assert.ok(personTop >= 0.9 * n, `person the top class at its peak in ${personTop} of ${n} images`);
  },
);

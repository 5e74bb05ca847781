// A client that knows nothing of graft: plain @tensorflow/tfjs loads a detector directory that
// `graft train --head detect` wrote, letterboxes raw pixels as graft.json says, decodes the output
// grid as graft.json's `decoding` describes it, and prints the boxes in the original image's pixels.
// Usage: node plain-tfjs-detect.mjs MODEL_DIR PIXELS.json [THRESHOLD]   (PIXELS: [height][width][3] of 0-255)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const [dir, pixelsPath, threshold] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(join(dir, 'graft.json'), 'utf8'));
const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
const weights = Buffer.concat(modelJson.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(join(dir, p))));
const model = await tf.loadLayersModel(
  tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }),
);
const image = tf.tensor(JSON.parse(readFileSync(pixelsPath, 'utf8')), undefined, 'float32');
const [h, w] = image.shape;
// Letterbox: scale to fit, centre, pad with black.
const { height: H, width: W } = meta.input;
const scale = Math.min(W / w, H / h);
const [rw, rh] = [Math.round(w * scale), Math.round(h * scale)];
const [dx, dy] = [Math.floor((W - rw) / 2), Math.floor((H - rh) / 2)];
const resized = tf.image.resizeBilinear(image, [rh, rw]);
const canvas = resized.pad([
  [dy, H - rh - dy],
  [dx, W - rw - dx],
  [0, 0],
]);
const { mean, std } = meta.normalize;
const x = canvas.div(255).sub(tf.tensor1d(mean)).div(tf.tensor1d(std)).expandDims(0);
const y = model.predict(x);
// Decode: a class score that is its 3x3 neighbourhood's maximum is a centre.
const C = meta.labels.length;
const { stride } = meta.decoding;
const heat = y.slice([0, 0, 0, 0], [1, -1, -1, C]);
const peaks = heat.equal(tf.maxPool(heat, 3, 1, 'same'));
const [grid, isPeak] = [y.arraySync()[0], peaks.arraySync()[0]];
const boxes = [];
grid.forEach((row, gy) =>
  row.forEach((cell, gx) => {
    for (let c = 0; c < C; c++) {
      if (!isPeak[gy][gx][c] || cell[c] < Number(threshold ?? meta.scoreThreshold)) continue;
      const [bw, bh] = [Math.exp(cell[C]) * stride, Math.exp(cell[C + 1]) * stride];
      const [cx, cy] = [(gx + cell[C + 2]) * stride, (gy + cell[C + 3]) * stride];
      // Back to the original image's pixels, clipped to it.
      const [x0, y0] = [Math.max(0, (cx - bw / 2 - dx) / scale), Math.max(0, (cy - bh / 2 - dy) / scale)];
      const [x1, y1] = [Math.min(w, (cx + bw / 2 - dx) / scale), Math.min(h, (cy + bh / 2 - dy) / scale)];
      boxes.push({ label: meta.labels[c], score: cell[c], box: [x0, y0, x1 - x0, y1 - y0] });
    }
  }),
);
boxes.sort((a, b) => b.score - a.score);
console.log(JSON.stringify({ boxes }));

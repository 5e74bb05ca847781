// A client that knows nothing of graft: plain @tensorflow/tfjs loads a model directory that
// `graft train` wrote, preprocesses raw pixels as graft.json says, and prints the probabilities
// (of every task, for a multi-task model).
// Usage: node plain-tfjs-predict.mjs MODEL_DIR PIXELS.json   (PIXELS: [height][width][channels] of 0-255)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const [dir, pixelsPath] = process.argv.slice(2);
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
const { mean, std } = meta.normalize;
const pixels = tf.tensor(JSON.parse(readFileSync(pixelsPath, 'utf8')), undefined, 'float32');
const x = pixels.div(255).sub(tf.tensor1d(mean)).div(tf.tensor1d(std)).expandDims(0);
const y = model.predict(x);
if (Array.isArray(y)) {
  // A multi-task model: one output per task, named after it (graft.json lists them in order).
  const outputs = Object.fromEntries(model.outputNames.map((name, i) => [name, Array.from(y[i].dataSync())]));
  console.log(JSON.stringify({ tasks: meta.tasks.map((t) => t.name), outputs }));
} else {
  console.log(JSON.stringify({ labels: meta.labels, probs: Array.from(y.dataSync()) }));
}

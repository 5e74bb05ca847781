// The code a person pastes to use an exported model: in a web page with @tensorflow/tfjs, or in
// Node with onnxruntime-node. Shipped in the zip's README.txt and shown on the export screen.

export function exportSnippet(format: string, name: string): string {
  if (format === 'onnx')
    return `${name}: an ONNX model (model.onnx) and its sidecar (model.onnx.json: labels, input size and layout, normalisation).

// Node: npm install onnxruntime-node sharp
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';

const meta = JSON.parse(readFileSync('model.onnx.json', 'utf8'));
const session = await ort.InferenceSession.create('model.onnx');
const { height, width, channels, name } = meta.input;
const pixels = await sharp('photo.jpg').resize(width, height, { fit: 'cover' }).removeAlpha().raw().toBuffer();
const x = Float32Array.from(pixels, (v, i) => (v / 255 - meta.normalize.mean[i % channels]) / meta.normalize.std[i % channels]);
const out = await session.run({ [name]: new ort.Tensor('float32', x, [1, height, width, channels]) });
const probabilities = out[meta.output].data;
console.log(meta.labels.map((label, i) => \`\${label}: \${probabilities[i].toFixed(3)}\`));
`;
  return `${name}: a TF.js LayersModel (model.json, weights.bin) and graft.json (labels, input size, normalisation).

<!-- In a web page: serve the three files next to it. -->
<script src="https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js"></script>
<img id="photo" src="photo.jpg">
<script>
(async () => {
  const meta = await (await fetch('graft.json')).json();
  const model = await tf.loadLayersModel('model.json');
  const { height, width } = meta.input;
  const { mean, std } = meta.normalize;
  const x = tf.tidy(() =>
    tf.browser.fromPixels(document.getElementById('photo'))
      .resizeBilinear([height, width]).toFloat().div(255).sub(mean).div(std).expandDims(0));
  const probabilities = await model.predict(x).data();
  console.log(meta.labels.map((label, i) => label + ': ' + probabilities[i].toFixed(3)));
})();
</script>

// Node: npm install @tensorflow/tfjs
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
const weights = readFileSync('weights.bin');
const json = JSON.parse(readFileSync('model.json', 'utf8'));
const model = await tf.loadLayersModel(tf.io.fromMemory({ ...json, weightSpecs: json.weightsManifest[0].weights,
  weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length) }));
`;
}

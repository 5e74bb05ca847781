// graft/browser: a model directory `graft train` wrote, loaded from a URL and run in a page with
// @tensorflow/tfjs alone. graft.json says how the model sees (labels, input size, normalisation,
// resize mode; for a detector how its output grid decodes; for audio the spectrogram): this module
// does what graft's predict does with it and answers in the same shape. No Node built-ins here or
// in anything it imports, so esbuild bundles it for the browser platform (test/e2e/browser.test.ts
// checks the bundle's inputs).
//
//   import { loadModel } from 'graft/browser';
//   const model = await loadModel('/models/flowers/'); // model.json, weights.bin, graft.json
//   if (model.kind === 'detection') console.log((await model.predict(img)).boxes); // [{ label, score, box: [x, y, w, h] }]
//   else console.log((await model.predict(img, { top: 3 })).top); // [{ label, probability }]
//
// An audio classifier takes predictAudio(an AudioBuffer decoded at model.sampleRate). Whatever TF.js
// backend the page set is used: on cpu (the e2e test's) the answers are graft predict's within 1e-6;
// webgl computes in the GPU's precision (often 16-bit floats on phones) and may differ more.
import * as tf from '@tensorflow/tfjs';
import { clipImageSize, clipSpectrogram, isLogMel } from '../data/audio/spectrogram.js';
import { letterbox } from '../data/detection/geometry.js';
import type { Box } from '../data/detection/types.js';
import { decodeGrid, toOriginal } from '../evaluate/detection-decode.js';
import { topK } from '../evaluate/metrics.js';
import type { DetectionGraftJson, DetectionPrediction } from '../kinds/detection.js';
import type { ImageGraftJson, ImagePrediction } from '../kinds/image.js';
import { fitToInput, pageRgb, placeOnCanvas, type PageImage } from './pixels.js';

export type { PageImage } from './pixels.js';
export { fitToInput, flatten, pageRgb, placeOnCanvas, resample, rgbaOf, type Rgb } from './pixels.js';
export type { DetectionGraftJson, DetectionPrediction, ImageGraftJson, ImagePrediction };

/** A recording for an audio classifier: mono samples in [-1, 1] at the model's sample rate, or a Web Audio buffer at that rate. */
export type PageAudio = { samples: Float32Array; sampleRate: number } | AudioBuffer;

export interface LoadOptions {
  /** Passed to every fetch (headers for a model behind authentication, credentials, …). */
  requestInit?: RequestInit;
  /** A fetch to use instead of the page's. */
  fetch?: typeof fetch;
}

export interface PredictOptions {
  /** What the prediction's `file` says (default `input 1`, as graft predict calls an unnamed input). */
  name?: string;
}

/** Why a model cannot run here, or an input cannot be used. */
export class BrowserModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrowserModelError';
  }
}

/** (pixel/255 - mean) / std, computed as src/engine/tensors.ts computes it, as an NHWC batch of one. */
function toTensor(
  pixels: Uint8Array,
  size: { height: number; width: number; channels: 1 | 3 },
  n: ImageGraftJson['normalize'],
): tf.Tensor4D {
  const { height, width, channels } = size;
  if (pixels.length !== height * width * channels)
    throw new BrowserModelError(`expected ${height * width * channels} pixels, got ${pixels.length}`);
  const scale = n.std.map((s) => 1 / (255 * s));
  const shift = n.mean.map((m, c) => m / n.std[c]);
  const out = new Float32Array(pixels.length);
  for (let p = 0; p < pixels.length; p++) {
    const c = p % channels;
    out[p] = pixels[p] * scale[c] - shift[c];
  }
  return tf.tensor4d(out, [1, height, width, channels]);
}

async function run(model: tf.LayersModel, x: tf.Tensor4D): Promise<Float32Array> {
  const y = model.predict(x) as tf.Tensor;
  try {
    return (await y.data()) as Float32Array;
  } finally {
    tf.dispose([x, y]);
  }
}

/** An image classifier (or an audio one: its inputs are spectrogram images). */
export class BrowserClassifier {
  readonly kind = 'image';
  constructor(
    readonly model: tf.LayersModel,
    readonly meta: ImageGraftJson,
  ) {}

  /** Whether it hears recordings (predictAudio) rather than sees images (predict). */
  get audio(): boolean {
    return this.meta.medium?.kind === 'audio';
  }

  /** The `top` most probable classes (default 3), most probable first, as graft predict answers. */
  async predict(image: PageImage, o: PredictOptions & { top?: number } = {}): Promise<ImagePrediction> {
    if (this.audio) throw new BrowserModelError('this is an audio classifier: give it a recording with predictAudio');
    const { input, resize } = this.meta;
    return this.answer(fitToInput(pageRgb(image), input, resize ?? 'cover'), o);
  }

  /**
   * A recording, drawn as the model's spectrogram (src/data/audio/spectrogram.ts) and classified.
   * Resampling is the caller's: decode with an AudioContext at the model's rate (`sampleRate`).
   */
  async predictAudio(audio: PageAudio, o: PredictOptions & { top?: number } = {}): Promise<ImagePrediction> {
    const m = this.meta.medium;
    if (m?.kind !== 'audio') throw new BrowserModelError('this is an image classifier: give it an image with predict');
    // Such a model keeps its trunk on ONNX Runtime, which loadModel already refuses; this narrows the spec.
    if (!isLogMel(m.spec)) throw new BrowserModelError('this model hears through a front-end model (ONNX): serve it with graft serve');
    const samples = mono(audio);
    if (audio.sampleRate !== m.spec.sampleRate)
      throw new BrowserModelError(
        `the recording is at ${audio.sampleRate} Hz; this model hears ${m.spec.sampleRate} Hz (decode it with new AudioContext({ sampleRate: ${m.spec.sampleRate} }))`,
      );
    if (samples.length === 0) throw new BrowserModelError('the recording is empty (no samples)');
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    // src/data/audio/read.ts's SILENCE: graft refuses such a recording too.
    if (peak < 1e-4) throw new BrowserModelError('the recording is silent');
    return this.answer(clipSpectrogram(samples, m.spec).pixels, o);
  }

  /** The recording's sample rate this model hears, for an audio classifier. */
  get sampleRate(): number | undefined {
    return this.meta.medium?.kind === 'audio' ? this.meta.medium.spec.sampleRate : undefined;
  }

  /** Pixels already at the model's input (uint8 HWC, as graft decodes them) classified. */
  async answer(pixels: Uint8Array, o: PredictOptions & { top?: number } = {}): Promise<ImagePrediction> {
    const { input, normalize, labels } = this.meta;
    const probs = await run(this.model, toTensor(pixels, input, normalize));
    return { file: o.name ?? 'input 1', top: topK(probs, labels, o.top ?? 3) };
  }

  dispose(): void {
    this.model.dispose();
  }
}

function mono(audio: PageAudio): Float32Array {
  if ('samples' in audio) return audio.samples;
  const n = audio.length;
  const out = new Float32Array(n);
  for (let c = 0; c < audio.numberOfChannels; c++) {
    const ch = audio.getChannelData(c);
    for (let i = 0; i < n; i++) out[i] += ch[i] / audio.numberOfChannels;
  }
  return out;
}

/** A CenterNet detector: boxes in pixels of the original image. */
export class BrowserDetector {
  readonly kind = 'detection';
  constructor(
    readonly model: tf.LayersModel,
    readonly meta: DetectionGraftJson,
  ) {}

  /** Boxes scoring at least `threshold` (default graft.json's scoreThreshold), best first, as graft predict answers. */
  async predict(image: PageImage, o: PredictOptions & { threshold?: number } = {}): Promise<DetectionPrediction> {
    const { input, labels, decoding, normalize } = this.meta;
    const rgb = pageRgb(image);
    const placement = letterbox(rgb, input);
    const grid = await run(this.model, toTensor(placeOnCanvas(rgb, placement, input.channels), input, normalize));
    const dets = decodeGrid(grid, input.height / decoding.stride, input.width / decoding.stride, {
      classes: labels.length,
      stride: decoding.stride,
      threshold: o.threshold ?? this.meta.scoreThreshold,
      topK: decoding.topK,
      nmsIou: decoding.nmsIou,
    });
    const boxes = toOriginal(dets, placement, rgb).map((b) => ({ label: labels[b.label], score: b.score, box: roundBox(b.box) }));
    return { file: o.name ?? 'input 1', boxes };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** As src/kinds/detection.ts rounds: a tenth of a pixel. */
const roundBox = (b: Box): Box => b.map((v) => Math.round(v * 10) / 10) as Box;

export type BrowserModel = BrowserClassifier | BrowserDetector;

/**
 * The model at `base`, a URL of the directory graft train wrote (model.json, weights.bin,
 * graft.json), relative to the page or absolute. Image classifiers (and audio ones) and detectors;
 * a model with a frozen trunk (a TF.js graph or ONNX base), a multi-task or a text model is refused.
 */
export async function loadModel(base: string | URL, o: LoadOptions = {}): Promise<BrowserModel> {
  const href = typeof base === 'string' ? base : base.href;
  const dir = new URL(href.endsWith('/') ? href : `${href}/`, typeof location === 'undefined' ? undefined : location.href);
  const get = o.fetch ?? fetch;
  const res = await get(new URL('graft.json', dir).href, o.requestInit);
  if (!res.ok) throw new BrowserModelError(`cannot fetch ${new URL('graft.json', dir).href}: ${res.status} ${res.statusText}`);
  const meta = (await res.json()) as { kind?: string; trunk?: { path?: unknown } | null; input?: unknown; labels?: unknown };
  if (typeof meta !== 'object' || meta === null) throw new BrowserModelError(`${dir.href}graft.json is not a model's description`);
  const kind = meta.kind ?? 'image';
  if (kind !== 'image' && kind !== 'detection')
    throw new BrowserModelError(`${dir.href} holds a ${kind} model: graft/browser runs image classifiers (and audio ones) and detectors`);
  // A classifier or a detector on a frozen base keeps its trunk beside the head: model.json alone is not the model.
  if (meta.trunk)
    throw new BrowserModelError(
      `${dir.href} keeps a frozen trunk (${String(meta.trunk.path)}, from a TF.js graph or ONNX base) beside its head: graft/browser runs only LayersModel grafts; serve it with graft serve`,
    );
  const model = await tf.loadLayersModel(new URL('model.json', dir).href, { requestInit: o.requestInit, fetchFunc: o.fetch });
  if (kind === 'detection') return new BrowserDetector(model, meta as DetectionGraftJson);
  const image = meta as ImageGraftJson;
  const m = image.medium;
  if (m?.kind === 'audio') {
    const s = clipImageSize(m.spec);
    if (s.height !== image.input.height || s.width !== image.input.width)
      throw new BrowserModelError(
        `${dir.href}graft.json: the spectrogram (${s.height}x${s.width}) is not the input (${image.input.height}x${image.input.width})`,
      );
  }
  return new BrowserClassifier(model, image);
}

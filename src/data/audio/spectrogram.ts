// A clip's log-mel spectrogram as an 8-bit greyscale image (a frame per row, a mel band per
// column), so audio goes through everything images do: splits, the feature cache keyed by pixels,
// the frozen trunk on ONNX Runtime, staged fine-tuning, export. Levels are decibels below the
// clip's loudest band, as librosa's power_to_db(ref=max, top_db=80): the picture does not change
// with the recording's gain, and 80 dB in 255 steps (0.31 dB) is finer than anything a model hears.
import type { AudioSpec, ImageSize } from '../types.js';
import { fitClip, type ClipFit } from './clip.js';
import { frameCount, logMel, type LogMel, type LogMelSpec } from './logmel.js';
import { speechMelFrames, type SpeechMelSpec } from './speech-mel.js';
import type { WaveformSpec } from './waveform.js';

/** Whether the spec is a front-end model's (which runs on ONNX Runtime, not in plain code). */
export const isModelFrontEnd = (spec: AudioSpec): spec is SpeechMelSpec => 'frontEnd' in spec && spec.frontEnd === 'speech-embedding-mel';

/** Whether the spec keeps the samples themselves (mu-law codes) for a base that hears the waveform. */
export const isWaveform = (spec: AudioSpec): spec is WaveformSpec => 'frontEnd' in spec && spec.frontEnd === 'mu-law';

/** Whether the spec is graft's own log-mel spectrogram (the one that has a picture's dB range). */
export const isLogMel = (spec: AudioSpec): spec is LogMelSpec => !('frontEnd' in spec);

/** Range of the image: its loudest band is 255, TOP_DB below it 0. */
export const TOP_DB = 80;

/** The image size of a spec's clips: frames x mels x 1, or samples x 1 x 1 for a waveform. */
export const clipImageSize = (spec: AudioSpec): ImageSize =>
  isWaveform(spec)
    ? { height: spec.clipSamples, width: 1, channels: 1 }
    : {
        height: isModelFrontEnd(spec) ? speechMelFrames(spec.clipSamples) : frameCount(spec.clipSamples, spec),
        width: spec.mels,
        channels: 1,
      };

/** `m` as pixels: 255 at its loudest band, 0 at TOP_DB below it or less. */
export function spectrogramPixels(m: LogMel): Uint8Array {
  let top = -Infinity;
  for (const v of m.db) top = Math.max(top, v);
  return Uint8Array.from(m.db, (v) => Math.round((255 * Math.max(0, v - top + TOP_DB)) / TOP_DB));
}

/** Samples at spec.sampleRate fitted to the clip and drawn as a spectrogram image. */
export function clipSpectrogram(samples: Float32Array, spec: LogMelSpec): { pixels: Uint8Array; fit: ClipFit } {
  const clip = fitClip(samples, spec.clipSamples);
  return { pixels: spectrogramPixels(logMel(clip.samples, spec)), fit: clip.fit };
}

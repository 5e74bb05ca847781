// A recording kept as its samples, for bases that hear the waveform itself (wav2vec2-style Hub
// encoders, whose feature extractor takes raw samples). graft keeps every example as 8-bit
// "pixels", so a clip is stored as 8-bit mu-law codes (the companding of G.711 and WaveNet: about
// 38 dB of signal to quantisation noise on speech at any level, where 8-bit linear samples would
// lose quiet speech), one code per sample, an image of clipSamples x 1. The base's graph expands
// the codes back to samples before the encoder (bases/hub/audio.ts); the export compresses
// samples the same way in front of it. Plain arithmetic, the continuous mu-law formula rather than
// G.711's segmented table (alawmulaw on npm), because the graph has to invert it with ONNX
// operators and the export to compute it with them.
import type { ClipFit } from './clip.js';
import { fitClip } from './clip.js';

/** A waveform base's clips as graft.json states them. */
export interface WaveformSpec {
  frontEnd: 'mu-law';
  sampleRate: number;
  /** Samples per clip: recordings are fitted to it (padded with silence, or cropped to the loudest window). */
  clipSamples: number;
  /** The companding constant (255 for 8 bits). */
  mu: number;
}

/** One sample's code as a real number in [-1, 1]: sign(x) ln(1 + mu|x|) / ln(1 + mu). */
export const muLawCompress = (x: number, mu: number): number => (Math.sign(x) * Math.log1p(mu * Math.min(1, Math.abs(x)))) / Math.log1p(mu);

/** The sample a code in [-1, 1] stands for: sign(y) ((1 + mu)^|y| - 1) / mu. */
export const muLawExpand = (y: number, mu: number): number => (Math.sign(y) * ((1 + mu) ** Math.abs(y) - 1)) / mu;

/** A code in [-1, 1] as the byte stored: 255 levels across the range. */
export const muLawLevel = (y: number): number => Math.round((y + 1) * 127.5);

/** Samples at spec.sampleRate fitted to the clip and kept as mu-law codes, one byte per sample. */
export function clipWaveform(samples: Float32Array, spec: WaveformSpec): { pixels: Uint8Array; fit: ClipFit } {
  const clip = fitClip(samples, spec.clipSamples);
  return { pixels: Uint8Array.from(clip.samples, (x) => muLawLevel(muLawCompress(x, spec.mu))), fit: clip.fit };
}

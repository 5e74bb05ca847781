// Log-mel spectrograms: the features speech models hear. Frames of a periodic Hann window, their
// power spectra through fft.js (a radix-4 real FFT), triangular filters on the HTK mel scale (as
// torchaudio's melscale_fbanks with mel_scale='htk', norm=None), and decibels.
import FFT from 'fft.js';

/** What a base's spectrograms are: stated in graft.json so a client can compute the same. */
export interface LogMelSpec {
  sampleRate: number;
  /** Samples per clip (the base's window: 1 s for keyword spotting). */
  clipSamples: number;
  /** FFT size (a power of two); each frame is zero-padded to it. */
  fftSize: number;
  /** Samples per frame, under a periodic Hann window. */
  windowLength: number;
  hop: number;
  mels: number;
  fMin: number;
  fMax: number;
}

/** Keyword spotting at 8 kHz (telephone band, FSDD's own rate): 25 ms frames every 10 ms, 40 mel bands up to 4 kHz. */
export const KWS_LOGMEL: LogMelSpec = {
  sampleRate: 8000,
  clipSamples: 8000,
  fftSize: 256,
  windowLength: 200,
  hop: 80,
  mels: 40,
  fMin: 20,
  fMax: 4000,
};

/** The floor under each band's power before the logarithm (-100 dB). */
const POWER_FLOOR = 1e-10;

export const hzToMel = (f: number): number => 2595 * Math.log10(1 + f / 700);
export const melToHz = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/** Frames in a spectrogram of `n` samples (no padding: every frame lies inside the clip). */
export const frameCount = (n: number, spec: Pick<LogMelSpec, 'windowLength' | 'hop'>): number =>
  n < spec.windowLength ? 0 : 1 + Math.floor((n - spec.windowLength) / spec.hop);

/** Filter j's weight on FFT bin k, as mels x (fftSize / 2 + 1) rows. */
export function melFilterbank(spec: Pick<LogMelSpec, 'sampleRate' | 'fftSize' | 'mels' | 'fMin' | 'fMax'>): Float32Array[] {
  const bins = spec.fftSize / 2 + 1;
  const [lo, hi] = [hzToMel(spec.fMin), hzToMel(spec.fMax)];
  const edges = Array.from({ length: spec.mels + 2 }, (_, i) => melToHz(lo + ((hi - lo) * i) / (spec.mels + 1)));
  return Array.from({ length: spec.mels }, (_, j) => {
    const row = new Float32Array(bins);
    for (let k = 0; k < bins; k++) {
      const f = (k * spec.sampleRate) / spec.fftSize;
      const up = (f - edges[j]) / (edges[j + 1] - edges[j]);
      const down = (edges[j + 2] - f) / (edges[j + 2] - edges[j + 1]);
      row[k] = Math.max(0, Math.min(up, down));
    }
    return row;
  });
}

const hann = (length: number) => Float32Array.from({ length }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / length));

/** A spectrogram: `frames` x `mels` values in dB (row-major, a frame per row). */
export interface LogMel {
  frames: number;
  mels: number;
  db: Float32Array;
}

/** The log-mel spectrogram of `samples` (already at spec.sampleRate). */
export function logMel(samples: Float32Array, spec: LogMelSpec): LogMel {
  if (!Number.isInteger(Math.log2(spec.fftSize)) || spec.windowLength > spec.fftSize)
    throw new RangeError(`fftSize ${spec.fftSize} must be a power of two at least the window (${spec.windowLength})`);
  const frames = frameCount(samples.length, spec);
  const bank = melFilterbank(spec);
  const window = hann(spec.windowLength);
  const fft = new FFT(spec.fftSize);
  const frame = new Array<number>(spec.fftSize).fill(0);
  const spectrum = fft.createComplexArray() as number[];
  const power = new Float64Array(spec.fftSize / 2 + 1);
  const db = new Float32Array(frames * spec.mels);
  for (let t = 0; t < frames; t++) {
    const start = t * spec.hop;
    for (let i = 0; i < spec.windowLength; i++) frame[i] = samples[start + i] * window[i];
    fft.realTransform(spectrum, frame);
    for (let k = 0; k < power.length; k++) power[k] = spectrum[2 * k] ** 2 + spectrum[2 * k + 1] ** 2;
    for (let j = 0; j < spec.mels; j++) {
      const w = bank[j];
      let sum = 0;
      for (let k = 0; k < power.length; k++) sum += w[k] * power[k];
      db[t * spec.mels + j] = 10 * Math.log10(Math.max(sum, POWER_FLOOR));
    }
  }
  return { frames, mels: spec.mels, db };
}

// Augmentation for recordings, the kinds keyword-spotting training uses (Warden 2018; Ko et al.
// 2015 for speed): speed perturbation (tempo and pitch together, by resampling), gain, a shift
// in time, and background noise at a random signal-to-noise ratio, white or low-passed.
import { resample } from './resample.js';

export interface AudioAugment {
  /** Speed factors drawn uniformly from [min, max] (1: unchanged). */
  speed: [number, number];
  /** Gain in dB drawn from [min, max]; the result is clipped to [-1, 1]. */
  gainDb: [number, number];
  /** Largest shift in time, in seconds, either way. */
  shiftSeconds: number;
  /** Signal-to-noise ratio in dB drawn from [min, max]. */
  snrDb: [number, number];
}

export const KWS_AUGMENT: AudioAugment = { speed: [0.85, 1.15], gainDb: [-12, 6], shiftSeconds: 0.1, snrDb: [5, 30] };

const between = ([lo, hi]: [number, number], rand: () => number) => lo + (hi - lo) * rand();

/** A standard normal draw (Box-Muller) from a uniform source. */
const gaussian = (rand: () => number) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

/** One augmented copy of `samples` (mono, at `rate`), its randomness all drawn from `rand`. */
export async function augmentRecording(
  samples: Float32Array,
  rate: number,
  rand: () => number,
  o: AudioAugment = KWS_AUGMENT,
): Promise<Float32Array> {
  // Played `factor` times faster: the samples read as if recorded at rate * factor.
  const factor = between(o.speed, rand);
  const fast = await resample(samples, Math.round(rate * factor), rate);
  const shift = Math.round((2 * rand() - 1) * o.shiftSeconds * rate);
  const out = new Float32Array(fast.length + Math.abs(shift));
  out.set(fast, Math.max(0, shift));
  let power = 0;
  for (const v of fast) power += v * v;
  power /= Math.max(1, fast.length);
  const noiseRms = Math.sqrt(power / 10 ** (between(o.snrDb, rand) / 10));
  // Half the copies get white noise, half noise through a random one-pole low-pass (rumble, hum, fans).
  const pole = rand() < 0.5 ? 0 : 0.5 + 0.49 * rand();
  const norm = Math.sqrt(1 - pole * pole);
  const gain = 10 ** (between(o.gainDb, rand) / 20);
  let state = 0;
  for (let i = 0; i < out.length; i++) {
    state = pole * state + norm * gaussian(rand);
    out[i] = Math.max(-1, Math.min(1, gain * (out[i] + noiseRms * state)));
  }
  return out;
}

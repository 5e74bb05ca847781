// A keyword-spotting base hears a fixed window (1 s): shorter recordings are padded with silence
// on both sides, longer ones cropped to their loudest window, where the word is.

/** How a recording was fitted to the window. */
export type ClipFit = 'exact' | 'padded' | 'cropped';

export interface FittedClip {
  samples: Float32Array;
  fit: ClipFit;
  /** Where the window starts in the recording (negative: silence added before it). */
  offset: number;
}

/** `samples` fitted to `length`: centred in silence, or the window of `length` with the most energy. */
export function fitClip(samples: Float32Array, length: number): FittedClip {
  const n = samples.length;
  if (n === length) return { samples, fit: 'exact', offset: 0 };
  const out = new Float32Array(length);
  if (n < length) {
    const before = Math.floor((length - n) / 2);
    out.set(samples, before);
    return { samples: out, fit: 'padded', offset: -before };
  }
  // Energy of every window by a running sum of squares.
  let energy = 0;
  for (let i = 0; i < length; i++) energy += samples[i] * samples[i];
  let [best, start] = [energy, 0];
  for (let i = length; i < n; i++) {
    energy += samples[i] * samples[i] - samples[i - length] * samples[i - length];
    if (energy > best) [best, start] = [energy, i - length + 1];
  }
  out.set(samples.subarray(start, start + length));
  return { samples: out, fit: 'cropped', offset: start };
}

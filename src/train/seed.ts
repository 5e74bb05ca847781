// TF.js draws every unseeded random number (initialisers, dropout masks, fit's shuffling) from
// Math.random, so a seeded Math.random for the duration of a run is what makes it repeatable.
import { mulberry32 } from '../data/random.js';

export async function withSeed<T>(seed: number | undefined, run: () => Promise<T>): Promise<T> {
  if (seed === undefined) return run();
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await run();
  } finally {
    Math.random = original;
  }
}

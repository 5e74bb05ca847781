// TF.js draws every unseeded random number (initialisers, dropout masks, fit's shuffling) from
// Math.random, so a seeded Math.random for the duration of a run is what makes it repeatable.
import { mulberry32 } from './random.js';

let depth = 0;
let original: () => number = Math.random;

/**
 * Run with a seeded Math.random. A nested call gets its own generator and hands the outer one
 * back when it ends; overlapping (concurrent) calls are not repeatable, but the unseeded
 * Math.random always comes back once the last of them ends.
 */
export async function withSeed<T>(seed: number | undefined, run: () => Promise<T>): Promise<T> {
  if (seed === undefined) return run();
  if (depth++ === 0) original = Math.random;
  const previous = Math.random;
  Math.random = mulberry32(seed);
  try {
    return await run();
  } finally {
    Math.random = --depth === 0 ? original : previous;
  }
}

// What the one-call trainers of grafted kinds (image, multi-task, detection) share around their
// own steps: a count of the files skipped while data loads, and the graft made, trained and
// evaluated under the run's seed, released when anything after grafting fails.
import type { Callback } from '../core/callbacks.js';
import { withSeed } from '../math/seed.js';

/** The caller's callbacks with one more that counts skipped files (graft.json records how many). */
export function skipCounter(callbacks: readonly Callback[] = []): { callbacks: Callback[]; skipped(): number } {
  let skipped = 0;
  return { callbacks: [{ onSkip: () => void skipped++ }, ...callbacks], skipped: () => skipped };
}

/**
 * `run` on a fresh graft, all under `seed` (the graft's initialisation, shuffling, dropout): the
 * graft is the result's to own, or released here if `run` fails.
 */
export function trainSeeded<G, R>(
  seed: number,
  graft: () => Promise<G>,
  release: (g: G) => unknown,
  run: (g: G) => Promise<R>,
): Promise<R> {
  return withSeed(seed, async () => {
    const g = await graft();
    try {
      return await run(g);
    } catch (e) {
      await release(g);
      throw e;
    }
  });
}

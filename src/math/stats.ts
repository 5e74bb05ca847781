// Small statistics on plain numbers: means and spreads over runs, the most probable class of a
// row, and the rank correlation experiments report.
import { usageError } from '../core/errors.js';

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Standard deviation over the runs themselves (population), as experiments report it across seeds. */
export const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

/** Index of the largest value (the first of ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Kendall's tau-b between two score lists (ties handled): (concordant − discordant) /
 * √((pairs − ties in a)(pairs − ties in b)). NaN when either list is constant, as in SciPy.
 */
export function kendallTau(a: number[], b: number[]): number {
  if (a.length !== b.length) throw usageError(`kendallTau needs lists of the same length, got ${a.length} and ${b.length}`);
  if (a.length < 2) throw usageError('kendallTau needs at least 2 pairs');
  if ([...a, ...b].some((v) => !Number.isFinite(v))) throw usageError('kendallTau needs finite numbers');
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  let pairs = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const s = Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j]);
      pairs++;
      if (a[i] === a[j]) tiesA++;
      if (b[i] === b[j]) tiesB++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt((pairs - tiesA) * (pairs - tiesB));
}

// Small statistics on plain numbers: means and spreads over runs, the most probable class of a
// row, and the rank correlation experiments report.
import jstat from 'jstat';
import { usageError } from '../core/errors.js';

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Standard deviation over the runs themselves (population), as experiments report it across seeds. */
export const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

/** What paired runs say of a difference: its mean, the 95% Student t interval around it, and how many runs were above 0. */
export interface PairedDifference {
  mean: number;
  /** Sample standard deviation (n - 1) of the differences. */
  sd: number;
  /** Half the width of the 95% confidence interval for the mean (NaN for one run). */
  halfWidth: number;
  /** Runs whose difference is above 0. */
  above: number;
  runs: number;
}

/** `a[i] - b[i]` over paired runs (the same seed and split on both sides), summarised. */
export function pairedDifference(a: readonly number[], b: readonly number[]): PairedDifference {
  if (a.length !== b.length || a.length === 0)
    throw usageError(`paired runs must be as many on both sides (got ${a.length} and ${b.length})`);
  const d = a.map((x, i) => x - b[i]);
  const n = d.length;
  const m = mean(d);
  const sampleSd = n > 1 ? Math.sqrt(d.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1)) : NaN;
  // The interval a reader checks the sign against; jstat's quantile, not a table of t values.
  const halfWidth = n > 1 ? (jstat.jStat.studentt.inv(0.975, n - 1) * sampleSd) / Math.sqrt(n) : NaN;
  return { mean: m, sd: sampleSd, halfWidth, above: d.filter((x) => x > 0).length, runs: n };
}

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

// Features as the scores and the probe read them: n samples x d columns, row-major, checked
// and copied to float64 (float32 sums over 1,280 columns lose the digits the decompositions need).
import { Matrix } from 'ml-matrix';
import { usageError } from '../core/errors.js';

/** Features: n rows (samples) x d columns, row-major. */
export interface FeatureMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** What the scores accept as features: graft's row-major matrix, or plain rows. */
export type Features = FeatureMatrix | number[][];

export interface Dense {
  data: Float64Array;
  rows: number;
  cols: number;
}

/** Scores work in float64: float32 sums over 1280 columns lose the digits the decompositions need. */
export function dense(f: Features, what: string): Dense {
  let x: Dense;
  if (Array.isArray(f)) {
    const rows = f.length;
    const cols = rows ? f[0].length : 0;
    const data = new Float64Array(rows * cols);
    f.forEach((row, i) => {
      if (row.length !== cols) throw usageError(`${what}: row ${i} has ${row.length} values, row 0 has ${cols}`);
      data.set(row, i * cols);
    });
    x = { data, rows, cols };
  } else {
    const { rows, cols } = f;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || f.data.length !== rows * cols) {
      throw usageError(`${what}: ${f.data.length} values do not make ${rows} rows x ${cols} columns`);
    }
    x = { data: Float64Array.from(f.data), rows, cols };
  }
  if (x.rows < 1 || x.cols < 1) throw usageError(`${what}: need at least one row and one column, got ${x.rows} x ${x.cols}`);
  const bad = x.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw usageError(`${what}: the value at row ${Math.floor(bad / x.cols)}, column ${bad % x.cols} is not a finite number`);
  return x;
}

/** Validates labels against the features and returns the count of each class. */
export function classCounts(labels: Int32Array, rows: number, classes: number): number[] {
  if (!Number.isInteger(classes) || classes < 2) throw usageError(`classes must be an integer >= 2, got ${classes}`);
  if (labels.length !== rows) throw usageError(`${labels.length} labels for ${rows} feature rows`);
  const counts = new Array<number>(classes).fill(0);
  labels.forEach((y, i) => {
    if (!(y >= 0 && y < classes)) throw usageError(`label ${y} of row ${i} is outside 0..${classes - 1}`);
    counts[y]++;
  });
  if (counts.filter((c) => c > 0).length < 2) throw usageError('the labels must cover at least 2 classes');
  return counts;
}

export const toMatrix = (x: Dense) => Matrix.from1DArray(x.rows, x.cols, x.data);

export function centerColumns(x: Dense): Dense {
  const { data, rows, cols } = x;
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    for (let i = 0; i < rows; i++) mean += data[i * cols + j];
    mean /= rows;
    for (let i = 0; i < rows; i++) data[i * cols + j] -= mean;
  }
  return x;
}

/** Per column: subtract `mean`, multiply by `scale` (0 for a constant column). */
interface Standardization {
  mean: Float64Array;
  scale: Float64Array;
}

export function standardizeInPlace(x: Dense): Dense & Standardization {
  const { data, rows, cols } = x;
  const means = new Float64Array(cols);
  const scales = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let mean = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < rows; i++) {
      const v = data[i * cols + j];
      mean += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    mean /= rows;
    let variance = 0;
    for (let i = 0; i < rows; i++) variance += (data[i * cols + j] - mean) ** 2;
    // Compared exactly: a constant column's variance is rounding noise, and dividing by it would invent signal.
    const scale = min === max ? 0 : 1 / Math.sqrt(variance / rows);
    for (let i = 0; i < rows; i++) data[i * cols + j] = (data[i * cols + j] - mean) * scale;
    [means[j], scales[j]] = [mean, scale];
  }
  return { ...x, mean: means, scale: scales };
}

/**
 * Standardise columns (zero mean, unit population variance; constant columns left at 0): used
 * before the linear probe, whose optimiser wants comparable scales.
 */
export function standardize(f: Features): FeatureMatrix {
  const x = standardizeInPlace(dense(f, 'features'));
  return { data: Float32Array.from(x.data), rows: x.rows, cols: x.cols };
}

export const dotArrays = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

// Limited-memory BFGS (Nocedal and Wright, "Numerical Optimization", algorithm 7.4 with the
// two-loop recursion 7.5) and an Armijo backtracking line search, for the smooth convex
// objectives graft solves on the CPU: the linear probe (dense features, or kernel form) and the
// TF-IDF baseline (sparse rows). Written here because the problems are small and float64, and
// neither ml-matrix nor TF.js has a quasi-Newton solver.

export interface LbfgsOptions {
  /** Where to start (default: zeros of length `size`). */
  start?: Float64Array;
  /** Length of the parameter vector when there is no `start`. */
  size?: number;
  /** The parameter space's inner product (default: the Euclidean one). */
  dot?: (u: Float64Array, v: Float64Array) => number;
  /** Most iterations (each one objective evaluation or more). */
  maxSteps: number;
  /**
   * Converged when the gradient is this small: its norm under `dot` ('l2', default 1e-9) or its
   * largest absolute entry ('max').
   */
  tolerance?: { norm: 'l2' | 'max'; below: number };
}

/** Pairs (s, y) of the last steps kept for the inverse-Hessian estimate. */
const MEMORY = 10;

const euclidean = (u: Float64Array, v: Float64Array) => {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  return s;
};

function axpy(target: Float64Array, a: number, v: Float64Array): void {
  const n = target.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    target[i] += a * v[i];
    target[i + 1] += a * v[i + 1];
    target[i + 2] += a * v[i + 2];
    target[i + 3] += a * v[i + 3];
  }
  for (; i < n; i++) target[i] += a * v[i];
}

/**
 * Minimise `evaluate` (which returns f(x) and writes ∇f(x) into `grad`). Stops after `maxSteps`,
 * at a small gradient, when an accepted step lowers f by less than 1e-10 relative, or when the
 * line search cannot find a lower point (then the last point is returned).
 *
 * Every vector lives in a buffer reused from step to step: the point and gradient `evaluate` is
 * handed (the gradient zeroed at each step's start, as a new array was; the line search's trials
 * overwrite both), the direction and the history's pairs (s, y). So `evaluate` must copy a point
 * it wants to keep. The numbers, and the order they are computed in, are those of a solver that
 * allocates them every step; allocating 16 kB arrays thousands of times a probe cost a quarter
 * of its time in a process holding large buffers (after ONNX Runtime feature extraction).
 */
export function lbfgs(evaluate: (x: Float64Array, grad: Float64Array) => number, o: LbfgsOptions): Float64Array {
  const dot = o.dot ?? euclidean;
  const tolerance = o.tolerance ?? { norm: 'l2', below: 1e-9 };
  let x = o.start ? Float64Array.from(o.start) : new Float64Array(o.size ?? 0);
  const size = x.length;
  let g = new Float64Array(size);
  let fx = evaluate(x, g);
  const q = new Float64Array(size);
  let next = new Float64Array(size);
  let gNext = new Float64Array(size);
  // Oldest first; `spare` receives the next (s, y) and is swapped in when it is kept.
  const history: Pair[] = [];
  let spare = pair(size);
  const coefficients = new Float64Array(MEMORY);
  for (let step = 0; step < o.maxSteps; step++) {
    const gNorm = Math.sqrt(dot(g, g));
    let gSize = gNorm;
    if (tolerance.norm === 'max') {
      gSize = 0;
      for (let i = 0; i < size; i++) gSize = Math.max(gSize, Math.abs(g[i]));
    }
    if (gSize < tolerance.below) break;
    // Two-loop recursion: q = H g, H the inverse-Hessian estimate.
    q.set(g);
    for (let j = history.length - 1; j >= 0; j--) {
      const h = history[j];
      coefficients[j] = h.rho * dot(h.s, q);
      axpy(q, -coefficients[j], h.y);
    }
    const last = history[history.length - 1];
    // s·y and y·y of the newest pair, as computed when it was kept.
    const scale = last ? last.sy / last.yy : 1 / gNorm;
    for (let i = 0; i < size; i++) q[i] *= scale;
    for (let j = 0; j < history.length; j++) {
      const h = history[j];
      axpy(q, coefficients[j] - h.rho * dot(h.y, q), h.s);
    }
    let slope = -dot(g, q);
    if (!(slope < 0)) {
      // Not a descent direction (rounding): restart from steepest descent.
      history.length = 0;
      q.set(g);
      for (let i = 0; i < size; i++) q[i] /= gNorm;
      slope = -gNorm;
    }
    gNext.fill(0);
    let t = 1;
    let fNext = Infinity;
    for (;;) {
      for (let i = 0; i < size; i++) next[i] = x[i] - t * q[i];
      fNext = evaluate(next, gNext);
      if (fNext <= fx + 1e-4 * t * slope) break;
      t /= 2;
      if (t < 1e-12) return x;
    }
    const { s, y } = spare;
    for (let i = 0; i < size; i++) {
      s[i] = next[i] - x[i];
      y[i] = gNext[i] - g[i];
    }
    const sy = dot(s, y);
    const yy = dot(y, y);
    if (sy > 1e-12 * yy) {
      spare.rho = 1 / sy;
      spare.sy = sy;
      spare.yy = yy;
      history.push(spare);
      spare = history.length > MEMORY ? history.shift()! : pair(size);
    }
    const flat = fx - fNext <= 1e-10 * Math.max(1, Math.abs(fx));
    [x, g, fx, next, gNext] = [next, gNext, fNext, x, g];
    if (flat) break;
  }
  return x;
}

/** A step s, the change y of the gradient over it, 1/(s·y), s·y and y·y. */
interface Pair {
  s: Float64Array;
  y: Float64Array;
  rho: number;
  sy: number;
  yy: number;
}

const pair = (size: number): Pair => ({ s: new Float64Array(size), y: new Float64Array(size), rho: 0, sy: 0, yy: 0 });

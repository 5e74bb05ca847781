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
  for (let i = 0; i < target.length; i++) target[i] += a * v[i];
}

/**
 * Minimise `evaluate` (which returns f(x) and writes ∇f(x) into `grad`). Stops after `maxSteps`,
 * at a small gradient, when an accepted step lowers f by less than 1e-10 relative, or when the
 * line search cannot find a lower point (then the last point is returned).
 */
export function lbfgs(evaluate: (x: Float64Array, grad: Float64Array) => number, o: LbfgsOptions): Float64Array {
  const dot = o.dot ?? euclidean;
  const tolerance = o.tolerance ?? { norm: 'l2', below: 1e-9 };
  let x = o.start ? Float64Array.from(o.start) : new Float64Array(o.size ?? 0);
  const size = x.length;
  let g = new Float64Array(size);
  let fx = evaluate(x, g);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  for (let step = 0; step < o.maxSteps; step++) {
    const gNorm = Math.sqrt(dot(g, g));
    let gSize = gNorm;
    if (tolerance.norm === 'max') {
      gSize = 0;
      for (let i = 0; i < size; i++) gSize = Math.max(gSize, Math.abs(g[i]));
    }
    if (gSize < tolerance.below) break;
    // Two-loop recursion: q = H g, H the inverse-Hessian estimate.
    const q = Float64Array.from(g);
    const coefficients: number[] = [];
    for (let j = history.length - 1; j >= 0; j--) {
      const h = history[j];
      coefficients[j] = h.rho * dot(h.s, q);
      axpy(q, -coefficients[j], h.y);
    }
    const last = history[history.length - 1];
    const scale = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / gNorm;
    for (let i = 0; i < size; i++) q[i] *= scale;
    history.forEach((h, j) => axpy(q, coefficients[j] - h.rho * dot(h.y, q), h.s));
    let slope = -dot(g, q);
    if (!(slope < 0)) {
      // Not a descent direction (rounding): restart from steepest descent.
      history.length = 0;
      q.set(g);
      for (let i = 0; i < size; i++) q[i] /= gNorm;
      slope = -gNorm;
    }
    const next = new Float64Array(size);
    const gNext = new Float64Array(size);
    let t = 1;
    let fNext = Infinity;
    for (;;) {
      for (let i = 0; i < size; i++) next[i] = x[i] - t * q[i];
      fNext = evaluate(next, gNext);
      if (fNext <= fx + 1e-4 * t * slope) break;
      t /= 2;
      if (t < 1e-12) return x;
    }
    const s = next.map((v, i) => v - x[i]);
    const y = gNext.map((v, i) => v - g[i]);
    const sy = dot(s, y);
    if (sy > 1e-12 * dot(y, y)) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > MEMORY) history.shift();
    }
    const flat = fx - fNext <= 1e-10 * Math.max(1, Math.abs(fx));
    [x, g, fx] = [next, gNext, fNext];
    if (flat) break;
  }
  return x;
}

// A linear head started where a linear probe ends. On a few hundred samples, Adam at the usual
// learning rate needs many epochs to reach the regularised optimum of a linear head, and stops
// early on a noisy validation loss before it gets there (ants/bees, block_13: 78% after 10
// epochs against 83% for the solved problem). The problem is convex and small, so graft solves it
// (L-BFGS, the linear probe's solver), picks its L2 strength by cross-validation on the training
// samples, and hands the result to the stage's Adam epochs, which keep it unless they beat it on
// validation loss.
import * as tf from '@tensorflow/tfjs';
import type { FeatureCache } from '../engine/feature-cache.js';
import { probeProblem } from '../evaluate/probe.js';
import { digest } from '../io/digest.js';

/** L2 strengths tried (λ in mean cross-entropy + λ/2·‖W‖², standardised features). */
export const PROBE_L2_GRID = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1] as const;
const FOLDS = 5;

export interface ProbeHeadReport {
  l2: number;
  /**
   * Cross-validated accuracy of the probe at that L2 on the training samples; NaN when a class has
   * fewer samples than folds, where the probe is fitted at the grid's strongest L2 unvalidated.
   */
  cvAccuracy: number;
  seconds: number;
  /** Of `seconds`, the cross-validated fits and the final one (0 when read from the cache); the rest reads the features and the cache. */
  solveSeconds: number;
  /** Read from the feature cache: the same features, labels and seed were solved before. */
  cached: boolean;
}

/**
 * Bump when the solver's answers, the grid or the folds change: a cached solution is only good for
 * the code that made it. A faster solver that gives the same bits (issue 29's) keeps the version.
 */
const PROBE_VERSION = 'probe-head 1';

/**
 * A solved probe as one cache entry: [l2, cvAccuracy] as two float64s (the bytes of four float32
 * slots, so they come back exactly), then the kernel and the bias as the float32s they were.
 */
function packProbe(l2: number, cvAccuracy: number, kernel: Float32Array, bias: Float32Array): Float32Array {
  const out = new Float32Array(4 + kernel.length + bias.length);
  new Float64Array(out.buffer, 0, 2).set([l2, cvAccuracy]);
  out.set(kernel, 4);
  out.set(bias, 4 + kernel.length);
  return out;
}

function unpackProbe(v: Float32Array, cols: number, classes: number) {
  if (v.length !== 4 + cols * classes + classes) return undefined;
  const [l2, cvAccuracy] = new Float64Array(v.buffer, v.byteOffset, 2);
  return { l2, cvAccuracy, kernel: v.subarray(4, 4 + cols * classes), bias: v.subarray(4 + cols * classes) };
}

/** The one Dense layer of `above` when `above` is a linear head on 2-D features (dropout allowed), else undefined. */
function linearHead(above: tf.LayersModel, features: tf.Tensor): tf.layers.Layer | undefined {
  if (features.rank !== 2) return undefined;
  const weighted = above.layers.filter((l) => l.getWeights().length > 0);
  if (weighted.length !== 1 || weighted[0].getClassName() !== 'Dense') return undefined;
  const others = above.layers.filter((l) => l !== weighted[0] && l.getClassName() !== 'InputLayer' && l.getClassName() !== 'Dropout');
  const [kernel] = weighted[0].getWeights();
  return others.length === 0 && kernel.shape[0] === features.shape[1] ? weighted[0] : undefined;
}

/**
 * When `above` is a linear softmax head on `x`, set its weights to the cross-validated linear
 * probe's solution and say how it was chosen; otherwise leave it and return undefined.
 */
export async function initHeadByProbe(
  above: tf.LayersModel,
  x: tf.Tensor,
  labels: Int32Array,
  classes: number,
  seed = 0,
  cache?: FeatureCache,
): Promise<ProbeHeadReport | undefined> {
  const dense = linearHead(above, x);
  if (!dense) return undefined;
  // Cross-validation needs every class in every fold. With fewer samples (one or a few labels per
  // class) the probe still starts the head, at the strongest L2 of the grid: a random head on raw
  // features starts far worse (speech-embedding, FSDD, one label per digit: 37.9% after 240
  // epochs, where a standardised probe reaches about 80%).
  const counts = new Array<number>(classes).fill(0);
  labels.forEach((y) => counts[y]++);
  const crossValidated = Math.min(...counts) >= FOLDS;
  const started = performance.now();
  const f = { data: (await x.data()) as Float32Array, rows: x.shape[0], cols: x.shape[1]! };
  // The solution is a function of the features, labels and seed alone: on a warm feature cache the
  // 26 L-BFGS fits (5 L2 strengths x 5 folds, then the chosen one) were most of a head stage's time
  // (mobilenet_v2, 256 images: 3.3 of 3.6 s; 0.65 of 0.9 s since they share one Gram matrix and
  // the solver's buffers, the same bits), so it is kept beside the features.
  const key = cache && digest(PROBE_VERSION, f.data, labels, classes, seed, f.cols);
  const hit = key ? await cache!.get(key) : undefined;
  const solved = hit && unpackProbe(hit, f.cols, classes);
  let best: { l2: number; cvAccuracy: number };
  let fitted: { kernel: Float32Array; bias: Float32Array };
  let solveSeconds = 0;
  if (solved) {
    best = { l2: solved.l2, cvAccuracy: solved.cvAccuracy };
    fitted = solved;
  } else {
    const solving = performance.now();
    // Standardised once, one Gram matrix for the 26 fits: what linearProbe and fitLinearClassifier would compute apart.
    const problem = probeProblem(f, labels, classes);
    best = crossValidated ? { l2: PROBE_L2_GRID[0] as number, cvAccuracy: -1 } : { l2: PROBE_L2_GRID.at(-1)!, cvAccuracy: NaN };
    for (const l2 of crossValidated ? PROBE_L2_GRID : []) {
      const { accuracy } = problem.crossValidate({ l2, folds: FOLDS, seed });
      // Ties go to the stronger regularisation: the simpler model.
      if (accuracy >= best.cvAccuracy) best = { l2, cvAccuracy: accuracy };
    }
    fitted = problem.fit({ l2: best.l2 });
    solveSeconds = (performance.now() - solving) / 1000;
    if (key) await cache!.put(key, packProbe(best.l2, best.cvAccuracy, fitted.kernel, fitted.bias));
  }
  const weights = [tf.tensor2d(fitted.kernel, [f.cols, classes]), tf.tensor1d(fitted.bias)];
  dense.setWeights(weights);
  tf.dispose(weights);
  return { ...best, seconds: (performance.now() - started) / 1000, solveSeconds, cached: Boolean(solved) };
}

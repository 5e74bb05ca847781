// Training steps on ONNX Runtime: the step graph of a model (onnx/train/step.ts) in one session,
// its weights and optimiser slots kept as flat arrays between steps and fed back (ONNX Runtime's
// Node binding writing into pre-allocated outputs measured slower), a second forward-only session
// for evaluation. The TF.js model is untouched until writeBack (after every epoch), so callbacks,
// exports and everything after training see ordinary TF.js weights.
import { withDefaults } from '../core/options.js';
import * as tf from '@tensorflow/tfjs';
import {
  createOnnxSession,
  onnxRuntimeAvailable,
  type OnnxFeed,
  type OnnxSession,
  type OnnxSessionOptions,
} from '../backend/onnx-runtime.js';
import { usageError } from '../core/errors.js';
import { isInferenceBatchNorm } from '../graft/graft.js';
import type { StepVariable } from '../onnx/train/losses.js';
import { buildTrainStep, unsupportedReason, type StepOptions, type TrainStep } from '../onnx/train/step.js';

import type { TrainEngine, TrainEngineUsed } from './train-engines.js';

export { TRAIN_ENGINES, type TrainEngine, type TrainEngineUsed } from './train-engines.js';

/**
 * The engine a stage uses when its options do not say. A constant, not a setting of the process:
 * every one-call trainer takes `trainEngine`, so two models in one process can train on two engines.
 */
export const DEFAULT_TRAIN_ENGINE: TrainEngine = 'auto';

export interface OnnxTrainerOptions extends StepOptions, OnnxSessionOptions {}

/**
 * One-hot rows (categorical), per task its targets and a 1-where-labelled mask (masked tasks), or
 * a tensor fed as `y` with its dimensions (a detector's target grid).
 */
export type StepTargets = Float32Array | { y: ArrayLike<number>; mask: ArrayLike<number> }[] | { data: Float32Array; dims: number[] };

export interface StepLogs {
  loss: number;
  /** The batch's accuracy (categorical). */
  accuracy?: number;
  /** Each dropout layer's mask (0 or 1/keep) in graph layout, with `exposeMasks`. */
  masks?: { layer: string; data: Float32Array; dims: number[] }[];
}

/** A plain tf.Variable (not a layer's) as a step trains it: read as is, written by assign. */
export const stepVariable = (v: tf.Variable): StepVariable => ({ shape: v.shape, read: () => v, write: (t: tf.Tensor) => v.assign(t) });

/** TF.js's cpu backend may hold a float32 tensor's values in an Int32Array (a cast of ints). */
const f32 = (a: ArrayLike<number>) => (a instanceof Float32Array ? a : Float32Array.from(a));

export class OnnxTrainer {
  private steps = 0;
  private evaluation?: Promise<{ step: TrainStep; session: OnnxSession }>;
  /** The forward pass under the step's own loss (`forward`). */
  private forwardOnly?: Promise<{ step: TrainStep; session: OnnxSession }>;

  private constructor(
    private readonly model: tf.LayersModel,
    private readonly step: TrainStep,
    private readonly session: OnnxSession,
    /** Weights and slots by graph input name, in ONNX layout. */
    private readonly state: Map<string, Float32Array>,
    private readonly o: OnnxTrainerOptions,
  ) {}

  static async create(model: tf.LayersModel, o: OnnxTrainerOptions): Promise<OnnxTrainer> {
    const step = buildTrainStep(model, o);
    const session = await createOnnxSession(step.bytes, { threads: o.threads });
    const state = new Map<string, Float32Array>();
    for (const w of step.weights) {
      state.set(w.input, w.layout.toOnnx((await w.variable.read().data()) as Float32Array));
      for (const s of w.slots) state.set(s.input, new Float32Array(state.get(w.input)!.length));
    }
    return new OnnxTrainer(model, step, session, state, o);
  }

  /** Values per example of each output, in the model's output order. */
  get units(): readonly number[] {
    return this.step.units;
  }

  /**
   * One optimiser step on a batch: `x` as TF.js lays it out (NHWC); the targets one-hot rows
   * (categorical; adaptation: the source rows, which come first in `x`) or per task its targets
   * and labelled mask (masked tasks); `scalars`, what the loss reads each step (DANN's `lambda`).
   */
  async train(
    x: Float32Array,
    xDims: number[],
    targets: StepTargets,
    learningRate: number,
    scalars: Record<string, number> = {},
  ): Promise<StepLogs> {
    const n = xDims[0];
    this.steps++;
    const u = this.step.units;
    const feeds: Record<string, OnnxFeed> = {
      x: { type: 'float32', data: f32(x), dims: xDims },
      ...Object.fromEntries(Object.entries(scalars).map(([k, v]) => [k, { type: 'float32' as const, data: Float32Array.of(v), dims: [] }])),
      // One-hot rows come as any typed array (TF.js's cpu backend may hold a cast's floats in an Int32Array).
      ...(ArrayBuffer.isView(targets)
        ? { y: { type: 'float32' as const, data: f32(targets), dims: [targets.length / u[0], u[0]] } }
        : !Array.isArray(targets)
          ? { y: { type: 'float32' as const, ...targets } }
          : Object.fromEntries(
              targets.flatMap((t, k) => [
                [`y${k}`, { type: 'float32' as const, data: f32(t.y), dims: [n, u[k]] }],
                [`mask${k}`, { type: 'float32' as const, data: f32(t.mask), dims: [n] }],
              ]),
            )),
      lr: { type: 'float32', data: Float32Array.of(learningRate), dims: [] },
    };
    if (this.o.optimizer.kind === 'adam') {
      const [b1, b2] = [this.o.optimizer.beta1 ?? 0.9, this.o.optimizer.beta2 ?? 0.999];
      // 1 − β^t: TF.js multiplies β^t up step by step in float32; here it is rounded once (the two differ below 1e-6).
      feeds[this.step.scalars[1]] = { type: 'float32', data: Float32Array.of(1 - Math.fround(b1 ** this.steps)), dims: [] };
      feeds[this.step.scalars[2]] = { type: 'float32', data: Float32Array.of(1 - Math.fround(b2 ** this.steps)), dims: [] };
    }
    // Fed back as plain arrays. ONNX Runtime's pre-allocated outputs (double-buffered, so no
    // fresh arrays each step) measured slower: 6.6 ms against 3.6 per step of a 590k-weight head.
    for (const w of this.step.weights)
      for (const input of [w.input, ...w.slots.map((s) => s.input)])
        feeds[input] = { type: 'float32', data: this.state.get(input)!, dims: [w.size] };
    const out = await this.session.run(feeds);
    for (const w of this.step.weights) {
      this.state.set(w.input, out.get(w.output)!.data);
      for (const s of w.slots) this.state.set(s.input, out.get(s.output)!.data);
    }
    const masks = this.step.masks.map((m) => ({ layer: m.layer, ...out.get(m.output)! }));
    const accuracy = out.get('accuracy')?.data[0];
    return { loss: out.get('loss')!.data[0], ...(accuracy === undefined ? {} : { accuracy }), ...(masks.length ? { masks } : {}) };
  }

  /** The trained weights into the TF.js model's variables. */
  writeBack(): void {
    for (const w of this.step.weights) {
      const data = w.layout.fromOnnx(this.state.get(w.input)!);
      // The variable takes the tensor's data (TF.js counts the reference), so the tidy may free the tensor.
      tf.tidy(() => void w.variable.write(tf.tensor(data, w.variable.shape as number[])));
    }
  }

  /**
   * Mean loss and accuracy over (x, y) on the current weights, dropout off, in batches: what
   * evaluateClassifier computes in TF.js (categorical cross-entropy, whatever the step's loss), on
   * a second session of the forward pass.
   */
  async evaluate(
    xs: ArrayLike<number>,
    xDims: number[],
    ys: ArrayLike<number>,
    batchSize = 256,
  ): Promise<{ loss: number; accuracy: number }> {
    const [x, y] = [f32(xs), f32(ys)];
    this.evaluation ??= (async () => {
      const step = buildTrainStep(this.model, { ...this.o, loss: { kind: 'categorical' }, forwardOnly: true });
      return { step, session: await createOnnxSession(step.bytes, { threads: this.o.threads }) };
    })();
    const { step, session } = await this.evaluation;
    const n = xDims[0];
    const [row, k] = [x.length / n, y.length / n];
    let [loss, accuracy] = [0, 0];
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const feeds: Record<string, OnnxFeed> = {
        x: { type: 'float32', data: x.subarray(start * row, end * row), dims: [end - start, ...xDims.slice(1)] },
        y: { type: 'float32', data: y.subarray(start * k, end * k), dims: [end - start, k] },
      };
      // The evaluation graph's weights, named as the step's (a loss's own variables are not among them).
      for (const w of step.weights) feeds[w.input] = { type: 'float32', data: this.state.get(w.input)!, dims: [w.size] };
      const out = await session.run(feeds, ['loss', 'accuracy']);
      loss += out.get('loss')!.data[0] * (end - start);
      // The batch's hits, counted exactly (the graph's mean is float32).
      accuracy += Math.round(out.get('accuracy')!.data[0] * (end - start));
    }
    return { loss: loss / n, accuracy: accuracy / n };
  }

  /**
   * The loss of the step's own kind and the model's first output (in TF.js's layout) on rows
   * `x` against `y` (the batch's targets as `train` takes a tensor), on the current weights,
   * dropout off: a detector's validation, which decodes the grid.
   */
  async forward(
    x: Float32Array,
    xDims: number[],
    y: { data: Float32Array; dims: number[] },
  ): Promise<{ loss: number; output: Float32Array }> {
    this.forwardOnly ??= (async () => {
      const step = buildTrainStep(this.model, { ...this.o, forwardOnly: true });
      return { step, session: await createOnnxSession(step.bytes, { threads: this.o.threads }) };
    })();
    const { step, session } = await this.forwardOnly;
    const feeds: Record<string, OnnxFeed> = { x: { type: 'float32', data: x, dims: xDims }, y: { type: 'float32', ...y } };
    for (const w of step.weights) feeds[w.input] = { type: 'float32', data: this.state.get(w.input)!, dims: [w.size] };
    const out = await session.run(feeds, ['loss', 'output0']);
    return { loss: out.get('loss')!.data[0], output: out.get('output0')!.data };
  }

  async release(): Promise<void> {
    await this.session.release();
    for (const session of [this.evaluation, this.forwardOnly]) if (session) await (await session).session.release();
  }
}

/**
 * Where a stage whose loss the step generator does not know trains: TF.js, for `reason` (or as
 * asked); `--train-engine onnx` makes that a usage error.
 */
export function tfjsOnly(choice: TrainEngine, reason: string): TrainEngineUsed {
  if (choice === 'onnx') throw usageError(`--train-engine onnx: this stage cannot train on ONNX Runtime (${reason})`);
  return { engine: 'tfjs', reason: choice === 'tfjs' ? 'asked for' : reason };
}

/**
 * A trainer on ONNX Runtime for `model`, or the reason it trains in TF.js: asked to (`tfjs`), or a
 * layer, loss or configuration the step generator does not know (with `onnx`, a usage error).
 */
export async function onnxTrainerFor(
  model: tf.LayersModel,
  choice: TrainEngine,
  o: OnnxTrainerOptions,
): Promise<{ trainer?: OnnxTrainer; used: TrainEngineUsed }> {
  if (choice === 'tfjs') return { used: { engine: 'tfjs', reason: 'asked for' } };
  const options = withDefaults({ inferenceBatchNorm: isInferenceBatchNorm }, o);
  let reason = unsupportedReason(model, options);
  if (!reason && !(await onnxRuntimeAvailable())) reason = 'ONNX Runtime does not load here';
  if (reason) return { used: tfjsOnly(choice, reason) };
  return { trainer: await OnnxTrainer.create(model, options), used: { engine: 'onnx' } };
}

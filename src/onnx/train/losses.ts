// The losses a training step can end in, each as its value and its gradient with respect to the
// model's output(s), written as TF.js computes them (so the gradients match op for op):
// categorical cross-entropy on probabilities (model.fit's, fitStage's), and graft's masked
// multi-task loss (train/multitask-loss.ts) with fixed task weights.
import { int, ints } from '../proto.js';
import type { StepGraph } from './builder.js';

export type TaskLossKind = 'classification' | 'multi-label' | 'regression';

/** A variable the step trains beside the model's weights (TF.js's tf.Variable, or a layer's). */
export interface StepVariable {
  readonly shape: readonly (number | null)[];
  read(): { data(): Promise<Float32Array | Int32Array | Uint8Array> };
  write(values: import('@tensorflow/tfjs').Tensor): unknown;
}

export type StepLoss =
  /** TF.js's categoricalCrossentropy on the one softmax output, mean over the batch. Feeds `y` (one-hot). */
  | { kind: 'categorical' }
  /**
   * Σ weight · (each task's loss over its labelled rows). Feeds `y{t}` (targets, unlabelled rows
   * zero) and `mask{t}` (1 where labelled) per task, in output order. With `logVariance`, the
   * weights are learned instead (Kendall et al.'s uncertainty weighting, as jointLoss computes
   * it): the variable holding log σ² per task trains with the model.
   */
  | { kind: 'masked-tasks'; tasks: { kind: TaskLossKind; weight: number }[]; logVariance?: StepVariable };

/** TF.js's float32 epsilon: the losses clip probabilities with it. */
const EPSILON = 1e-7;

/** An output tensor as the loss sees it. */
export interface LossOutput {
  name: string;
  /** Values per example (classes, or a regression's outputs). */
  units: number;
}

/**
 * Adds the loss (graph output `loss`, and `accuracy` for categorical) and returns d loss / d output,
 * per output, and with learned task weights (`logVariance`: the graph's name for log σ²) their gradient.
 */
export function addLoss(
  g: StepGraph,
  loss: StepLoss,
  outputs: LossOutput[],
  logVariance?: string,
): { dOutputs: string[]; dLogVariance?: string } {
  g.scope = 'loss';
  const batch = g.op('Cast', [g.op('Gather', [g.op('Shape', [outputs[0].name]), g.int64s([0])])], { to: int(1) });
  const sumRows = (t: string) => g.op('ReduceSum', [t, g.int64s([1])], { keepdims: int(1) });
  const where = (cond: string, t: string) => g.op('Mul', [t, g.op('Cast', [cond], { to: int(1) })]);
  const inRange = (t: string, lo: number, hi: number) =>
    g.op('And', [g.op('GreaterOrEqual', [t, g.scalar(lo)]), g.op('LessOrEqual', [t, g.scalar(hi)])]);

  if (loss.kind === 'categorical') {
    const p = outputs[0].name;
    const y = g.input('y', [null, outputs[0].units]);
    // TF.js: p normalised to sum 1, clipped to [ε, 1-ε], −Σ y·log, mean over the batch.
    const sum = sumRows(p);
    const q = g.op('Div', [p, sum]);
    const qc = g.op('Clip', [q, g.scalar(EPSILON), g.scalar(1 - EPSILON)]);
    const perExample = g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [y, g.op('Log', [qc])]), g.int64s([1])], { keepdims: int(0) })]);
    g.opTo('ReduceMean', [perExample], 'loss', { axes: ints([0]), keepdims: int(0) });
    g.output('loss', []);
    const argmax = (t: string) => g.op('ArgMax', [t], { axis: int(1), keepdims: int(0) });
    const hits = g.op('Cast', [g.op('Equal', [argmax(p), argmax(y)])], { to: int(1) });
    g.opTo('ReduceMean', [hits], 'accuracy', { axes: ints([0]), keepdims: int(0) });
    g.output('accuracy', []);
    // Back through the mean, the clip (TF.js passes the gradient where ε ≤ q ≤ 1-ε) and q = p/S.
    const dq = where(inRange(q, EPSILON, 1 - EPSILON), g.op('Div', [g.op('Neg', [g.op('Div', [y, qc])]), batch]));
    return { dOutputs: [g.op('Div', [g.op('Sub', [dq, sumRows(g.op('Mul', [dq, q]))]), sum])] };
  }

  const terms: string[] = [];
  const dLogVariance: string[] = [];
  const grads = loss.tasks.map((task, t) => {
    const p = outputs[t].name;
    const k = outputs[t].units;
    const y = g.input(`y${t}`, [null, k]);
    const mask = g.op('Unsqueeze', [g.input(`mask${t}`, [null]), g.int64s([1])]); // [n, 1]
    const labelled = g.op('Max', [g.op('ReduceSum', [mask, g.int64s([0, 1])], { keepdims: int(0) }), g.scalar(1)]);
    let perSample: string;
    let dp: string;
    if (task.kind === 'classification') {
      const pc = g.op('Clip', [p, g.scalar(EPSILON), g.scalar(1)]);
      perSample = g.op('Neg', [sumRows(g.op('Mul', [y, g.op('Log', [pc])]))]);
      dp = where(inRange(p, EPSILON, 1), g.op('Neg', [g.op('Div', [y, pc])]));
    } else if (task.kind === 'multi-label') {
      const pc = g.op('Clip', [p, g.scalar(EPSILON), g.scalar(1 - EPSILON)]);
      const notY = g.op('Sub', [g.scalar(1), y]);
      const notP = g.op('Sub', [g.scalar(1), pc]);
      const ll = g.op('Add', [g.op('Mul', [y, g.op('Log', [pc])]), g.op('Mul', [notY, g.op('Log', [notP])])]);
      perSample = g.op('Neg', [g.op('Div', [sumRows(ll), g.scalar(k)])]);
      const d = g.op('Sub', [g.op('Div', [notY, notP]), g.op('Div', [y, pc])]);
      dp = where(inRange(p, EPSILON, 1 - EPSILON), g.op('Div', [d, g.scalar(k)]));
    } else {
      const diff = g.op('Sub', [p, y]);
      perSample = g.op('Div', [sumRows(g.op('Mul', [diff, diff])), g.scalar(k)]);
      dp = g.op('Mul', [diff, g.scalar(2 / k)]);
    }
    const taskLoss = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [perSample, mask]), g.int64s([0, 1])], { keepdims: int(0) }), labelled]);
    // The task's weight: fixed, or e^(−s) (½·e^(−s) for regression) with ½·s added, s = log σ².
    let weight = g.scalar(task.weight);
    if (logVariance) {
      const st = g.op('Gather', [logVariance, g.int64s([t])]); // [1]
      const half = task.kind === 'regression' ? 0.5 : 1;
      weight = g.op('Mul', [g.op('Exp', [g.op('Neg', [st])]), g.scalar(half)]);
      terms.push(g.op('ReduceSum', [g.op('Mul', [st, g.scalar(0.5)]), g.int64s([0])], { keepdims: int(0) }));
      // d/ds of w·L + ½·s = −w·L + ½.
      dLogVariance.push(g.op('Add', [g.op('Neg', [g.op('Mul', [weight, taskLoss])]), g.scalar(0.5)]));
      weight = g.op('ReduceSum', [weight, g.int64s([0])], { keepdims: int(0) });
    }
    terms.push(g.op('Mul', [taskLoss, weight]));
    // Unlabelled rows get no gradient from this task; the rest share 1/labelled, times the weight.
    return g.op('Mul', [g.op('Div', [g.op('Mul', [dp, mask]), labelled]), weight]);
  });
  g.opTo('Sum', terms, 'loss');
  g.output('loss', []);
  return { dOutputs: grads, dLogVariance: logVariance ? g.op('Concat', dLogVariance, { axis: int(0) }) : undefined };
}

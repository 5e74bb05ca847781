// The losses a training step can end in, each as its value and its gradient with respect to the
// model's output(s), written as TF.js computes them (so the gradients match op for op):
// categorical cross-entropy on probabilities (model.fit's, fitStage's), graft's masked
// multi-task loss (train/multitask-loss.ts) with fixed or learned task weights, domain
// adaptation's (adaptation-loss.ts) and CenterNet's (detection-loss.ts).
import { int, ints } from '../proto.js';
import { addAdaptationLoss } from './adaptation-loss.js';
import { addDetectionLoss } from './detection-loss.js';
import type { StepGraph } from './builder.js';
import type { LossContext, LossGradients, StepLoss } from './loss-types.js';

export type { LossContext, LossGradients, LossOutput, StepLoss, StepVariable, TaskLossKind } from './loss-types.js';

/** TF.js's float32 epsilon: the losses clip probabilities with it. */
const EPSILON = 1e-7;

/** Adds the loss (graph output `loss`, and `accuracy` for categorical) and returns its gradients. */
export function addLoss(g: StepGraph, loss: StepLoss, c: LossContext): LossGradients {
  g.scope = 'loss';
  const { outputs } = c;
  if (loss.kind === 'adaptation') return addAdaptationLoss(g, loss.term, c);
  if (loss.kind === 'detection') return addDetectionLoss(g, loss, c);
  const batch = g.op('Cast', [g.op('Gather', [g.op('Shape', [outputs[0].name]), g.int64s([0])])], { to: int(1) });
  const sumRows = (t: string) => g.sum(t, [1], true);
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
    const perExample = g.op('Neg', [g.sum(g.op('Mul', [y, g.op('Log', [qc])]), [1])]);
    g.opTo('ReduceMean', [perExample], 'loss', { axes: ints([0]), keepdims: int(0) });
    g.output('loss', []);
    const argmax = (t: string) => g.op('ArgMax', [t], { axis: int(1), keepdims: int(0) });
    const hits = g.op('Cast', [g.op('Equal', [argmax(p), argmax(y)])], { to: int(1) });
    g.opTo('ReduceMean', [hits], 'accuracy', { axes: ints([0]), keepdims: int(0) });
    g.output('accuracy', []);
    // Back through the mean, the clip (TF.js passes the gradient where ε ≤ q ≤ 1-ε) and q = p/S.
    const dq = where(inRange(q, EPSILON, 1 - EPSILON), g.op('Div', [g.op('Neg', [g.op('Div', [y, qc])]), batch]));
    return { dOutputs: [g.op('Div', [g.op('Sub', [dq, sumRows(g.op('Mul', [dq, q]))]), sum])], grads: [] };
  }

  const logVariance = loss.logVariance && c.variable(loss.logVariance, 'task_log_variance', [loss.tasks.length]);
  const terms: string[] = [];
  const dLogVariance: string[] = [];
  const grads = loss.tasks.map((task, t) => {
    const p = outputs[t].name;
    const k = outputs[t].units;
    const y = g.input(`y${t}`, [null, k]);
    const mask = g.op('Unsqueeze', [g.input(`mask${t}`, [null]), g.int64s([1])]); // [n, 1]
    const labelled = g.op('Max', [g.sum(mask, [0, 1]), g.scalar(1)]);
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
    const taskLoss = g.op('Div', [g.sum(g.op('Mul', [perSample, mask]), [0, 1]), labelled]);
    // The task's weight: fixed, or e^(−s) (½·e^(−s) for regression) with ½·s added, s = log σ².
    let weight = g.scalar(task.weight);
    if (logVariance) {
      const st = g.op('Gather', [logVariance, g.int64s([t])]); // [1]
      const half = task.kind === 'regression' ? 0.5 : 1;
      weight = g.op('Mul', [g.op('Exp', [g.op('Neg', [st])]), g.scalar(half)]);
      terms.push(g.sum(g.op('Mul', [st, g.scalar(0.5)]), [0]));
      // d/ds of w·L + ½·s = −w·L + ½.
      dLogVariance.push(g.op('Add', [g.op('Neg', [g.op('Mul', [weight, taskLoss])]), g.scalar(0.5)]));
      weight = g.sum(weight, [0]);
    }
    terms.push(g.op('Mul', [taskLoss, weight]));
    // Unlabelled rows get no gradient from this task; the rest share 1/labelled, times the weight.
    return g.op('Mul', [g.op('Div', [g.op('Mul', [dp, mask]), labelled]), weight]);
  });
  g.opTo('Sum', terms, 'loss');
  g.output('loss', []);
  return { dOutputs: grads, grads: logVariance ? [[logVariance, g.op('Concat', dLogVariance, { axis: int(0) })]] : [] };
}

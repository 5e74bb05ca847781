// Domain adaptation's loss in a training step, as strategies/adapt computes it in TF.js: the batch
// is the source rows, then the target rows; the classifier's cross-entropy counts the source rows
// (softmaxCrossEntropy of log(p + 1e-7), as trainAdaptation writes it) and a method's term acts
// on the bottleneck's features of every row: Deep CORAL's covariance distance, or DANN's domain
// classifier behind a reversed gradient (or Tzeng et al.'s confusion loss). Gradients are written
// by hand, as the layers' are; test/onnx-train.test.ts checks them against tf.variableGrads.
import { int, ints } from '../proto.js';
import { fill, type StepGraph } from './builder.js';
import type { DomainTerm, LossContext, LossGradients } from './loss-types.js';

export type { DomainTerm } from './loss-types.js';

/** TF.js's float32 epsilon, as trainAdaptation adds it before the log. */
const EPSILON = 1e-7;

export function addAdaptationLoss(g: StepGraph, term: DomainTerm, c: LossContext): LossGradients {
  const p = c.outputs[0].name;
  const k = c.outputs[0].units;
  const y = g.input('y', [null, k]);
  const rowsOf = (t: string) => g.op('Shape', [t], { end: int(1) }); // [1] int64
  const [n, ns] = [rowsOf(p), rowsOf(y)];
  const nt = g.op('Sub', [n, ns]);
  const toFloat = (t: string) => g.op('Cast', [t], { to: int(1) });
  /** A row count ([1] int64) as a float scalar, so the loss stays a scalar. */
  const count = (m: string) => g.op('Squeeze', [toFloat(m)]);
  const slice = (t: string, from: string, to: string) => g.op('Slice', [t, from, to, g.int64s([0])]);
  const [zero, nsF] = [g.int64s([0]), count(ns)];
  const mean = (t: string) => g.op('ReduceMean', [t], { keepdims: int(0) });
  const matMul = (a: string, b: string, transA = 0, transB = 0) => g.op('Gemm', [a, b], { transA: int(transA), transB: int(transB) });

  // −Σ y·log(r/S) per source row, r = p + ε, S = Σ r; d/dp = (1/S − y/r) / ns, zero on target rows.
  const r = g.op('Add', [slice(p, zero, ns), g.scalar(EPSILON)]);
  const s = g.sum(r, [1], true);
  const logSoftmax = g.op('Sub', [g.op('Log', [r]), g.op('Log', [s])]);
  const terms = [g.op('Neg', [g.op('Div', [g.op('ReduceSum', [g.op('Mul', [y, logSoftmax])], { keepdims: int(0) }), nsF])])];
  const dpSource = g.op('Div', [g.op('Sub', [g.op('Div', [g.scalar(1), s]), g.op('Div', [y, r])]), nsF]);
  const padRows = g.op('Concat', [zero, zero, nt, zero], { axis: int(0) });
  const dOutputs = [g.op('Pad', [dpSource, padRows])];

  const finish = (dFeatures?: string, grads: LossGradients['grads'] = []): LossGradients => {
    g.opTo('Sum', terms, 'loss');
    g.output('loss', []);
    return { dOutputs, dFeatures, grads };
  };
  if (term.kind === 'none') return finish();
  const h = c.features!.name;
  const d = c.features!.units;

  if (term.kind === 'coral') {
    // C = X̃ᵀX̃ / max(1, m − 1) per domain; dC_s = −dC_t = 2·w·(C_s − C_t) / 4d²; dX = dX̃ − its row mean.
    const [hs, ht] = [slice(h, zero, ns), slice(h, ns, n)];
    const rowMean = (x: string) => g.op('ReduceMean', [x], { axes: ints([0]), keepdims: int(1) });
    const centred = (x: string) => g.op('Sub', [x, rowMean(x)]);
    const denominator = (m: string) => g.op('Max', [g.op('Sub', [count(m), g.scalar(1)]), g.scalar(1)]);
    const [xs, xt] = [centred(hs), centred(ht)];
    const [dens, dent] = [denominator(ns), denominator(nt)];
    const diff = g.op('Sub', [g.op('Div', [matMul(xs, xs, 1), dens]), g.op('Div', [matMul(xt, xt, 1), dent])]);
    terms.push(g.op('Mul', [g.op('ReduceSum', [g.op('Mul', [diff, diff])], { keepdims: int(0) }), g.scalar(term.weight / (4 * d * d))]));
    const dC = g.op('Mul', [diff, g.scalar((2 * term.weight) / (4 * d * d))]);
    const back = (x: string, den: string, sign: number) => {
      const dx = g.op('Div', [g.op('Mul', [matMul(x, dC), g.scalar(2 * sign)]), den]);
      return g.op('Sub', [dx, rowMean(dx)]);
    };
    return finish(g.op('Concat', [back(xs, dens, 1), back(xt, dent, -1)], { axis: int(0) }));
  }

  // The domain classifier: a1 = h·W1 + b1, z = relu(a1)·W2 + b2, its cross-entropy against 0 (source) / 1 (target).
  const [w1, b1, w2, b2] = term.weights.map((v, i) => c.variable(v, `domain_classifier/${i}`, v.shape as number[]));
  const lambda = g.input('lambda', []);
  const a1 = g.op('Gemm', [h, w1, b1]);
  const r1 = g.op('Relu', [a1]);
  const z = g.op('Gemm', [r1, w2, b2]);
  const nF = count(n);
  const column = (m: string, v: number) =>
    g.op('ConstantOfShape', [g.op('Concat', [m, g.int64s([1])], { axis: int(0) })], { value: fill(v) });
  const domain = g.op('Concat', [column(ns, 0), column(nt, 1)], { axis: int(0) });
  // TF.js's sigmoid cross-entropy: relu(z) − z·t + log(1 + e^(−|z|)), mean; its gradient (σ(z) − t) / n.
  const crossEntropy = (target: string) =>
    mean(
      g.op('Add', [
        g.op('Sub', [g.op('Relu', [z]), g.op('Mul', [z, target])]),
        g.op('Log', [g.op('Add', [g.scalar(1), g.op('Exp', [g.op('Neg', [g.op('Abs', [z])])])])]),
      ]),
    );
  const sig = g.op('Sigmoid', [z]);
  terms.push(crossEntropy(domain));
  const dz = g.op('Div', [g.op('Sub', [sig, domain]), nF]);
  /** Back through the classifier to its input: dz·W2ᵀ, masked by a1 > 0, ·W1ᵀ. */
  const da1Of = (dzOut: string) => g.op('Mul', [matMul(dzOut, w2, 0, 1), toFloat(g.op('Greater', [a1, g.scalar(0)]))]);
  const da1 = da1Of(dz);
  const grads: LossGradients['grads'] = [
    [w1, matMul(h, da1, 1)],
    [b1, g.sum(da1, [0])],
    [w2, matMul(r1, dz, 1)],
    [b2, g.sum(dz, [0])],
  ];
  if (term.adversary !== 'confusion') {
    const dh = matMul(da1, w1, 0, 1);
    return finish(g.op('Mul', [dh, g.op('Neg', [lambda])]), grads);
  }
  // Confusion: the features move the held classifier's logits toward ½ (λ-weighted).
  terms.push(g.op('Mul', [crossEntropy(g.scalar(0.5)), lambda]));
  const dzConfusion = g.op('Div', [g.op('Mul', [g.op('Sub', [sig, g.scalar(0.5)]), lambda]), nF]);
  return finish(matMul(da1Of(dzConfusion), w1, 0, 1), grads);
}

// CenterNet's loss in a training step, as train/detection-loss.ts computes it in TF.js: the
// penalty-reduced focal loss on the heatmaps (α = 2, β = 4) over the number of objects, L1 on the
// log-sizes weighted by each object's Gaussian over the weights' sum, and L1 on the centre offsets
// at the centres over the number of objects. The model's output is the head's grid, NCHW in the
// step ([n, C + 4, h, w]); the targets come in as TF.js lays them out ([n, h, w, C + 6]) and are
// turned round once. Gradients are written by hand, as TF.js's ops give them (the clip passes the
// gradient inside [ε, 1 − ε], |x|' is −1 at 0); test/onnx-train.test.ts checks them against
// tf.variableGrads.
import { int, ints } from '../proto.js';
import type { StepGraph } from './builder.js';
import type { LossContext, LossGradients } from './loss-types.js';

/** The heatmap's clip, as detectionLoss clips it. */
const CLIP = 1e-4;

export function addDetectionLoss(g: StepGraph, loss: { classes: number; size: number; offset: number }, c: LossContext): LossGradients {
  const C = loss.classes;
  const out = c.outputs[0].name;
  const y = g.op('Transpose', [g.input('y', [null, null, null, C + 6])], { perm: ints([0, 3, 1, 2]) });
  const channels = (t: string, from: number, size: number) => g.op('Slice', [t, g.int64s([from]), g.int64s([from + size]), g.int64s([1])]);
  const total = (t: string) => g.op('ReduceSum', [t], { keepdims: int(0) });
  const [mul, sub, add, div] = (['Mul', 'Sub', 'Add', 'Div'] as const).map((op) => (a: string, b: string) => g.op(op, [a, b]));
  const one = g.scalar(1);
  const square = (t: string) => mul(t, t);

  const heat = channels(out, 0, C);
  const p = g.op('Clip', [heat, g.scalar(CLIP), g.scalar(1 - CLIP)]);
  const gt = channels(y, 0, C);
  const pos = g.op('Cast', [g.op('Equal', [gt, one])], { to: int(1) });
  const neg = sub(one, pos);
  const q = sub(one, p);
  const [logP, logQ] = [g.op('Log', [p]), g.op('Log', [q])];
  const away = square(square(sub(one, gt))); // (1 − gt)⁴: less penalty near a centre
  const posLoss = mul(mul(logP, square(q)), pos);
  const negWeight = mul(away, neg);
  const negLoss = mul(mul(logQ, square(p)), negWeight);
  const centres = channels(y, C + 4, 1);
  const sizeWeight = channels(y, C + 5, 1);
  const objects = g.op('Max', [total(centres), one]);
  const focal = g.op('Neg', [div(add(total(posLoss), total(negLoss)), objects)]);

  // L1 over channels [from, from + 2), weighted per cell: its value and d/d(pred).
  const l1 = (from: number, weight: string, sum: string, factor: number) => {
    const d = sub(channels(out, from, 2), channels(y, from, 2));
    const value = mul(div(total(mul(g.op('Abs', [d]), weight)), sum), g.scalar(factor));
    // TF.js's |x|' is step(x, −1): 1 above 0, −1 at or below.
    const sign = sub(mul(g.op('Cast', [g.op('Greater', [d, g.scalar(0)])], { to: int(1) }), g.scalar(2)), one);
    return { value, grad: mul(mul(sign, div(weight, sum)), g.scalar(factor)) };
  };
  const size = l1(C, sizeWeight, g.op('Max', [total(sizeWeight), g.scalar(1e-6)]), loss.size);
  const offset = l1(C + 2, centres, objects, loss.offset);
  g.opTo('Sum', [focal, size.value, offset.value], 'loss');
  g.output('loss', []);

  // d focal / dp = −(pos·((1−p)²/p − 2(1−p)·log p) + neg·(1−gt)⁴·(2p·log(1−p) − p²/(1−p))) / objects,
  // then through the clip.
  const dPos = mul(pos, sub(div(square(q), p), mul(mul(g.scalar(2), q), logP)));
  const dNeg = mul(negWeight, sub(mul(mul(g.scalar(2), p), logQ), div(square(p), q)));
  const inside = g.op('And', [g.op('GreaterOrEqual', [heat, g.scalar(CLIP)]), g.op('LessOrEqual', [heat, g.scalar(1 - CLIP)])]);
  const dHeat = mul(div(g.op('Neg', [add(dPos, dNeg)]), objects), g.op('Cast', [inside], { to: int(1) }));
  return { dOutputs: [g.op('Concat', [dHeat, size.grad, offset.grad], { axis: int(1) })], grads: [] };
}

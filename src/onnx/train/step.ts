// One training step of a TF.js LayersModel as an ONNX graph: the batch and its targets in, the
// forward pass, the loss and its gradient at the outputs (losses.ts), the backward pass layer by
// layer (layers.ts), and the optimiser's update of every trainable weight; out come the loss (and
// the batch accuracy), and the new weights and optimiser slots, which the caller feeds back next
// step. Frozen weights are constants of the graph. `forwardOnly` stops after the loss: the
// evaluation graph on the same weights.
import type * as tf from '@tensorflow/tfjs';
import { floatTensor, ints } from '../proto.js';
import { StepGraph } from './builder.js';
import { LAYER_RULES, PAIR_RULES, sameLayout, type Forward, type LayerRule, type Shape, type WeightLayout } from './layers.js';
import { addLoss, type StepLoss, type StepVariable } from './losses.js';

export type StepOptimizer =
  /** TF.js's tf.train.adam: bias-corrected moments, ε added outside the square root. */
  | { kind: 'adam'; beta1?: number; beta2?: number; epsilon?: number }
  /** TF.js's tf.train.momentum without Nesterov: v ← μv + g, w ← w − lr·v. */
  | { kind: 'momentum'; momentum: number };

export interface StepOptions {
  optimizer: StepOptimizer;
  /** What the step minimises (default: categorical cross-entropy on the one softmax output). */
  loss?: StepLoss;
  /** Seeds the dropout layers (each its own, from this one). */
  seed?: number;
  /** Dropout masks as outputs too, so a test can replay a step in TF.js. */
  exposeMasks?: boolean;
  /** Only the forward pass (dropout off) and the loss: an evaluation on the same weights, no update. */
  forwardOnly?: boolean;
  /** BatchNormalization layers pinned to their moving statistics (graft pins base BN layers there). */
  inferenceBatchNorm?: (layer: tf.layers.Layer) => boolean;
}

/** A weight the step takes and returns: its variable, layout and the graph's names for it and its slots. */
export interface StepWeight {
  variable: StepVariable;
  layout: WeightLayout;
  /** Values in it: the weight and its slots are fed and returned flat. */
  size: number;
  input: string;
  output: string;
  /** Optimiser slots (Adam: m, v; momentum: v), in and out. */
  slots: { input: string; output: string }[];
  /** False for statistics the step moves without optimising them (BatchNorm's moving mean and variance in training mode). */
  trainable: boolean;
}

/** A dropout layer's mask (0 or 1/keep, in graph layout) as a step output, with `exposeMasks` (tests). */
export interface StepMask {
  layer: string;
  output: string;
}

export interface TrainStep {
  bytes: Uint8Array;
  weights: StepWeight[];
  masks: StepMask[];
  /** Scalars fed each step: the learning rate, and for Adam 1-β1^t and 1-β2^t. */
  scalars: string[];
  /** Values per example of each output, in the model's output order. */
  units: number[];
  loss: StepLoss;
}

interface Producer {
  layer: tf.layers.Layer;
  inputs: tf.SymbolicTensor[];
  /** The tensor this call of the layer made (a layer shared with the full model has several calls). */
  output: tf.SymbolicTensor;
}

/** The nodes from the model's input to its outputs, inputs before what reads them. */
function topology(model: tf.LayersModel): { order: Producer[]; error?: string } {
  if (model.inputs.length !== 1) return { order: [], error: 'a model with several inputs' };
  const order: Producer[] = [];
  const seen = new Set<number>();
  const input = model.inputs[0];
  const visit = (t: tf.SymbolicTensor): string | undefined => {
    if (t.id === input.id || seen.has(t.id)) return undefined;
    seen.add(t.id);
    const layer = t.sourceLayer as tf.layers.Layer & { inboundNodes: { inputTensors: tf.SymbolicTensor[] }[] };
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node) return `no inbound node for ${layer.name}`;
    for (const i of node.inputTensors) {
      const e = visit(i);
      if (e) return e;
    }
    if (layer.getClassName() !== 'InputLayer') order.push({ layer, inputs: node.inputTensors, output: t });
    return undefined;
  };
  for (const out of model.outputs) {
    const error = visit(out);
    if (error) return { order, error };
  }
  return { order };
}

/** What the step applies one rule to: a layer, or a pair PAIR_RULES folds into one. */
interface Unit extends Producer {
  layers: tf.layers.Layer[];
  rule: LayerRule;
  /** The first layer's place in the topology (seeds dropout as before folding). */
  index: number;
}

/**
 * The producers as units: a conv (linear) and the BatchNormalization after it fold into one
 * (PAIR_RULES) when the norm is pinned to its moving statistics (or the step only evaluates) and
 * is the conv's only reader. `keep`: a tensor the loss reads, which must stay.
 */
function fold(
  order: Producer[],
  model: tf.LayersModel,
  o: { training: boolean; pinnedNorm?: (layer: tf.layers.Layer) => boolean; keep?: tf.SymbolicTensor },
): Unit[] {
  const readers = new Map<number, number>();
  for (const t of [...order.flatMap((p) => p.inputs), ...model.outputs, ...(o.keep ? [o.keep] : [])])
    readers.set(t.id, (readers.get(t.id) ?? 0) + 1);
  const units: Unit[] = [];
  for (let i = 0; i < order.length; i++) {
    const [p, next] = [order[i], order[i + 1]];
    const pair = next && PAIR_RULES[`${p.layer.getClassName()}+${next.layer.getClassName()}`];
    const folds =
      pair &&
      next.inputs.length === 1 &&
      next.inputs[0].id === p.output.id &&
      readers.get(p.output.id) === 1 &&
      p.layer.getConfig().activation === 'linear' &&
      p.output.shape.length === 4 &&
      (!o.training || (o.pinnedNorm?.(next.layer) ?? false));
    if (folds) {
      units.push({ layer: p.layer, layers: [p.layer, next.layer], inputs: p.inputs, output: next.output, rule: pair, index: i });
      i++;
    } else units.push({ ...p, layers: [p.layer], rule: LAYER_RULES[p.layer.getClassName()], index: i });
  }
  return units;
}

const withoutBatch = (shape: unknown): Shape => (shape as (number | null)[]).slice(1) as Shape;

/** Why `model` cannot train on ONNX Runtime (the first layer, loss or configuration the generator lacks), or undefined. */
export function unsupportedReason(model: tf.LayersModel, o: Pick<StepOptions, 'inferenceBatchNorm' | 'loss'> = {}): string | undefined {
  const { order, error } = topology(model);
  if (error) return error;
  const input = withoutBatch(model.inputs[0].shape);
  if (input.some((d) => !(d > 0))) return 'an input of unknown size';
  for (const { layer, inputs } of order) {
    const name = layer.getClassName();
    const rule = LAYER_RULES[name];
    if (!rule) return `layer ${layer.name} (${name})`;
    const why = rule.unsupported?.(
      layer,
      layer.getConfig(),
      inputs.map((t) => withoutBatch(t.shape)),
    );
    if (why) return `${layer.name}: ${why}`;
  }
  const loss = o.loss ?? { kind: 'categorical' };
  if (loss.kind === 'detection') {
    const shape = model.outputs.length === 1 ? withoutBatch(model.outputs[0].shape) : [];
    if (shape.length !== 3 || shape[2] !== loss.classes + 4)
      return `an output that is not a grid of ${loss.classes} heatmaps, sizes and offsets`;
    return undefined;
  }
  if (model.outputs.some((t) => withoutBatch(t.shape).length !== 1)) return 'an output that is not one vector per example';
  if (loss.kind === 'categorical') {
    if (model.outputs.length !== 1) return 'several outputs under one categorical cross-entropy';
    const last = model.outputs[0].sourceLayer.getConfig();
    if (last.activation !== 'softmax') return 'an output that is not a softmax (the loss is categorical cross-entropy)';
  } else if (loss.kind === 'masked-tasks') {
    if (loss.tasks.length !== model.outputs.length) return `${model.outputs.length} outputs for ${loss.tasks.length} tasks`;
  } else {
    if (model.outputs.length !== 1) return 'several outputs under an adaptation loss';
    const features = model.layers.find((l) => l.name === loss.features);
    if (!features) return `no layer ${loss.features} for the adaptation loss's features`;
    if (withoutBatch((features.output as tf.SymbolicTensor).shape).length !== 1)
      return `features ${loss.features} that are not one vector per example`;
  }
  return undefined;
}

/** The step graph of `model` (check unsupportedReason first). */
export function buildTrainStep(model: tf.LayersModel, o: StepOptions): TrainStep {
  const why = unsupportedReason(model, o);
  if (why) throw new Error(`cannot train on ONNX Runtime: ${why}`);
  const { order } = topology(model);
  const g = new StepGraph();
  const inShape = withoutBatch(model.inputs[0].shape);
  const x = g.input('x', [null, ...inShape]);
  const training = !o.forwardOnly;
  const lr = training ? g.input('lr', []) : '';
  const adam = o.optimizer.kind === 'adam' ? o.optimizer : undefined;
  const [c1, c2] = adam && training ? [g.input('one_minus_beta1_power', []), g.input('one_minus_beta2_power', [])] : [];
  const trainable = new Set(model.trainableWeights.map((w) => w.id));
  const slotNames = !training ? [] : o.optimizer.kind === 'adam' ? ['m', 'v'] : ['velocity'];
  const weights: StepWeight[] = [];
  /**
   * A weight (and, trained, its optimiser slots) as graph inputs. They cross as flat vectors and
   * are updated as such: ONNX Runtime's elementwise ops ran 20x slower on a [1280, 320, 1, 1]
   * kernel than on the same values flat (measured).
   */
  const addWeight = (variable: StepVariable, base: string, shape: number[], layout = sameLayout(shape), trainable = true): StepWeight => {
    const size = shape.reduce((a, b) => a * b, 1);
    const input = g.input(`${base}/w`, [size]);
    const slots = (trainable ? slotNames : []).map((s) => ({ input: g.input(`${base}/${s}`, [size]), output: `${base}/${s}_next` }));
    const sw: StepWeight = { variable, layout, size, input, output: `${base}/w_next`, slots, trainable };
    weights.push(sw);
    return sw;
  };

  const values = new Map<number, string>([
    [model.inputs[0].id, inShape.length === 3 ? g.op('Transpose', [x], { perm: ints([0, 3, 1, 2]) }) : x],
  ]);
  // Whether a tensor depends on a trainable weight: only then does a gradient need to reach it.
  const needsGrad = new Map<number, boolean>([[model.inputs[0].id, false]]);
  const masks: StepMask[] = [];
  /** Moving statistics, by the index of their weight in their layer. */
  const stateOf = new Map<StepWeight, number>();
  const done: { p: Unit; fwd: Forward; layerWeights: (StepWeight | undefined)[] }[] = [];

  const features = o.loss?.kind === 'adaptation' ? featuresOf(model, o.loss.features) : undefined;
  for (const p of fold(order, model, { training, pinnedNorm: o.inferenceBatchNorm, keep: features })) {
    const { layer, rule } = p;
    g.scope = layer.name;
    const pinned = o.inferenceBatchNorm?.(layer) ?? false;
    const layerWeights: (StepWeight | undefined)[] = [];
    // The weights of the unit's layers (one, or a folded pair), in order.
    const names = p.layers.flatMap((l) => {
      const layouts = LAYER_RULES[l.getClassName()].weights?.(l) ?? [];
      const moving = new Set(p.layers.length === 1 ? (rule.state?.(l, pinned) ?? []) : []);
      return l.weights.map((w, k) => {
        const layout = layouts[k];
        const base = `${l.name}/${k}`;
        if (moving.has(k)) {
          // Statistics the step moves: fed and returned like a weight, not optimised.
          const sw = addWeight(w, base, layout.onnxShape, layout, false);
          stateOf.set(sw, k);
          layerWeights.push(undefined);
          return g.op('Reshape', [sw.input, g.int64s(layout.onnxShape)]);
        }
        if (!trainable.has(w.id)) {
          const name = g.fresh(`${base}/const`);
          g.initializers.push(floatTensor(name, layout.onnxShape, layout.toOnnx(w.read().dataSync() as Float32Array)));
          layerWeights.push(undefined);
          return name;
        }
        const sw = addWeight(w, base, layout.onnxShape, layout);
        layerWeights.push(sw);
        return g.op('Reshape', [sw.input, g.int64s(layout.onnxShape)]);
      });
    });
    const inputs = p.inputs.map((t) => values.get(t.id)!);
    const fwd = rule.forward(
      {
        g,
        layer,
        ...(p.layers.length === 2 ? { layers: p.layers as [tf.layers.Layer, tf.layers.Layer] } : {}),
        weights: names,
        inShapes: p.inputs.map((t) => withoutBatch(t.shape)),
        outShape: withoutBatch(p.output.shape),
        training,
        pinned,
        seed: () => (o.seed ?? 0) * 1000 + p.index + 1,
        exposeMask(mask) {
          if (!o.exposeMasks) return;
          const output = g.opTo('Identity', [mask], `${layer.name}/mask`);
          g.output(output, []);
          masks.push({ layer: layer.name, output });
        },
      },
      inputs,
    );
    values.set(p.output.id, fwd.y);
    if (training)
      for (const [sw, k] of stateOf)
        if (sw.variable === layer.weights[k] && fwd.updates?.has(k)) {
          g.opTo('Reshape', [fwd.updates.get(k)!, g.int64s([sw.size])], sw.output);
          g.output(sw.output, [sw.size]);
        }
    needsGrad.set(p.output.id, layerWeights.some((w) => w) || p.inputs.some((t) => needsGrad.get(t.id)));
    done.push({ p, fwd, layerWeights });
  }

  const loss = o.loss ?? { kind: 'categorical' };
  const units = model.outputs.map((t) => withoutBatch(t.shape)[0]);
  const byValue = new Map<string, StepWeight>();
  const lossGrads = addLoss(g, loss, {
    outputs: model.outputs.map((t, k) => ({ name: values.get(t.id)!, units: units[k] })),
    features: features && { name: values.get(features.id)!, units: withoutBatch(features.shape)[0] },
    variable(v, base, shape) {
      // The loss's own variables (learned task weights, a domain classifier) train beside the model's.
      const sw = addWeight(v, base, shape, sameLayout(shape), training);
      const value = g.op('Reshape', [sw.input, g.int64s(shape)]);
      byValue.set(value, sw);
      return value;
    },
  });
  if (!training) {
    // The outputs themselves too, in TF.js's layout, for an evaluation that reads them (a detector's grid).
    model.outputs.forEach((t, k) => {
      const v = values.get(t.id)!;
      if (withoutBatch(t.shape).length === 3) g.opTo('Transpose', [v], `output${k}`, { perm: ints([0, 2, 3, 1]) });
      else g.opTo('Identity', [v], `output${k}`);
      g.output(`output${k}`, [null, ...withoutBatch(t.shape)]);
    });
    return { bytes: g.encode(model.name), weights, masks, scalars: [], units, loss };
  }

  // Backward, outputs to input, summing the gradients of a tensor read by several layers.
  const pending = new Map<number, string[]>();
  model.outputs.forEach((t, k) => pending.set(t.id, [...(pending.get(t.id) ?? []), lossGrads.dOutputs[k]]));
  if (features && lossGrads.dFeatures) pending.set(features.id, [...(pending.get(features.id) ?? []), lossGrads.dFeatures]);
  const grads = new Map<StepWeight, string>(lossGrads.grads.map(([input, grad]) => [byValue.get(input)!, grad]));
  for (const d of [...done].reverse()) {
    const parts = pending.get(d.p.output.id);
    if (!parts) continue;
    g.scope = `${d.p.layer.name}/grad`;
    const dy = parts.slice(1).reduce((a, b) => g.op('Add', [a, b]), parts[0]);
    const needDx = d.p.inputs.map((t) => needsGrad.get(t.id) ?? false);
    const r = d.fwd.back(dy, needDx);
    d.p.inputs.forEach((t, k) => {
      const dx = r.dxs[k];
      if (dx && needDx[k]) pending.set(t.id, [...(pending.get(t.id) ?? []), dx]);
    });
    d.layerWeights.forEach((w, k) => {
      if (w && r.grads[k]) grads.set(w, r.grads[k]!);
    });
  }

  // The optimiser's update, op for op as TF.js orders it.
  for (const w of weights.filter((v) => v.trainable)) {
    g.scope = `${w.input}/update`;
    const grad = g.op('Reshape', [grads.get(w)!, g.int64s([w.size])]);
    if (adam) {
      const [b1, b2, eps] = [adam.beta1 ?? 0.9, adam.beta2 ?? 0.999, adam.epsilon ?? 1e-7];
      const [m, v] = w.slots;
      const m1 = g.opTo('Add', [g.op('Mul', [m.input, g.scalar(b1)]), g.op('Mul', [grad, g.scalar(1 - b1)])], m.output);
      const v1 = g.opTo(
        'Add',
        [g.op('Mul', [v.input, g.scalar(b2)]), g.op('Mul', [g.op('Mul', [grad, grad]), g.scalar(1 - b2)])],
        v.output,
      );
      const mHat = g.op('Div', [m1, c1!]);
      const vHat = g.op('Div', [v1, c2!]);
      const stepSize = g.op('Div', [mHat, g.op('Add', [g.op('Sqrt', [vHat]), g.scalar(eps)])]);
      g.opTo('Add', [g.op('Mul', [stepSize, g.op('Neg', [lr])]), w.input], w.output);
    } else {
      const [velocity] = w.slots;
      const mu = (o.optimizer as { momentum: number }).momentum;
      const v1 = g.opTo('Add', [g.op('Mul', [velocity.input, g.scalar(mu)]), grad], velocity.output);
      g.opTo('Add', [g.op('Mul', [v1, g.op('Neg', [lr])]), w.input], w.output);
    }
    for (const out of [w.output, ...w.slots.map((s) => s.output)]) g.output(out, [w.size]);
  }
  return { bytes: g.encode(model.name), weights, masks, scalars: adam ? ['lr', c1!, c2!] : ['lr'], units, loss };
}

/** The output of layer `name` (its last call), which an adaptation loss reads. */
function featuresOf(model: tf.LayersModel, name: string): tf.SymbolicTensor {
  return model.getLayer(name).output as tf.SymbolicTensor;
}

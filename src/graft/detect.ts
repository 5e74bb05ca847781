// A detection head grafted on a classification base: CenterNet's "Objects as Points" (Zhou et al.,
// 2019). The trunk, cut at a stride-16 (or 32) feature map, is followed by a small convolutional
// head predicting per feature-map cell a heatmap of object centres per class, the box size and the
// sub-cell offset of the centre. One-stage and anchor-free: no anchors to tune for a new data set,
// and decoding is a 3x3 max-pool peak search, a few lines anywhere (see decodeDetections).
import * as tf from '@tensorflow/tfjs';
import type { DetectorClassifier, FrozenTrunk, ImageBase, LayersBase, OnnxBase } from '../bases/types.js';
import { cutPoints } from '../bases/structure.js';
import { usageError } from '../core/errors.js';
import type { ImageSize } from '../data/types.js';
import { resolveCut, type CutSpec } from './cut.js';
import { ownModel, trainAbove } from './graft.js';

/** What one cell of the output holds, in this order along the last axis. */
export const DETECTION_LAYOUT =
  'per cell: C class heatmap scores (sigmoid), log(w/stride), log(h/stride), centre offset x, y within the cell (sigmoid)';

/** Channels of the head's hidden layers: small, so stage 1 on cached features takes seconds per epoch. */
const HEAD_CHANNELS = 128;
/** CenterNet's heatmap bias: sigmoid(-2.19) ≈ 0.1, the focal loss's prior so early training is stable. */
const HEATMAP_PRIOR_BIAS = -2.19;

export interface GraftDetectorOptions {
  classes: string[];
  /** A layer name or index, or `auto`: the last cut point of stride 16 (or 32 when there is none). */
  cut?: CutSpec;
  /** Input the trunk is rebuilt for (convolutions do not care about the size their weights were trained at); default 320x320. */
  inputSize?: { height: number; width: number };
  scratch?: boolean;
  /** Classes whose heatmap starts from a detector base's own classifier (see HeadStart); default none. */
  headStart?: HeadStart;
}

/**
 * Which new classes start from which of a detector base's classes: `matching`, every class named
 * as one of the base's (nanodet: COCO's `person`, `car`, `dog`…), or new class → base class
 * (`{ pedestrian: 'person' }`). Such a class's heatmap starts as the base's own score for its
 * class, its classifier's weights copied into the head, and trains from there.
 */
export type HeadStart = 'matching' | Readonly<Record<string, string>>;

interface DetectorParts {
  model: tf.LayersModel;
  cut: string;
  classes: string[];
  input: ImageSize;
  /** Input pixels per output cell. */
  stride: number;
}

/** A LayersModel base grafted as a detector: `model` takes images (letterboxed to `input`) and gives a [h, w, C + 4] grid. */
export interface DetectorOnLayers extends DetectorParts {
  base: LayersBase;
  scratch: boolean;
  trunk?: undefined;
}

/**
 * A frozen ONNX base grafted as a detector: `model` is the head alone, on the cut's map, which
 * the base's `trunk` computes from images letterboxed to the base's own input size.
 */
export interface DetectorOnFrozen extends DetectorParts {
  base: OnnxBase;
  trunk: FrozenTrunk;
  scratch: false;
}

export type GraftedDetector = DetectorOnLayers | DetectorOnFrozen;

export const DEFAULT_DETECTION_INPUT = 320;

/** The base's model rebuilt to take `size` images, with the base's weights. */
export async function withInputSize(model: tf.LayersModel, size: ImageSize): Promise<tf.LayersModel> {
  const topology = model.toJSON(null, false) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  const input = topology.config.layers.find((l) => l.class_name === 'InputLayer');
  if (!input) throw usageError(`${model.name} has no input layer to resize`);
  input.config.batch_input_shape = [null, size.height, size.width, size.channels];
  const resized = await tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] });
  for (const layer of resized.layers) if (layer.weights.length) layer.setWeights(model.getLayer(layer.name).getWeights());
  return resized;
}

/** Input pixels per cell of a layer's output, when it is a 4-D map that divides the input evenly. */
function strideOf(model: tf.LayersModel, layer: tf.layers.Layer): number | undefined {
  const shape = layer.outputShape as (number | null)[];
  const inShape = model.inputs[0].shape;
  if (shape.length !== 4 || !shape[1] || !inShape[1]) return undefined;
  const stride = inShape[1] / shape[1];
  return Number.isInteger(stride) ? stride : undefined;
}

/** `auto`: the highest cut point at stride 16, else at 32 (where cells are about the size of a small object). */
function autoCut(model: tf.LayersModel, base: LayersBase): string {
  const points = [...cutPoints(model)].sort((a, b) => b - a);
  for (const stride of [16, 32]) {
    const i = points.find((p) => strideOf(model, model.layers[p]) === stride);
    if (i !== undefined) return model.layers[i].name;
  }
  throw usageError(`${base.name} has no cut point with a stride-16 or stride-32 feature map: name one with --cut`);
}

function conv(name: string, filters: number, kernel: number, activation: 'relu' | 'sigmoid' | 'linear', bias?: number) {
  return tf.layers.conv2d({
    name,
    filters,
    kernelSize: kernel,
    padding: 'same',
    activation,
    biasInitializer: bias === undefined ? 'zeros' : tf.initializers.constant({ value: bias }),
  });
}

/** A new class and the base classifier's class it starts from (indices). */
interface ClassStart {
  class: number;
  baseClass: number;
}

/**
 * The head on a feature map: a 1x1 reduction, a 3x3 depthwise-separable mix, then the three
 * outputs concatenated. With a head start, the heatmap's logit is the mix's plus the maximum over
 * the base classifier's levels of a 1x1 convolution of the features: at the start that maximum
 * is the base's own logit for a started class (its weights copied by `startFrom`) and 0 for the
 * others. The maximum, because each of the base's levels scores only the sizes it was assigned.
 */
export function applyDetectionHead(features: tf.SymbolicTensor, classes: number, start?: DetectorClassifier): tf.SymbolicTensor {
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  let x = apply(conv('det_reduce', HEAD_CHANNELS, 1, 'relu'), features);
  x = apply(tf.layers.depthwiseConv2d({ name: 'det_spatial', kernelSize: 3, padding: 'same', activation: 'relu' }), x);
  x = apply(conv('det_mix', HEAD_CHANNELS, 1, 'relu'), x);
  let heat: tf.SymbolicTensor;
  if (!start) heat = apply(conv('det_heatmap', classes, 1, 'sigmoid', HEATMAP_PRIOR_BIAS), x);
  else {
    const own = apply(conv('det_heatmap', classes, 1, 'linear', HEATMAP_PRIOR_BIAS), x);
    const levels = start.levels.map((l) => apply(conv(`det_start_s${l.stride}`, classes, 1, 'linear'), features));
    const best = levels.length > 1 ? apply(tf.layers.maximum({ name: 'det_start' }), levels) : levels[0];
    const logit = apply(tf.layers.add({ name: 'det_heatmap_logit' }), [own, best]);
    heat = apply(tf.layers.activation({ name: 'det_heatmap_score', activation: 'sigmoid' }), logit);
  }
  const size = apply(conv('det_size', 2, 1, 'linear'), x);
  const offset = apply(conv('det_offset', 2, 1, 'sigmoid'), x);
  return tf.layers.concatenate({ name: 'det_output', axis: -1 }).apply([heat, size, offset]) as tf.SymbolicTensor;
}

/** Which classes start from which of the base's, checked against both lists. */
function classStarts(base: OnnxBase, classes: readonly string[], asked: HeadStart): ClassStart[] {
  const known = base.classifier?.classes;
  if (!known) throw usageError(`${base.name} is not a detector with a classifier: no class can start from it`);
  const pairs = asked === 'matching' ? classes.filter((c) => known.includes(c)).map((c) => [c, c]) : Object.entries(asked);
  if (!pairs.length)
    throw usageError(`a head start found no class of ${base.name}'s among ${classes.join(', ')}: name one, as pedestrian=person`);
  return pairs.map(([name, from]) => {
    const c = classes.indexOf(name);
    if (c < 0) throw usageError(`a head start names ${JSON.stringify(name)}, which is not a class of the data (${classes.join(', ')})`);
    const b = known.indexOf(from);
    if (b < 0) throw usageError(`${base.name} has no class ${JSON.stringify(from)} to start from (its classes: ${known.join(', ')})`);
    return { class: c, baseClass: b };
  });
}

/** Copy the base classifier's weights for each started class into the head (see applyDetectionHead). */
function startFrom(model: tf.LayersModel, classifier: DetectorClassifier, starts: ClassStart[]): void {
  const rewrite = (name: string, edit: (kernel: Float32Array, bias: Float32Array, inputs: number, outputs: number) => void) => {
    const layer = model.getLayer(name);
    const [k, b] = layer.getWeights();
    const kernel = k.dataSync().slice() as Float32Array;
    const bias = b.dataSync().slice() as Float32Array;
    const [, , inputs, outputs] = k.shape; // [1, 1, in, out], row-major
    edit(kernel, bias, inputs, outputs);
    const weights = [tf.tensor(kernel, k.shape), tf.tensor(bias, b.shape)];
    layer.setWeights(weights);
    tf.dispose(weights);
  };
  // The mix's part of a started class's logit starts at 0, so the logit is the base's.
  rewrite('det_heatmap', (kernel, bias, inputs, outputs) => {
    for (const s of starts) {
      for (let i = 0; i < inputs; i++) kernel[i * outputs + s.class] = 0;
      bias[s.class] = 0;
    }
  });
  const classes = classifier.classes.length;
  for (const level of classifier.levels)
    rewrite(`det_start_s${level.stride}`, (kernel, bias, _inputs, outputs) => {
      kernel.fill(0);
      bias.fill(0);
      for (const s of starts) {
        for (let i = 0; i < level.channels; i++) kernel[(level.offset + i) * outputs + s.class] = level.kernel[i * classes + s.baseClass];
        bias[s.class] = level.bias[s.baseClass];
      }
    });
}

export async function graftDetector(base: ImageBase, o: GraftDetectorOptions): Promise<GraftedDetector> {
  if (o.classes.length < 1) throw usageError('detection needs at least one class');
  if (base.kind === 'graph')
    throw usageError(`${base.name} is a TF.js graph model: a detector grafts on a TF.js LayersModel or an ONNX base`);
  if (base.kind === 'onnx') return graftDetectorOnFrozen(base, o);
  if (o.headStart !== undefined) throw usageError(`${base.name} is not a detector: no class can start from its classifier`);
  const { height, width } = o.inputSize ?? { height: DEFAULT_DETECTION_INPUT, width: DEFAULT_DETECTION_INPUT };
  // A multiple of 32 keeps every stride-2 layer's output an exact half, so cells map to pixels exactly.
  if (![height, width].every((v) => Number.isInteger(v) && v >= 32 && v % 32 === 0))
    throw usageError(`a detector's input size must be multiples of 32, got ${height}x${width}`);
  const input: ImageSize = { height, width, channels: base.input.channels };
  const resized = await withInputSize(base.model, input);
  try {
    const cut = (o.cut ?? 'auto') === 'auto' ? autoCut(resized, base) : resolveCut(base, o.cut);
    const stride = strideOf(resized, resized.getLayer(cut));
    if (!stride) throw usageError(`cut ${cut} of ${base.name} is not a feature map a detection head can sit on`);
    const model = await ownModel(base, resized, cut, (f) => applyDetectionHead(f, o.classes.length), o.scratch);
    const g: DetectorOnLayers = { base, model, cut, classes: o.classes, input, stride, scratch: !!o.scratch };
    trainAbove(g, o.scratch ? model.layers[0].name : cut);
    return g;
  } finally {
    resized.dispose();
  }
}

/**
 * The head on a frozen ONNX base's map at the cut (`auto`: the base's suggested cut; nanodet's is
 * its three heads' last maps joined at stride 16). The trunk's weights never train, so
 * its input stays the size they were trained at and there is no scratch variant.
 */
async function graftDetectorOnFrozen(base: OnnxBase, o: GraftDetectorOptions): Promise<DetectorOnFrozen> {
  if (o.scratch) throw usageError(`${base.name} is a frozen ONNX model: it has no architecture to train from scratch`);
  const input = base.input;
  if (o.inputSize && (o.inputSize.height !== input.height || o.inputSize.width !== input.width))
    throw usageError(
      `${base.name} is a frozen ONNX model taking ${input.height}x${input.width} images: a detector on it has that input, not ${o.inputSize.height}x${o.inputSize.width}`,
    );
  const cut = (o.cut ?? 'auto') === 'auto' ? base.suggestedCut : resolveCut(base, o.cut);
  // A head start's classes and cut are checked before the trunk's session exists.
  const starts = o.headStart === undefined ? [] : classStarts(base, o.classes, o.headStart);
  const classifier = starts.length ? base.classifier : undefined;
  if (classifier && cut !== classifier.cut)
    throw usageError(`a head start reads ${base.name}'s classifier at cut ${classifier.cut}, not ${cut}: leave --cut at auto`);
  const trunk = await base.frozenTrunk(cut);
  try {
    // The trunk gives NHWC maps whatever the graph's layout (onnxTrunk turns an NCHW cut round).
    const zeros = tf.zeros([1, input.height, input.width, input.channels]);
    const probe = await Promise.resolve(trunk.predict(zeros)).finally(() => zeros.dispose());
    const dims = probe.shape;
    probe.dispose();
    const [, h, w, channels] = dims;
    const stride = input.height / h;
    if (dims.length !== 4 || !Number.isInteger(stride) || input.width / w !== stride)
      throw usageError(`cut ${cut} of ${base.name} is not a feature map a detection head can sit on (its output is ${dims.join('x')})`);
    const features = tf.input({ shape: [h, w, channels], name: 'features' });
    const model = tf.model({
      inputs: features,
      outputs: applyDetectionHead(features, o.classes.length, classifier),
      name: 'graft_detect_head',
    });
    if (classifier) startFrom(model, classifier, starts);
    return { base, model, trunk, cut, classes: o.classes, input, stride, scratch: false };
  } catch (e) {
    await trunk.release?.();
    throw e;
  }
}

/** Free what a detector graft owns: its model's weights and its trunk's session (the base is left alone). */
export async function disposeDetector(g: GraftedDetector): Promise<void> {
  g.model.dispose();
  await g.trunk?.release?.();
}

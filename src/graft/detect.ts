// A detection head grafted on a classification base: CenterNet's "Objects as Points" (Zhou et al.,
// 2019). The trunk, cut at a stride-16 (or 32) feature map, is followed by a small convolutional
// head predicting per feature-map cell a heatmap of object centres per class, the box size and the
// sub-cell offset of the centre. One-stage and anchor-free: no anchors to tune for a new data set,
// and decoding is a 3x3 max-pool peak search, a few lines anywhere (see decodeDetections).
import * as tf from '@tensorflow/tfjs';
import type { FrozenTrunk, ImageBase, LayersBase, OnnxBase } from '../bases/types.js';
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
}

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

/** The head on a feature map: a 1x1 reduction, a 3x3 depthwise-separable mix, then the three outputs concatenated. */
export function applyDetectionHead(features: tf.SymbolicTensor, classes: number): tf.SymbolicTensor {
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;
  let x = apply(conv('det_reduce', HEAD_CHANNELS, 1, 'relu'), features);
  x = apply(tf.layers.depthwiseConv2d({ name: 'det_spatial', kernelSize: 3, padding: 'same', activation: 'relu' }), x);
  x = apply(conv('det_mix', HEAD_CHANNELS, 1, 'relu'), x);
  const heat = apply(conv('det_heatmap', classes, 1, 'sigmoid', HEATMAP_PRIOR_BIAS), x);
  const size = apply(conv('det_size', 2, 1, 'linear'), x);
  const offset = apply(conv('det_offset', 2, 1, 'sigmoid'), x);
  return tf.layers.concatenate({ name: 'det_output', axis: -1 }).apply([heat, size, offset]) as tf.SymbolicTensor;
}

export async function graftDetector(base: ImageBase, o: GraftDetectorOptions): Promise<GraftedDetector> {
  if (o.classes.length < 1) throw usageError('detection needs at least one class');
  if (base.kind === 'graph')
    throw usageError(`${base.name} is a TF.js graph model: a detector grafts on a TF.js LayersModel or an ONNX base`);
  if (base.kind === 'onnx') return graftDetectorOnFrozen(base, o);
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
 * its PAN's stride-16 map, what its own stride-16 head reads). The trunk's weights never train, so
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
    const model = tf.model({ inputs: features, outputs: applyDetectionHead(features, o.classes.length), name: 'graft_detect_head' });
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

// One converter per Keras layer class: each turns one call of a layer into ONNX nodes that compute
// what TF.js computes at inference (dropout and noise are identities, BatchNorm uses its moving
// statistics). Convolutions and pooling work in NCHW; everything that depends on the order of
// the channels-last dims (Flatten, Reshape, Dense on a 4-D input) works in NHWC.
import type * as tf from '@tensorflow/tfjs';
import { usageError } from '../core/errors.js';
import { type GraphBuilder, type Shape, type Value, onnxAxis, permute } from './graph.js';
import { type Attr, INT32, float, int, ints, str } from './proto.js';

export interface LayerCall {
  layer: tf.layers.Layer;
  config: Record<string, unknown>;
  inputs: Value[];
  /** The Keras shape TF.js computed for this call's output. */
  out: Shape;
  g: GraphBuilder;
}

export type Converter = (c: LayerCall) => Value;

export const unsupported = (layer: tf.layers.Layer, reason: string) =>
  usageError(`cannot export layer ${layer.name} (${layer.getClassName()}) to ONNX: ${reason}`);

// --- config helpers -------------------------------------------------------------------------

function pair(v: unknown, fallback?: number[]): number[] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v)) return v.length === 1 ? [v[0], v[0]] : (v as number[]);
  if (v == null && fallback) return fallback;
  throw new Error(`internal: expected a number or pair, got ${JSON.stringify(v)}`);
}

function channelsLast(c: LayerCall): void {
  const format = c.config.dataFormat;
  if (format != null && format !== 'channelsLast') throw unsupported(c.layer, `dataFormat ${String(format)} (only channelsLast)`);
}

export interface Weight {
  data: Float32Array;
  shape: number[];
}

/** The layer's weights in TF.js's own order (the order `build` creates them in). */
function weights(c: LayerCall): Weight[] {
  // getWeights returns the variables' own tensors: read, never dispose.
  return c.layer.getWeights().map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
}

function single(c: LayerCall): Value {
  if (c.inputs.length !== 1) throw unsupported(c.layer, `expected one input, got ${c.inputs.length}`);
  return c.inputs[0];
}

// --- activations ----------------------------------------------------------------------------

// TF.js's selu constants (tfjs-core selu_util), as ONNX Selu's alpha and gamma.
const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_SCALEALPHA = 1.7580993408473768599402175208123;

/** `x` through the named Keras activation (as `getConfig` spells it); same shape and layout. */
export function activate(c: LayerCall, x: Value, name: string): Value {
  const { g } = c;
  const lastAxis = () => int(onnxAxis(x, -1));
  let y: string;
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      y = g.op('Relu', [x.name]);
      break;
    case 'relu6':
      y = g.op('Clip', [x.name, g.scalar(0), g.scalar(6)]);
      break;
    case 'sigmoid':
      y = g.op('Sigmoid', [x.name]);
      break;
    case 'hardSigmoid': // Keras: clip(0.2x + 0.5, 0, 1), ONNX's HardSigmoid with these constants
      y = g.op('HardSigmoid', [x.name], { alpha: float(0.2), beta: float(0.5) });
      break;
    case 'tanh':
      y = g.op('Tanh', [x.name]);
      break;
    case 'softmax':
      y = g.op('Softmax', [x.name], { axis: lastAxis() });
      break;
    case 'logSoftmax':
      y = g.op('LogSoftmax', [x.name], { axis: lastAxis() });
      break;
    case 'elu':
      y = g.op('Elu', [x.name], { alpha: float(1) });
      break;
    case 'selu':
      y = g.op('Selu', [x.name], { alpha: float(SELU_SCALEALPHA / SELU_SCALE), gamma: float(SELU_SCALE) });
      break;
    case 'softplus':
      y = g.op('Softplus', [x.name]);
      break;
    case 'softsign':
      y = g.op('Softsign', [x.name]);
      break;
    case 'swish': // x * sigmoid(x): TF.js's swish has alpha fixed at 1
      y = g.op('Mul', [x.name, g.op('Sigmoid', [x.name])]);
      break;
    case 'mish': // x * tanh(softplus(x)); ONNX's Mish needs opset 18
      y = g.op('Mul', [x.name, g.op('Tanh', [g.op('Softplus', [x.name])])]);
      break;
    case 'gelu': {
      // x * 0.5 * (1 + erf(x / sqrt 2)), TF.js's exact form; ONNX's Gelu needs opset 20
      const erf = g.op('Erf', [g.op('Div', [x.name, g.scalar(Math.SQRT2)])]);
      y = g.op('Mul', [x.name, g.op('Mul', [g.scalar(0.5), g.op('Add', [g.scalar(1), erf])])]);
      break;
    }
    case 'gelu_new': {
      // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
      const cube = g.op('Mul', [g.scalar(0.044715), g.op('Pow', [x.name, g.scalar(3)])]);
      const t = g.op('Tanh', [g.op('Mul', [g.scalar(Math.sqrt(2 / Math.PI)), g.op('Add', [x.name, cube])])]);
      y = g.op('Mul', [g.scalar(0.5), g.op('Mul', [x.name, g.op('Add', [g.scalar(1), t])])]);
      break;
    }
    default:
      throw unsupported(c.layer, `activation ${name}`);
  }
  return g.value(y, x.shape, x.layout);
}

const activationOf = (c: LayerCall) => String(c.config.activation ?? 'linear');

// --- convolutions ---------------------------------------------------------------------------

/**
 * Padding attributes for a 2-D window over `input` (Keras shape NHWC). TF's "same" pads
 * max((ceil(in/s) - 1) * s + k_eff - in, 0) in total, the odd one at the end (ONNX SAME_UPPER);
 * explicit pads when the size is known (onnxruntime rejects auto_pad with dilations).
 */
function windowPads(c: LayerCall, input: Shape, kernel: number[], strides: number[], dilations = [1, 1]): Record<string, Attr> {
  const padding = c.config.padding;
  if (padding === 'valid') return {};
  if (padding !== 'same') throw unsupported(c.layer, `padding ${String(padding)}`);
  const size = [input[1], input[2]];
  if (size.some((d) => d === null)) {
    // onnxruntime refuses auto_pad with dilations; explicit pads need the size.
    if (dilations.some((d) => d !== 1)) throw unsupported(c.layer, "padding 'same' with dilation on an input of unknown height or width");
    return { auto_pad: str('SAME_UPPER') };
  }
  const begin: number[] = [];
  const end: number[] = [];
  size.forEach((n, i) => {
    const k = (kernel[i] - 1) * dilations[i] + 1;
    const total = Math.max((Math.ceil(n! / strides[i]) - 1) * strides[i] + k - n!, 0);
    begin.push(Math.floor(total / 2));
    end.push(total - Math.floor(total / 2));
  });
  return { pads: ints([...begin, ...end]) };
}

function convAttrs(c: LayerCall, input: Shape, kernel: number[], group: number): Record<string, Attr> {
  const strides = pair(c.config.strides, [1, 1]);
  const dilations = pair(c.config.dilationRate, [1, 1]);
  return {
    kernel_shape: ints(kernel),
    strides: ints(strides),
    dilations: ints(dilations),
    group: int(group),
    ...windowPads(c, input, kernel, strides, dilations),
  };
}

/** TF depthwise kernel [kh, kw, C, M] as ONNX grouped-conv weights [C*M, 1, kh, kw]: output c*M+m reads channel c. */
export function depthwiseWeights(w: Weight): { dims: number[]; data: Float32Array } {
  const [kh, kw, ch, mult] = w.shape;
  return { dims: [ch * mult, 1, kh, kw], data: permute(w.data, w.shape, [2, 3, 0, 1]) };
}

const conv2d: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nchw(single(c));
  const [kernel, bias] = weights(c);
  const [kh, kw, cin, cout] = kernel.shape;
  const inputs = [x.name, c.g.weight('kernel', [cout, cin, kh, kw], permute(kernel.data, kernel.shape, [3, 2, 0, 1]))];
  if (c.config.useBias && bias) inputs.push(c.g.weight('bias', [cout], bias.data));
  const y = c.g.value(c.g.op('Conv', inputs, convAttrs(c, x.shape, [kh, kw], 1)), c.out, 'nchw');
  return activate(c, y, activationOf(c));
};

const depthwiseConv2d: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nchw(single(c));
  const [kernel, bias] = weights(c);
  const w = depthwiseWeights(kernel);
  const inputs = [x.name, c.g.weight('depthwise_kernel', w.dims, w.data)];
  if (c.config.useBias && bias) inputs.push(c.g.weight('bias', [w.dims[0]], bias.data));
  const y = c.g.value(c.g.op('Conv', inputs, convAttrs(c, x.shape, kernel.shape.slice(0, 2), kernel.shape[2])), c.out, 'nchw');
  return activate(c, y, activationOf(c));
};

/** Depthwise (with the layer's strides, dilation and padding) then a 1x1 pointwise conv. */
const separableConv2d: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nchw(single(c));
  const [depthwise, pointwise, bias] = weights(c);
  const w = depthwiseWeights(depthwise);
  const mid = c.g.op(
    'Conv',
    [x.name, c.g.weight('depthwise_kernel', w.dims, w.data)],
    convAttrs(c, x.shape, depthwise.shape.slice(0, 2), depthwise.shape[2]),
  );
  const [, , pin, pout] = pointwise.shape;
  const inputs = [mid, c.g.weight('pointwise_kernel', [pout, pin, 1, 1], permute(pointwise.data, pointwise.shape, [3, 2, 0, 1]))];
  if (c.config.useBias && bias) inputs.push(c.g.weight('bias', [pout], bias.data));
  const y = c.g.value(c.g.op('Conv', inputs, { kernel_shape: ints([1, 1]) }), c.out, 'nchw');
  return activate(c, y, activationOf(c));
};

// --- dense, normalisation, embedding -----------------------------------------------------------

/** Gemm on a batch of vectors; MatMul + Add over the last (channels) axis otherwise, as TF.js. */
const dense: Converter = (c) => {
  const x = c.g.nhwc(single(c));
  const [kernel, bias] = weights(c);
  const w = c.g.weight('kernel', kernel.shape, kernel.data);
  const b = c.config.useBias && bias ? c.g.weight('bias', bias.shape, bias.data) : null;
  let y: string;
  if (x.shape.length === 2 && b) y = c.g.op('Gemm', [x.name, w, b]);
  else {
    y = c.g.op('MatMul', [x.name, w]);
    if (b) y = c.g.op('Add', [y, b]);
  }
  return activate(c, c.g.value(y, c.out), activationOf(c));
};

/** Inference: the moving statistics; gamma/beta default to 1/0 when scale/center are off. */
const batchNormalization: Converter = (c) => {
  const x = single(c);
  const rank = x.shape.length;
  const axisCfg = c.config.axis;
  const axis = Array.isArray(axisCfg) ? (axisCfg.length === 1 ? axisCfg[0] : NaN) : Number(axisCfg ?? -1);
  if (!Number.isInteger(axis)) throw unsupported(c.layer, `axis ${JSON.stringify(axisCfg)}`);
  const keras = axis < 0 ? axis + rank : axis;
  // TF.js's BatchNorm kernels broadcast the statistics by flat index, i.e. always along the last
  // axis: for any other axis TF.js computes something no ONNX BatchNormalization would.
  if (keras !== rank - 1) throw unsupported(c.layer, `axis ${axis} (TF.js only normalizes the last axis correctly)`);
  const w = weights(c);
  const gamma = c.config.scale ? w.shift()!.data : null;
  const beta = c.config.center ? w.shift()!.data : null;
  const [mean, variance] = w.map((t) => t.data);
  const n = mean.length;
  const eps = Number(c.config.epsilon ?? 1e-3);
  if (rank === 4 && keras === 3) {
    const xn = c.g.nchw(x);
    const inputs = [
      xn.name,
      c.g.weight('gamma', [n], gamma ?? new Float32Array(n).fill(1)),
      c.g.weight('beta', [n], beta ?? new Float32Array(n)),
      c.g.weight('moving_mean', [n], mean),
      c.g.weight('moving_variance', [n], variance),
    ];
    return c.g.value(c.g.op('BatchNormalization', inputs, { epsilon: float(eps) }), c.out, 'nchw');
  }
  // Vectors and sequences: the same affine map as a Mul and Add broadcast along the last axis.
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
    shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
  }
  const y = c.g.op('Add', [c.g.op('Mul', [x.name, c.g.weight('scale', [n], scale)]), c.g.weight('shift', [n], shift)]);
  return c.g.value(y, c.out, x.layout);
};

/** Gather rows of the table; TF.js casts float ids to int32 (truncating), as Cast does. */
const embedding: Converter = (c) => {
  const x = single(c);
  const [table] = weights(c);
  const ids = x.dtype === 'int32' ? x.name : c.g.op('Cast', [x.name], { to: int(INT32) });
  return c.g.value(c.g.op('Gather', [c.g.weight('embeddings', table.shape, table.data), ids], { axis: int(0) }), c.out);
};

// --- activation layers --------------------------------------------------------------------------

const activation: Converter = (c) => activate(c, single(c), activationOf(c));

const relu: Converter = (c) => {
  const x = single(c);
  // TF.js's ReLU only has max_value; a Keras config may also carry threshold/negative_slope.
  for (const key of ['threshold', 'negativeSlope']) {
    if (c.config[key] != null && c.config[key] !== 0) throw unsupported(c.layer, `${key} ${String(c.config[key])} (only 0)`);
  }
  const max = c.config.maxValue;
  if (max == null) return c.g.value(c.g.op('Relu', [x.name]), c.out, x.layout);
  return c.g.value(c.g.op('Clip', [x.name, c.g.scalar(0), c.g.scalar(Number(max))]), c.out, x.layout);
};

const leakyRelu: Converter = (c) => {
  const x = single(c);
  return c.g.value(c.g.op('LeakyRelu', [x.name], { alpha: float(Number(c.config.alpha ?? 0.3)) }), c.out, x.layout);
};

const elu: Converter = (c) => {
  const x = single(c);
  return c.g.value(c.g.op('Elu', [x.name], { alpha: float(Number(c.config.alpha ?? 1)) }), c.out, x.layout);
};

const thresholdedRelu: Converter = (c) => {
  const x = single(c);
  return c.g.value(c.g.op('ThresholdedRelu', [x.name], { alpha: float(Number(c.config.theta ?? 1)) }), c.out, x.layout);
};

const softmax: Converter = (c) => {
  const x = single(c);
  const axisCfg = c.config.axis ?? -1;
  const axis = Array.isArray(axisCfg) ? (axisCfg.length === 1 ? axisCfg[0] : NaN) : Number(axisCfg);
  if (!Number.isInteger(axis)) throw unsupported(c.layer, `softmax over axes ${JSON.stringify(axisCfg)}`);
  return c.g.value(c.g.op('Softmax', [x.name], { axis: int(onnxAxis(x, axis)) }), c.out, x.layout);
};

/** Learned slopes of shape input[1:] (1 along shared axes), laid out like the input. */
const prelu: Converter = (c) => {
  const x = single(c);
  const [alpha] = weights(c);
  const nchw = x.layout === 'nchw';
  const slope = nchw
    ? c.g.weight(
        'alpha',
        [2, 0, 1].map((i) => alpha.shape[i]),
        permute(alpha.data, alpha.shape, [2, 0, 1]),
      )
    : c.g.weight('alpha', alpha.shape, alpha.data);
  return c.g.value(c.g.op('PRelu', [x.name, slope]), c.out, x.layout);
};

// --- merges -------------------------------------------------------------------------------------

function merge(op: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min'): Converter {
  return (c) => {
    if (new Set(c.inputs.map((v) => v.shape.length)).size !== 1) throw unsupported(c.layer, 'inputs of different ranks');
    const xs = c.g.common(c.inputs);
    let y: string;
    // Mul is binary; the others take any number of inputs (Sum of two is Add).
    if (op === 'Mul') y = xs.slice(1).reduce((acc, v) => c.g.op('Mul', [acc, v.name]), xs[0].name);
    else
      y = c.g.op(
        op === 'Sum' && xs.length === 2 ? 'Add' : op,
        xs.map((v) => v.name),
      );
    return c.g.value(y, c.out, xs[0].layout);
  };
}

const concatenate: Converter = (c) => {
  if (new Set(c.inputs.map((v) => v.shape.length)).size !== 1) throw unsupported(c.layer, 'inputs of different ranks');
  const xs = c.g.common(c.inputs);
  const axis = onnxAxis(xs[0], Number(c.config.axis ?? -1));
  return c.g.value(
    c.g.op(
      'Concat',
      xs.map((v) => v.name),
      { axis: int(axis) },
    ),
    c.out,
    xs[0].layout,
  );
};

// --- padding, cropping, pooling -------------------------------------------------------------------

function padPairs(c: LayerCall, key: string): number[][] {
  const p = c.config[key];
  if (typeof p === 'number')
    return [
      [p, p],
      [p, p],
    ];
  if (Array.isArray(p) && p.length === 2) return p.map((q) => pair(q));
  throw unsupported(c.layer, `${key} ${JSON.stringify(p)}`);
}

const zeroPadding2d: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nchw(single(c));
  const [[top, bottom], [left, right]] = padPairs(c, 'padding');
  // Opset 13 Pad: pads as an int64 input, begins of all axes then ends; constant 0 by default.
  const y = c.g.op('Pad', [x.name, c.g.int64s([0, 0, top, left, 0, 0, bottom, right])], { mode: str('constant') });
  return c.g.value(y, c.out, 'nchw');
};

const INT32_MAX = 2147483647;

const cropping2d: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nchw(single(c));
  const [[top, bottom], [left, right]] = padPairs(c, 'cropping');
  const ends = [bottom ? -bottom : INT32_MAX, right ? -right : INT32_MAX];
  const y = c.g.op('Slice', [x.name, c.g.int64s([top, left]), c.g.int64s(ends), c.g.int64s([2, 3])]);
  return c.g.value(y, c.out, 'nchw');
};

function pool2d(op: 'MaxPool' | 'AveragePool'): Converter {
  return (c) => {
    channelsLast(c);
    const x = c.g.nchw(single(c));
    const kernel = pair(c.config.poolSize, [2, 2]);
    const strides = pair(c.config.strides, kernel);
    const attrs = { kernel_shape: ints(kernel), strides: ints(strides), ...windowPads(c, x.shape, kernel, strides) };
    // TF averages over the window's in-bounds pixels only: count_include_pad = 0 (the default).
    if (op === 'AveragePool') Object.assign(attrs, { count_include_pad: int(0) });
    return c.g.value(c.g.op(op, [x.name], attrs), c.out, 'nchw');
  };
}

function globalPool(op: 'ReduceMean' | 'ReduceMax', rank: 3 | 4): Converter {
  return (c) => {
    channelsLast(c);
    const x = single(c);
    if (x.shape.length !== rank) throw unsupported(c.layer, `input of rank ${x.shape.length}`);
    const axes = rank === 3 ? [1] : x.layout === 'nchw' ? [2, 3] : [1, 2];
    const keep = c.config.keepDims === true;
    return c.g.value(c.g.op(op, [x.name], { axes: ints(axes), keepdims: int(keep ? 1 : 0) }), c.out, x.layout);
  };
}

// --- shape ----------------------------------------------------------------------------------------

/** Flatten in channels-last order, as TF.js does. */
const flatten: Converter = (c) => {
  channelsLast(c);
  const x = c.g.nhwc(single(c));
  if (x.shape.length <= 2) return x;
  return c.g.value(c.g.op('Flatten', [x.name], { axis: int(1) }), c.out);
};

const reshape: Converter = (c) => {
  const x = c.g.nhwc(single(c));
  const target = c.config.targetShape as number[];
  // 0 keeps the batch dimension (opset 13 Reshape, allowzero off); -1 stays inferred.
  return c.g.value(c.g.op('Reshape', [x.name, c.g.int64s([0, ...target])]), c.out);
};

const permuteLayer: Converter = (c) => {
  const x = c.g.nhwc(single(c));
  const dims = c.config.dims as number[];
  return c.g.value(c.g.op('Transpose', [x.name], { perm: ints([0, ...dims]) }), c.out);
};

const rescaling: Converter = (c) => {
  const x = single(c);
  let y = c.g.op('Mul', [x.name, c.g.scalar(Number(c.config.scale))]);
  const offset = Number(c.config.offset ?? 0);
  if (offset !== 0) y = c.g.op('Add', [y, c.g.scalar(offset)]);
  return c.g.value(y, c.out, x.layout);
};

const identity: Converter = (c) => single(c);

export const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Dense: dense,
  BatchNormalization: batchNormalization,
  Embedding: embedding,
  Activation: activation,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  ThresholdedReLU: thresholdedRelu,
  Softmax: softmax,
  PReLU: prelu,
  Add: merge('Sum'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  MaxPooling2D: pool2d('MaxPool'),
  AveragePooling2D: pool2d('AveragePool'),
  GlobalAveragePooling2D: globalPool('ReduceMean', 4),
  GlobalMaxPooling2D: globalPool('ReduceMax', 4),
  GlobalAveragePooling1D: globalPool('ReduceMean', 3),
  GlobalMaxPooling1D: globalPool('ReduceMax', 3),
  Flatten: flatten,
  Reshape: reshape,
  Permute: permuteLayer,
  Rescaling: rescaling,
  // Inference-time identities.
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};

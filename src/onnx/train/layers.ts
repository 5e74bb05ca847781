// Each layer graft can train on ONNX Runtime: how its weights look in ONNX, its forward pass, and
// its backward pass written with standard operators (a convolution's input gradient is a
// transposed convolution, its filter gradient one GEMM per kernel tap, a max pool's gradient goes
// back to the indices the pool chose). 4-D tensors are NCHW; `shape`s are Keras's (NHWC, without
// the batch). This is the generator's layer registry: a layer it can train is one entry in
// LAYER_RULES, with a gradient test in test/onnx-train.test.ts.
import type * as tf from '@tensorflow/tfjs';
import { FLOAT, float, int, ints, str, type Attr } from '../proto.js';
import { permute } from '../graph.js';
import { fill, type StepGraph } from './builder.js';

export type Shape = number[];

/** A weight as ONNX holds it, and the way back to TF.js's layout. */
export interface WeightLayout {
  onnxShape: number[];
  toOnnx(data: Float32Array): Float32Array;
  fromOnnx(data: Float32Array): Float32Array;
}

export const sameLayout = (shape: number[]): WeightLayout => ({ onnxShape: shape, toOnnx: (d) => d, fromOnnx: (d) => d });

/** Conv kernel [kh, kw, in, out] ⇄ [out, in, kh, kw]. */
const convKernel = ([kh, kw, i, o]: number[]): WeightLayout => ({
  onnxShape: [o, i, kh, kw],
  toOnnx: (d) => permute(d, [kh, kw, i, o], [3, 2, 0, 1]),
  fromOnnx: (d) => permute(d, [o, i, kh, kw], [2, 3, 1, 0]),
});

/** Depthwise kernel [kh, kw, c, m] ⇄ [c·m, 1, kh, kw] (group c makes channels c·m … c·m+m-1, as TF.js orders them). */
const depthwiseKernel = ([kh, kw, c, m]: number[]): WeightLayout => ({
  onnxShape: [c * m, 1, kh, kw],
  toOnnx: (d) => permute(d, [kh, kw, c, m], [2, 3, 0, 1]),
  fromOnnx: (d) => permute(d, [c, m, kh, kw], [2, 3, 0, 1]),
});

/** What a layer's forward pass leaves for its backward pass. */
export interface Forward {
  y: string;
  /** New values of non-trainable weights the step moves (BatchNorm's moving statistics), by index in layer.weights. */
  updates?: Map<number, string>;
  /**
   * Gradients of the inputs (undefined: no gradient flows there, or `needDx` said none is
   * wanted: the batch itself, or frozen layers below) and of each weight.
   */
  back(dy: string, needDx: boolean[]): { dxs: (string | undefined)[]; grads: (string | undefined)[] };
}

export interface LayerContext {
  g: StepGraph;
  layer: tf.layers.Layer;
  /** A pair rule's two layers (PAIR_RULES); `weights` then holds the first's, then the second's. */
  layers?: [tf.layers.Layer, tf.layers.Layer];
  /** Graph names of the layer's weights (in ONNX layout), by index in layer.weights. */
  weights: string[];
  inShapes: Shape[];
  outShape: Shape;
  /** Training (dropout drops, BatchNorm not pinned uses the batch's statistics), or evaluating. */
  training: boolean;
  /** BatchNorm pinned to its moving statistics even in training (graft pins a base's). */
  pinned: boolean;
  /** A seed for this layer's random op (dropout). */
  seed(): number;
  /** Makes a dropout layer's mask (0 or 1/keep) an output of the step, when asked for (tests). */
  exposeMask(mask: string): void;
}

export interface LayerRule {
  /** Why this layer cannot train on ONNX Runtime, when its configuration is one graft does not generate. */
  unsupported?(layer: tf.layers.Layer, cfg: Record<string, unknown>, inShapes: Shape[]): string | undefined;
  weights?(layer: tf.layers.Layer): WeightLayout[];
  /** Non-trainable weights a training step changes (indices in layer.weights): fed and returned like trainable ones. */
  state?(layer: tf.layers.Layer, pinned: boolean): number[];
  forward(c: LayerContext, xs: string[]): Forward;
}

type Activation = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax';
const ACTIVATIONS = new Set<string>(['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax']);

function activationOf(cfg: Record<string, unknown>): string {
  return String(cfg.activation ?? 'linear');
}

/** y = act(z), and dz from dy. */
function activate(g: StepGraph, z: string, act: string, axis: number): { y: string; back(dy: string): string } {
  switch (act as Activation) {
    case 'linear':
      return { y: z, back: (dy) => dy };
    case 'relu': {
      const y = g.op('Relu', [z]);
      // dy · (y > 0) as a float mask: ONNX Runtime's Where and Sign were slower here.
      return { y, back: (dy) => g.op('Mul', [dy, g.op('Cast', [g.op('Greater', [y, g.scalar(0)])], { to: int(1) })]) };
    }
    case 'relu6': {
      const y = g.op('Clip', [z, g.scalar(0), g.scalar(6)]);
      // TF.js's relu6 gradient: dy where 0 < x ≤ 6, as a float mask (faster than Where here).
      const inside = g.op('And', [g.op('Greater', [z, g.scalar(0)]), g.op('LessOrEqual', [z, g.scalar(6)])]);
      return { y, back: (dy) => g.op('Mul', [dy, g.op('Cast', [inside], { to: int(1) })]) };
    }
    case 'sigmoid': {
      const y = g.op('Sigmoid', [z]);
      return { y, back: (dy) => g.op('Mul', [dy, g.op('Mul', [y, g.op('Sub', [g.scalar(1), y])])]) };
    }
    case 'tanh': {
      const y = g.op('Tanh', [z]);
      return { y, back: (dy) => g.op('Mul', [dy, g.op('Sub', [g.scalar(1), g.op('Mul', [y, y])])]) };
    }
    case 'softmax': {
      // dz = y · (dy − Σ dy·y) over the class axis.
      const y = g.op('Softmax', [z], { axis: int(axis) });
      const back = (dy: string) => g.op('Mul', [y, g.op('Sub', [dy, g.sum(g.op('Mul', [dy, y]), [axis], true)])]);
      return { y, back };
    }
  }
}

function checkActivation(cfg: Record<string, unknown>): string | undefined {
  const act = activationOf(cfg);
  return ACTIVATIONS.has(act) ? undefined : `activation ${act}`;
}

/** TF's 'same' padding: the total split with the extra pixel after. */
function samePads(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

interface ConvGeometry {
  kernel: [number, number];
  strides: [number, number];
  /** [top, left, bottom, right], ONNX's order. */
  pads: number[];
  inSize: [number, number];
  outSize: [number, number];
}

function convGeometry(cfg: Record<string, unknown>, inShape: Shape, outShape: Shape): ConvGeometry {
  const kernel = cfg.kernelSize as [number, number];
  const strides = (cfg.strides as [number, number]) ?? [1, 1];
  const [h, w] = [inShape[0], inShape[1]];
  const [ph, pw] =
    cfg.padding === 'same'
      ? [samePads(h, kernel[0], strides[0]), samePads(w, kernel[1], strides[1])]
      : [
          [0, 0],
          [0, 0],
        ];
  return { kernel, strides, pads: [ph[0], pw[0], ph[1], pw[1]], inSize: [h, w], outSize: [outShape[0], outShape[1]] };
}

function convUnsupported(cfg: Record<string, unknown>): string | undefined {
  if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') return 'channelsFirst data';
  const d = cfg.dilationRate as number[] | number | undefined;
  if (d !== undefined && [d].flat().some((v) => v !== 1)) return 'dilated convolution';
  if (cfg.padding !== 'same' && cfg.padding !== 'valid') return `padding ${String(cfg.padding)}`;
  return undefined;
}

/**
 * The gradients of a convolution (groups 1, or depthwise with `groups` = input channels):
 * dx a transposed convolution of dz by the same filter; dW a convolution of the input, batch and
 * channel axes swapped, by dz as the filter, dilated by the stride.
 */
function convBackward(
  g: StepGraph,
  x: string,
  w: string,
  dz: string,
  geo: ConvGeometry,
  groups: number,
  filterShape: number[],
  needDx: boolean,
) {
  const [sh, sw] = geo.strides;
  const [kh, kw] = geo.kernel;
  const [hIn, wIn] = geo.inSize;
  const [hOut, wOut] = geo.outSize;
  const [pt, pl, pb, pr] = geo.pads;
  const outputPadding = [hIn - ((hOut - 1) * sh + kh - pt - pb), wIn - ((wOut - 1) * sw + kw - pl - pr)];
  const attrs: Record<string, Attr> = { strides: ints(geo.strides), pads: ints(geo.pads), group: int(groups) };
  const dx = needDx
    ? g.op('ConvTranspose', [dz, w], { ...attrs, kernel_shape: ints(geo.kernel), output_padding: ints(outputPadding) })
    : undefined;
  // dW[o, i, a, b] = Σ over n, h, w of x[n, i, h·s + a, w·s + b] · dz[n, o, h, w]: for each kernel
  // offset (a, b) the input window it sees, strided, against dz. One long GEMM per offset
  // (groups 1) or a product summed per channel (depthwise): ONNX Runtime's convolution with the
  // whole of dz as a filter, the textbook form, ran 4x slower than these on MNIST's CNN.
  const padded = pt + pb + pl + pr ? g.op('Pad', [x, g.int64s([0, 0, pt, pl, 0, 0, pb, pr])]) : x;
  const cols = g.op('Transpose', [padded], { perm: ints([1, 0, 2, 3]) }); // [C, N, H', W']
  const dzt = g.op('Transpose', [dz], { perm: ints([1, 0, 2, 3]) }); // [O, N, h, w]
  // Depthwise: dz as [C, m, N·h·w] (multiplier m), each window as [C, 1, N·h·w].
  const flatDz = g.op('Reshape', [dzt, g.int64s(groups > 1 ? [groups, filterShape[0] / groups, -1] : [filterShape[0], -1])]);
  const taps: string[] = [];
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++) {
      const window = g.op('Slice', [
        cols,
        g.int64s([a, b]),
        g.int64s([a + (hOut - 1) * sh + 1, b + (wOut - 1) * sw + 1]),
        g.int64s([2, 3]),
        g.int64s([sh, sw]),
      ]);
      taps.push(
        groups > 1
          ? g.op('ReduceSum', [g.op('Mul', [g.op('Reshape', [window, g.int64s([groups, 1, -1])]), flatDz]), g.int64s([2])], {
              keepdims: int(0),
            }) // [C, m]
          : g.op('Gemm', [flatDz, g.op('Reshape', [window, g.int64s([filterShape[1], -1])])], { transB: int(1) }), // [O, C]
      );
    }
  // Taps in (a, b) order → [O, C, kh, kw] (depthwise: [C·m, 1, kh, kw]).
  const stacked = g.op(
    'Concat',
    taps.map((t) => g.op('Unsqueeze', [t, g.int64s([-1])])),
    { axis: int(-1) },
  );
  const dw = g.op('Reshape', [stacked, g.int64s(filterShape)]);
  return { dx, dw };
}

function conv(depthwise: boolean): LayerRule {
  return {
    unsupported: (_layer, cfg) => convUnsupported(cfg) ?? checkActivation(cfg),
    weights(layer) {
      const [k, b] = layer.weights.map((w) => w.shape as number[]);
      return [depthwise ? depthwiseKernel(k) : convKernel(k), ...(b ? [sameLayout(b)] : [])];
    },
    forward(c, [x]) {
      const cfg = c.layer.getConfig();
      const geo = convGeometry(cfg, c.inShapes[0], c.outShape);
      const groups = depthwise ? c.inShapes[0][2] : 1;
      const [w, b] = c.weights;
      const z = c.g.op('Conv', b ? [x, w, b] : [x, w], {
        kernel_shape: ints(geo.kernel),
        strides: ints(geo.strides),
        pads: ints(geo.pads),
        group: int(groups),
      });
      const act = activate(c.g, z, activationOf(cfg), 1);
      const filterShape = (depthwise ? depthwiseKernel : convKernel)(c.layer.weights[0].shape as number[]).onnxShape;
      return {
        y: act.y,
        back(dy, [needDx]) {
          const dz = act.back(dy);
          const { dx, dw } = convBackward(c.g, x, w, dz, geo, groups, filterShape, needDx);
          return { dxs: [dx], grads: [dw, ...(b ? [c.g.sum(dz, [0, 2, 3])] : [])] };
        },
      };
    },
  };
}

const dense: LayerRule = {
  unsupported(layer, cfg, [inShape]) {
    if (inShape.length !== 1) return `Dense on a rank-${inShape.length + 1} input`;
    return checkActivation(cfg);
  },
  weights: (layer) => layer.weights.map((w) => sameLayout(w.shape as number[])),
  forward(c, [x]) {
    const [w, b] = c.weights;
    const z = b ? c.g.op('Gemm', [x, w, b]) : c.g.op('MatMul', [x, w]);
    const act = activate(c.g, z, activationOf(c.layer.getConfig()), 1);
    return {
      y: act.y,
      back(dy, [needDx]) {
        const dz = act.back(dy);
        const dw = c.g.op('Gemm', [x, dz], { transA: int(1) });
        const dx = needDx ? c.g.op('Gemm', [dz, w], { transB: int(1) }) : undefined;
        return { dxs: [dx], grads: [dw, ...(b ? [c.g.sum(dz, [0])] : [])] };
      },
    };
  },
};

const activation: LayerRule = {
  unsupported: (_layer, cfg) => checkActivation(cfg),
  forward(c, [x]) {
    const act = activate(c.g, x, activationOf(c.layer.getConfig()), c.outShape.length === 3 ? 1 : -1);
    return { y: act.y, back: (dy) => ({ dxs: [act.back(dy)], grads: [] }) };
  },
};

/** Keras's ReLU layer: max value (MobileNetV2's 6), no threshold or negative slope. */
const relu: LayerRule = {
  unsupported(_layer, cfg) {
    const max = cfg.maxValue as number | null | undefined;
    if (max !== undefined && max !== null && max !== 6) return `ReLU max value ${max}`;
    return undefined;
  },
  forward(c, [x]) {
    const act = activate(c.g, x, c.layer.getConfig().maxValue === 6 ? 'relu6' : 'relu', 1);
    return { y: act.y, back: (dy) => ({ dxs: [act.back(dy)], grads: [] }) };
  },
};

/**
 * ONNX's Dropout in training mode, seeded (ONNX Runtime's generator moves on with every run, so a
 * session's sequence of masks is fixed by its seed); its mask output makes the backward pass.
 */
const dropout: LayerRule = {
  unsupported: (_layer, cfg) => (cfg.noiseShape ? 'dropout noise shape' : undefined),
  forward(c, [x]) {
    if (!c.training) return { y: x, back: (dy) => ({ dxs: [dy], grads: [] }) };
    const rate = c.layer.getConfig().rate as number;
    const training = c.g.boolScalar(true);
    const [y, mask] = c.g.opN('Dropout', [x, c.g.scalar(rate), training], { seed: int(c.seed()) }, 2);
    const scale = c.g.op('Mul', [c.g.op('Cast', [mask], { to: int(1) }), c.g.scalar(1 / (1 - rate))]);
    c.exposeMask(scale);
    return { y, back: (dy) => ({ dxs: [c.g.op('Mul', [dy, scale])], grads: [] }) };
  },
};

/** Keras flattens NHWC: the NCHW activation goes back to NHWC first, so the next Dense's rows match. */
const flatten: LayerRule = {
  forward(c, [x]) {
    const shape = c.inShapes[0];
    const spatial = shape.length === 3;
    const nhwc = spatial ? c.g.op('Transpose', [x], { perm: ints([0, 2, 3, 1]) }) : x;
    const y = c.g.op('Flatten', [nhwc], { axis: int(1) });
    return {
      y,
      back(dy) {
        if (!spatial) return { dxs: [c.g.op('Reshape', [dy, c.g.int64s([-1, ...shape])])], grads: [] };
        const back = c.g.op('Reshape', [dy, c.g.int64s([-1, shape[0], shape[1], shape[2]])]);
        return { dxs: [c.g.op('Transpose', [back], { perm: ints([0, 3, 1, 2]) })], grads: [] };
      },
    };
  },
};

const globalAveragePooling: LayerRule = {
  unsupported: (_layer, cfg) => (cfg.dataFormat && cfg.dataFormat !== 'channelsLast' ? 'channelsFirst data' : undefined),
  forward(c, [x]) {
    const [h, w] = c.inShapes[0];
    const y = c.g.op('ReduceMean', [x], { axes: ints([2, 3]), keepdims: int(0) });
    return {
      y,
      back(dy) {
        // dy [N, C] spread evenly over each map: a product with a row of 1/(h·w), one GEMM (ONNX
        // Runtime's Expand over trailing axes was 4x slower here).
        const column = c.g.op('Reshape', [dy, c.g.int64s([-1, 1])]);
        const spread = c.g.op('MatMul', [column, c.g.constant([1, h * w], 1 / (h * w))]);
        const shape = c.g.op('Concat', [c.g.op('Shape', [dy]), c.g.int64s([h, w])], { axis: int(0) });
        return { dxs: [c.g.op('Reshape', [spread, shape])], grads: [] };
      },
    };
  },
};

/** Max pooling; its gradient goes to the position the pool chose (its Indices output), as TF's does. */
const maxPooling: LayerRule = {
  unsupported(_layer, cfg) {
    if (cfg.dataFormat && cfg.dataFormat !== 'channelsLast') return 'channelsFirst data';
    if (cfg.padding !== 'valid' && cfg.padding !== 'same') return `padding ${String(cfg.padding)}`;
    return undefined;
  },
  forward(c, [x]) {
    const cfg = c.layer.getConfig();
    const kernel = cfg.poolSize as [number, number];
    const strides = (cfg.strides as [number, number]) ?? kernel;
    const [h, w] = c.inShapes[0];
    const pads =
      cfg.padding === 'same'
        ? (() => {
            const [a, b] = [samePads(h, kernel[0], strides[0]), samePads(w, kernel[1], strides[1])];
            return [a[0], b[0], a[1], b[1]];
          })()
        : [0, 0, 0, 0];
    const [y, indices] = c.g.opN('MaxPool', [x], { kernel_shape: ints(kernel), strides: ints(strides), pads: ints(pads) }, 2);
    return {
      y,
      back(dy) {
        // Each value goes back where its index says (indices count over the whole NCHW tensor).
        // MaxUnpool does it fast but overwrites; windows that overlap may pick a cell twice, and
        // TF sums those, so they scatter with addition.
        const overlapping = strides[0] < kernel[0] || strides[1] < kernel[1];
        const shape = c.g.op('Shape', [x]);
        const flat = (t: string) => c.g.op('Reshape', [t, c.g.int64s([-1])]);
        const dx = overlapping
          ? c.g.op('Reshape', [
              c.g.op('ScatterElements', [flat(c.g.op('ConstantOfShape', [shape], { value: fill(0) })), flat(indices), flat(dy)], {
                axis: int(0),
                reduction: str('add'),
              }),
              shape,
            ])
          : c.g.op('MaxUnpool', [dy, indices, shape], { kernel_shape: ints(kernel), strides: ints(strides), pads: ints(pads) });
        return { dxs: [dx], grads: [] };
      },
    };
  },
};

/**
 * BatchNormalization in inference mode (graft pins base BN layers there: Keras's advice for
 * fine-tuning): y = (x - mean) / sqrt(var + ε) · γ + β, the statistics fixed, γ and β trained.
 */
const batchNorm: LayerRule = {
  unsupported(_layer, cfg, [inShape]) {
    const axis = cfg.axis as number;
    if (axis !== -1 && axis !== inShape.length) return `BatchNormalization on axis ${axis}`;
    return undefined;
  },
  weights: (layer) => layer.weights.map((w) => sameLayout(w.shape as number[])),
  // Not pinned, a training step moves the moving statistics.
  state: (layer, pinned) => (pinned ? [] : statisticsOf(layer)),
  forward(c, [x]) {
    const cfg = c.layer.getConfig();
    const eps = cfg.epsilon as number;
    const names = weightNames(c.layer);
    const at = (n: string) => c.weights[names.indexOf(n)];
    const [gamma, beta, mean, variance] = [at('gamma'), at('beta'), at('moving_mean'), at('moving_variance')];
    const rank4 = c.inShapes[0].length === 3;
    const perChannel = (t: string) => (rank4 ? c.g.op('Reshape', [t, c.g.int64s([1, -1, 1, 1])]) : t);
    const axes = rank4 ? [0, 2, 3] : [0];
    const channels = c.inShapes[0].at(-1)!;
    const dBetaOf = (dy: string) => c.g.sum(dy, axes);
    const gradsOf = (dGamma: () => string, dBeta: string) =>
      names.map((n) => (n === 'gamma' ? dGamma() : n === 'beta' ? dBeta : undefined));
    if (c.pinned || !c.training) {
      const [one, zero] = [
        c.g.op('ConstantOfShape', [c.g.int64s([channels])], { value: fill(1) }),
        c.g.op('ConstantOfShape', [c.g.int64s([channels])], { value: fill(0) }),
      ];
      // Forward as ONNX's own (inference) BatchNormalization: one fused kernel.
      const y = c.g.op('BatchNormalization', [x, gamma ?? one, beta ?? zero, mean, variance], { epsilon: float(eps) });
      const inv = c.g.op('Div', [c.g.scalar(1), c.g.op('Sqrt', [c.g.op('Add', [variance, c.g.scalar(eps)])])]);
      const scale = gamma ? c.g.op('Mul', [inv, gamma]) : inv;
      return {
        y,
        back(dy) {
          const dx = c.g.op('Mul', [dy, perChannel(scale)]);
          const dBeta = dBetaOf(dy);
          // dγ = Σ dy·x̂ = (Σ dy·x − mean·Σ dy) / sqrt(var + ε), without x̂ at full size.
          const dGamma = () => c.g.op('Mul', [c.g.op('Sub', [c.g.sum(c.g.op('Mul', [dy, x]), axes), c.g.op('Mul', [mean, dBeta])]), inv]);
          return { dxs: [dx], grads: gradsOf(dGamma, dBeta) };
        },
      };
    }
    // Training mode, as TF.js's layer computes it: the batch's mean and (biased) variance normalise
    // it, and the moving statistics move toward them by 1 − momentum.
    const batchMean = c.g.op('ReduceMean', [x], { axes: ints(axes), keepdims: int(1) });
    const centred = c.g.op('Sub', [x, batchMean]);
    const batchVar = c.g.op('ReduceMean', [c.g.op('Mul', [centred, centred])], { axes: ints(axes), keepdims: int(1) });
    const inv = c.g.op('Div', [c.g.scalar(1), c.g.op('Sqrt', [c.g.op('Add', [batchVar, c.g.scalar(eps)])])]);
    const xhat = c.g.op('Mul', [centred, inv]);
    let y = gamma ? c.g.op('Mul', [xhat, perChannel(gamma)]) : xhat;
    if (beta) y = c.g.op('Add', [y, perChannel(beta)]);
    const decay = 1 - ((cfg.momentum as number) ?? 0.99);
    const flat = (t: string) => c.g.op('Reshape', [t, c.g.int64s([channels])]);
    const moved = (moving: string, batch: string) =>
      c.g.op('Sub', [moving, c.g.op('Mul', [c.g.op('Sub', [moving, flat(batch)]), c.g.scalar(decay)])]);
    const updates = new Map([
      [names.indexOf('moving_mean'), moved(mean, batchMean)],
      [names.indexOf('moving_variance'), moved(variance, batchVar)],
    ]);
    return {
      y,
      updates,
      back(dy) {
        // dx = inv/N · (N·dx̂ − Σ dx̂ − x̂·Σ dx̂·x̂), dx̂ = dy·γ; N the values per channel.
        const dxhat = gamma ? c.g.op('Mul', [dy, perChannel(gamma)]) : dy;
        const n = c.g.op('Div', [c.g.op('Cast', [c.g.op('Size', [x])], { to: int(1) }), c.g.scalar(channels)]);
        const keep = (t: string) => c.g.sum(t, axes, true);
        const inner = c.g.op('Sub', [
          c.g.op('Sub', [c.g.op('Mul', [dxhat, n]), keep(dxhat)]),
          c.g.op('Mul', [xhat, keep(c.g.op('Mul', [dxhat, xhat]))]),
        ]);
        const dx = c.g.op('Mul', [inner, c.g.op('Div', [inv, n])]);
        const dGamma = () => c.g.sum(c.g.op('Mul', [dy, xhat]), axes);
        return { dxs: [dx], grads: gradsOf(dGamma, dBetaOf(dy)) };
      },
    };
  },
};

const weightNames = (layer: tf.layers.Layer) => layer.weights.map((w) => w.originalName.split('/').pop()!);
const statisticsOf = (layer: tf.layers.Layer) =>
  weightNames(layer).flatMap((n, i) => (n === 'moving_mean' || n === 'moving_variance' ? [i] : []));

const add: LayerRule = {
  forward(c, xs) {
    const y = xs.slice(1).reduce((a, b) => c.g.op('Add', [a, b]), xs[0]);
    return { y, back: (dy) => ({ dxs: xs.map(() => dy), grads: [] }) };
  },
};

/**
 * Keras's Maximum, which TF.js computes pairwise, max(max(x0, x1), x2)…; back as TF.js's maximum
 * gradient: of max(a, b), dy goes to b where a < b and to a elsewhere (ties to the first).
 */
const maximum: LayerRule = {
  forward(c, xs) {
    const partial = [xs[0]];
    for (const x of xs.slice(1)) partial.push(c.g.op('Max', [partial.at(-1)!, x]));
    return {
      y: partial.at(-1)!,
      back: (dy) => {
        const dxs: string[] = Array(xs.length);
        let d = dy;
        for (let i = xs.length - 1; i > 0; i--) {
          const toNew = c.g.op('Cast', [c.g.op('Less', [partial[i - 1], xs[i]])], { to: int(FLOAT) });
          dxs[i] = c.g.op('Mul', [d, toNew]);
          d = c.g.op('Sub', [d, dxs[i]]);
        }
        dxs[0] = d;
        return { dxs, grads: [] };
      },
    };
  },
};

/** Keras's Concatenate on the last axis (channels: ONNX's axis 1, NCHW or rows); back, dy split at the inputs' widths. */
const concatenate: LayerRule = {
  unsupported(_layer, cfg, inShapes) {
    const axis = cfg.axis as number;
    return axis === -1 || axis === inShapes[0].length ? undefined : `Concatenate on axis ${axis}`;
  },
  forward(c, xs) {
    const y = c.g.op('Concat', xs, { axis: int(1) });
    const widths = c.inShapes.map((s) => s.at(-1)!);
    return {
      y,
      back: (dy) => ({ dxs: c.g.opN('Split', [dy, c.g.int64s(widths)], { axis: int(1) }, xs.length), grads: [] }),
    };
  },
};

/**
 * A convolution followed by a BatchNormalization pinned to its moving statistics (MobileNetV2's
 * every conv), folded into one Conv: W' = W·s, bias t, s = γ/sqrt(var + ε), t = β + (b − mean)·s,
 * per output channel. It saves the normalisation's pass over the activations forward and back
 * (1.2 and 1.9 ms of a 20 ms MobileNetV2 top-block step). Its weights are the conv's, then the
 * norm's. Back: G = the filter gradient of dy for W'; dW = G·s, db = s·Σdy, dβ = Σdy,
 * dγ = (Σ G·W + (b − mean)·Σdy) / sqrt(var + ε).
 */
function convNorm(depthwise: boolean): LayerRule {
  return {
    forward(c, [x]) {
      const [convLayer, norm] = c.layers!;
      const cfg = convLayer.getConfig();
      const geo = convGeometry(cfg, c.inShapes[0], c.outShape);
      const groups = depthwise ? c.inShapes[0][2] : 1;
      const nConv = convLayer.weights.length;
      const [w, b] = c.weights.slice(0, nConv);
      const names = weightNames(norm);
      const at = (n: string) => (names.includes(n) ? c.weights[nConv + names.indexOf(n)] : undefined);
      const [gamma, beta, mean, variance] = [at('gamma'), at('beta'), at('moving_mean')!, at('moving_variance')!];
      const eps = norm.getConfig().epsilon as number;
      const inv = c.g.op('Div', [c.g.scalar(1), c.g.op('Sqrt', [c.g.op('Add', [variance, c.g.scalar(eps)])])]);
      const scale = gamma ? c.g.op('Mul', [gamma, inv]) : inv;
      const perFilter = (t: string) => c.g.op('Reshape', [t, c.g.int64s([-1, 1, 1, 1])]);
      const w2 = c.g.op('Mul', [w, perFilter(scale)]);
      // t = β + (b − mean)·s
      const offset = b ? c.g.op('Sub', [b, mean]) : c.g.op('Neg', [mean]);
      const shift = c.g.op('Add', [c.g.op('Mul', [offset, scale]), ...(beta ? [beta] : [c.g.scalar(0)])]);
      const y = c.g.op('Conv', [x, w2, shift], {
        kernel_shape: ints(geo.kernel),
        strides: ints(geo.strides),
        pads: ints(geo.pads),
        group: int(groups),
      });
      const filterShape = (depthwise ? depthwiseKernel : convKernel)(convLayer.weights[0].shape as number[]).onnxShape;
      return {
        y,
        back(dy, [needDx]) {
          const { dx, dw: g2 } = convBackward(c.g, x, w2, dy, geo, groups, filterShape, needDx);
          const dShift = c.g.sum(dy, [0, 2, 3]);
          const normGrads = names.map((n) => {
            if (n === 'beta') return dShift;
            if (n !== 'gamma') return undefined;
            const dScale = c.g.op('Add', [c.g.sum(c.g.op('Mul', [g2, w]), [1, 2, 3]), c.g.op('Mul', [offset, dShift])]);
            return c.g.op('Mul', [dScale, inv]);
          });
          const convGrads = [c.g.op('Mul', [g2, perFilter(scale)]), ...(b ? [c.g.op('Mul', [dShift, scale])] : [])];
          return { dxs: [dx], grads: [...convGrads, ...normGrads] };
        },
      };
    },
  };
}

/** Rules for a layer and the one after it, applied as one where `step.ts` finds the pair (see convNorm). */
export const PAIR_RULES: Record<string, LayerRule> = {
  'Conv2D+BatchNormalization': convNorm(false),
  'DepthwiseConv2D+BatchNormalization': convNorm(true),
};

export const LAYER_RULES: Record<string, LayerRule> = {
  Dense: dense,
  Conv2D: conv(false),
  DepthwiseConv2D: conv(true),
  Activation: activation,
  ReLU: relu,
  Dropout: dropout,
  Flatten: flatten,
  GlobalAveragePooling2D: globalAveragePooling,
  MaxPooling2D: maxPooling,
  BatchNormalization: batchNorm,
  Add: add,
  Maximum: maximum,
  Concatenate: concatenate,
};

// Convolution gradients for the wasm backend, expressed as forward convolutions so that they run on
// wasm's XNNPACK-backed Conv2D / DepthwiseConv2dNative (the C++ kernels wasm ships for the backward
// passes are plain scalar loops, or missing altogether).
//
// Notation (NHWC): x [B,H,W,Ci], filter [fh,fw,Ci,Co], dy [B,OH,OW,Co], stride s, dilation d,
// top/left padding pt/pl, so that  y[b,o,p,co] = sum x[b, o*s - pt + k*d, p*s - pl + l*d, ci] * w[k,l,ci,co].
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { assertNHWC, type Info, type Pair, type Scope, withScope } from './exec.js';

type ConvKernel = 'Conv2D' | 'DepthwiseConv2dNative';

export interface KernelArgs {
  inputs: Record<string, Info>;
  backend: BackendWasm;
  attrs: Record<string, unknown>;
}

type PadAttr = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;

/**
 * Forward convolution with arbitrary (possibly negative) explicit padding, cropped to outH x outW.
 * Why: the gradient identities below need "padding" that can be negative (the forward pass may have
 * ignored trailing input rows, or explicit padding may exceed the kernel extent); XNNPACK takes only
 * non-negative padding, so negative amounts are realised by cropping the (slightly larger) output.
 */
function paddedConv(
  s: Scope, kernel: ConvKernel, x: Info, filter: Info,
  padH: Pair, padW: Pair, stride: Pair, dilation: Pair, outH: number, outW: number,
): Info {
  const pads: tf.backend_util.ExplicitPadding = [
    [0, 0], [Math.max(0, padH[0]), Math.max(0, padH[1])], [Math.max(0, padW[0]), Math.max(0, padW[1])], [0, 0]];
  const y = s.run(kernel, { x, filter }, { strides: stride, dilations: dilation, pad: pads, dataFormat: 'NHWC' });
  const top = Math.max(0, -padH[0]);
  const left = Math.max(0, -padW[0]);
  if (top === 0 && left === 0 && y.shape[1] === outH && y.shape[2] === outW) return y;
  if (y.shape[1] < top + outH || y.shape[2] < left + outW) {
    throw new Error(`graft: internal conv-gradient shape mismatch ([${y.shape}] vs ${outH}x${outW})`);
  }
  return s.run('Slice', { x: y }, { begin: [0, top, left, 0], size: [y.shape[0], outH, outW, y.shape[3]] });
}

/**
 * dy with (s-1) zeros inserted after every row/column: [B, OH*sh, OW*sw, C].
 * Why: the input gradient of a strided conv is a stride-1 conv over the zero-dilated dy. The trailing
 * zeros after the last row/column are harmless: they are accounted for in the bottom/right padding.
 * Done with one PadV2 on a 5-D view ([B*OH, 1, OW, 1, C] padded on the unit axes), no extra copies.
 */
function dilateRows(s: Scope, dy: Info, sh: number, sw: number): Info {
  if (sh === 1 && sw === 1) return dy;
  const [B, OH, OW, C] = dy.shape;
  const v = s.view(dy, [B * OH, 1, OW, 1, C]);
  const p = s.run('PadV2', { x: v }, { paddings: [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
  return s.view(p, [B, OH * sh, OW * sw, C]);
}

function convInfo(
  xShape: number[], filterShape: number[], strides: unknown, dilations: unknown, pad: unknown,
  dimRoundingMode: unknown, depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    strides as [number, number] | number, (dilations ?? 1) as [number, number] | number, pad as PadAttr,
    dimRoundingMode as Rounding, depthwise, 'channelsLast');
}

// ---------------------------------------------------------------------------------------------
// Filter gradients.
//
// dW[k,l,ci,co] = sum_{b,o,p} x[b, o*s - pt + k*d, p*s - pl + l*d, ci] * dy[b,o,p,co].
// Read with b as the contracted channel, (o,p) as kernel taps and (k,l) as output pixels, this is
// itself a forward convolution whose "filter" is dy^[OH,OW,B,Co] and whose stride/dilation are swapped
// (dilation s, stride d), so the whole reduction over batch and pixels becomes one XNNPACK IGEMM with
// K = OH*OW*B. ci must stay out of the contraction; instead of making it the batch of a [Ci,H,W,B]
// input (a slow 4-D transpose), fold it into the width: x^[H, W*Ci, B] is a single 2-D transpose of x
// ([B, H*W*Ci] -> [H*W*Ci, B]); in that wider image a tap p lands at column (p*s + l)*Ci + ci, i.e.
// width dilation s*Ci, and output column l*Ci + ci, so the conv output [1, fh, fw*Ci, Co] *is*
// dW [fh,fw,Ci,Co] with no transpose back (needs d = 1, which Conv2DBackpropFilter always has).
// Bottom/right padding is chosen so that exactly fh x fw*Ci outputs come out (negative => crop).
// Measured (conv2 of the Keras MNIST CNN, x[128,26,26,32]): 104 ms with the [Ci,H,W,B] layout
// (27 ms of it the 4-D transpose), MEASURE-TBD ms with this one.
// ---------------------------------------------------------------------------------------------

export function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs;
  assertNHWC(attrs.dataFormat, 'Conv2DBackpropFilter');
  const info = convInfo(x.shape, attrs.filterShape as number[], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false);
  const [B, H, W, Ci] = x.shape;
  const [, OH, OW, Co] = dy.shape;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top: pt, left: pl } = info.padInfo;
  return withScope(backend, (s) => {
    const xT = B === 1 ? x : s.run('Transpose', { x: s.view(x, [B, H * W * Ci]) }, { perm: [1, 0] }); // [H,W*Ci,B]
    const dyT = B === 1 ? dy : s.run('Transpose', { x: s.view(dy, [B, OH * OW, Co]) }, { perm: [1, 0, 2] }); // [OH,OW,B,Co]
    const g = paddedConv(s, 'Conv2D', s.view(xT, [1, H, W * Ci, B]), s.view(dyT, [OH, OW, B, Co]),
      [pt, fh + (OH - 1) * sh - H - pt], [pl * Ci, Ci * (fw + (OW - 1) * sw - W - pl)],
      [1, 1], [sh, sw * Ci], fh, fw * Ci); // [1,fh,fw*Ci,Co]
    return s.finish(g, [fh, fw, Ci, Co]);
  });
}

// Depthwise: dW[k,l,c,m] = sum_{b,o,p} x[b, ..., c] * dy[b,o,p,c*M+m]. There is no contraction over a
// channel axis any more (each c is its own problem), so b cannot be the contracted channel as above.
// Instead fold b into the channels: xT = x^[H,W,B,C] seen as one image with B*C channels, dyT =
// dy^[OH,OW,B,C*M] seen as a depthwise filter with multiplier M (channel (b,c) pairs with its own M
// outputs). One depthwise conv (stride d, dilation s) gives per-(b,c) partial gradients; the sum over b
// is then a small reduction of fh*fw*B*C*M values.
export function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  const [B, H, W, C] = x.shape;
  const [, OH, OW] = dy.shape;
  const M = filterShape[3];
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top: pt, left: pl } = info.padInfo;
  return withScope(backend, (s) => {
    const xT = B === 1 ? x : s.run('Transpose', { x }, { perm: [1, 2, 0, 3] });
    const dyT = B === 1 ? dy : s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    const g = paddedConv(s, 'DepthwiseConv2dNative', s.view(xT, [1, H, W, B * C]), s.view(dyT, [OH, OW, B * C, M]),
      [pt, (fh - 1) * dh + (OH - 1) * sh + 1 - H - pt], [pl, (fw - 1) * dw + (OW - 1) * sw + 1 - W - pl],
      [dh, dw], [sh, sw], fh, fw); // [1,fh,fw,B*C*M]
    if (B === 1) return s.finish(g, [fh, fw, C, M]);
    const sum = s.run('Sum', { x: s.view(g, [fh * fw, B, C * M]) }, { axis: [1], keepDims: false });
    return s.finish(sum, [fh, fw, C, M]);
  });
}

// ---------------------------------------------------------------------------------------------
// Input gradients.
//
// dx[b,i,j,ci] = sum_{k,l,co} dy[b,o,p,co] * w[k,l,ci,co] over i = o*s - pt + k*d. Substituting
// k' = fh-1-k turns this into a correlation of the zero-dilated dy (stride 1) with the spatially
// flipped filter, with top padding (fh-1)*d - pt, i.e. a forward conv again ("transposed conv").
// For Conv2D the flipped filter also swaps its channel axes ([fh,fw,Co,Ci]).
// ---------------------------------------------------------------------------------------------

function inputGradPads(
  H: number, W: number, OH: number, OW: number, fh: number, fw: number,
  sh: number, sw: number, dh: number, dw: number, pt: number, pl: number,
): [Pair, Pair] {
  // top = effective kernel extent - 1 - pt; bottom makes the output exactly H rows over the dilated
  // dy of OH*sh rows (trailing zeros included).
  return [[(fh - 1) * dh - pt, H + pt - OH * sh], [(fw - 1) * dw - pl, W + pl - OW * sw]];
}

export function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): Info {
  const { dy, filter } = inputs;
  assertNHWC(attrs.dataFormat, 'Conv2DBackpropInput');
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false);
  const [, H, W] = inputShape;
  const [fh, fw] = filter.shape;
  const [, OH, OW] = dy.shape;
  const { strideHeight: sh, strideWidth: sw } = info;
  const [padH, padW] = inputGradPads(H, W, OH, OW, fh, fw, sh, sw, 1, 1, info.padInfo.top, info.padInfo.left);
  return withScope(backend, (s) => {
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const wT = s.run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [fh,fw,Co,Ci]
    const dyD = dilateRows(s, dy, sh, sw);
    return s.finish(paddedConv(s, 'Conv2D', dyD, wT, padH, padW, [1, 1], [1, 1], H, W));
  });
}

// Depthwise: same identity per channel. With a channel multiplier M each input channel receives the
// sum of its M output channels, so run the flipped filter as an M=1 depthwise conv over all C*M
// channels of dy and sum groups of M adjacent channels (innermost axis, no transpose needed).
export function depthwiseConv2dNativeBackpropInput({ inputs, backend, attrs }: KernelArgs): Info {
  const { dy, filter } = inputs;
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  const [B, H, W, C] = inputShape;
  const [fh, fw, , M] = filter.shape;
  const [, OH, OW] = dy.shape;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const [padH, padW] = inputGradPads(H, W, OH, OW, fh, fw, sh, sw, dh, dw, info.padInfo.top, info.padInfo.left);
  return withScope(backend, (s) => {
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });
    const dyD = dilateRows(s, dy, sh, sw);
    const g = paddedConv(s, 'DepthwiseConv2dNative', dyD, s.view(flipped, [fh, fw, C * M, 1]),
      padH, padW, [1, 1], [dh, dw], H, W); // [B,H,W,C*M]
    if (M === 1) return s.finish(g);
    const sum = s.run('Sum', { x: s.view(g, [B, H, W, C, M]) }, { axis: [4], keepDims: false });
    return s.finish(sum);
  });
}

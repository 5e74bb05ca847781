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
  s: Scope,
  kernel: ConvKernel,
  x: Info,
  filter: Info,
  padH: Pair,
  padW: Pair,
  stride: Pair,
  dilation: Pair,
  outH: number,
  outW: number,
): Info {
  const pads: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [Math.max(0, padH[0]), Math.max(0, padH[1])],
    [Math.max(0, padW[0]), Math.max(0, padW[1])],
    [0, 0],
  ];
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
  const p = s.run(
    'PadV2',
    { x: v },
    {
      paddings: [
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return s.view(p, [B, OH * sh, OW * sw, C]);
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: unknown,
  dilations: unknown,
  pad: unknown,
  dimRoundingMode: unknown,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as [number, number] | number,
    (dilations ?? 1) as [number, number] | number,
    pad as PadAttr,
    dimRoundingMode as Rounding,
    depthwise,
    'channelsLast',
  );
}

// ---------------------------------------------------------------------------------------------
// Filter gradients.
//
// dW[k,l,ci,co] = sum_{b,o,p} x[b, o*s - pt + k*d, p*s - pl + l*d, ci] * dy[b,o,p,co].
//
// Large Ci: read with b as the contracted channel, (o,p) as kernel taps and (k,l) as output pixels,
// this is itself a forward convolution whose "filter" is dy^[OH,OW,B,Co] and whose stride/dilation
// are swapped (dilation s, stride d = 1), so the whole reduction over batch and pixels is one XNNPACK
// IGEMM with K = OH*OW*B. ci must stay out of the contraction; rather than making it the batch of a
// [Ci,H,W,B] input (a slow 4-D transpose), it is folded into the width: in x^[H, W*Ci, B] a tap p
// lands at column (p*s + l)*Ci + ci, i.e. width dilation s*Ci, at output column l*Ci + ci, so the
// conv output [1, fh, fw*Ci, Co] *is* dW [fh,fw,Ci,Co] with no transpose back. Bottom/right padding
// is chosen so that exactly fh x fw*Ci outputs come out (negative => crop). x^ is produced by two
// cache-friendly 3-D transposes (wasm's 2-D transpose of [B, H*W*Ci] is a strided scalar loop).
//
// Small fh*fw*Ci (first layers: Ci = 1 or 3): the conv above would spend most of its time packing
// the big dy "filter" for a tiny output. Instead build the patch matrix P [B*OH*OW, fh*fw*Ci] with a
// forward conv against an identity filter (same stride/padding as the forward op, so the windows are
// exactly the forward ones), then dW = Pᵀ · dy on XNNPACK's matmul, which packs dy in place.
// Measured (Keras MNIST CNN, batch 128, bench/kernels-micro.ts, median ms): conv1 x[128,28,28,1]:
// 30 as a conv -> 22 via patches (the rest is XNNPACK packing dy as matmul weights); conv2
// x[128,26,26,32]: 104 with a [Ci,H,W,B] layout (27 of it the 4-D transpose) -> 93 folded into
// the width with blocked transposes (~60 of it the IGEMM itself, ~20 XNNPACK packing dy).
// ---------------------------------------------------------------------------------------------

/** Largest fh*fw*Ci handled through the patch matrix (P is that many times the size of x). */
const PATCH_MAX = 27;

export function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs;
  assertNHWC(attrs.dataFormat, 'Conv2DBackpropFilter');
  const info = convInfo(x.shape, attrs.filterShape as number[], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false);
  const [B, H, W, Ci] = x.shape;
  const [, OH, OW, Co] = dy.shape;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top: pt, left: pl } = info.padInfo;
  const kk = fh * fw * Ci;
  // (Not with a rounding mode: wasm's Conv2D cannot produce the extra ceil/round output rows.)
  if (kk <= PATCH_MAX && kk <= Co && attrs.dimRoundingMode == null) {
    return withScope(backend, (s) => {
      const eye = s.alloc([fh, fw, Ci, kk], 'float32');
      const e = backend.typedArrayFromHeap(eye);
      e.fill(0);
      for (let i = 0; i < kk; i++) e[i * kk + i] = 1;
      const patches = s.run(
        'Conv2D',
        { x, filter: eye },
        {
          strides: attrs.strides,
          pad: attrs.pad,
          dilations: 1,
          dataFormat: 'NHWC',
          dimRoundingMode: attrs.dimRoundingMode,
        },
      );
      const n = B * OH * OW;
      const pT = s.run('Transpose', { x: s.view(patches, [n, kk]) }, { perm: [1, 0] });
      const dW = s.run('BatchMatMul', { a: pT, b: s.view(dy, [n, Co]) }, { transposeA: false, transposeB: false });
      return s.finish(dW, [fh, fw, Ci, Co]);
    });
  }
  return withScope(backend, (s) => {
    let xT = x;
    if (B > 1) {
      const t1 = s.run('Transpose', { x: s.view(x, [B, H * W, Ci]) }, { perm: [1, 0, 2] }); // [HW,B,Ci]
      xT = s.run('Transpose', { x: t1 }, { perm: [0, 2, 1] }); // [HW,Ci,B] = [H, W*Ci, B]
    }
    const dyT = B === 1 ? dy : s.run('Transpose', { x: s.view(dy, [B, OH * OW, Co]) }, { perm: [1, 0, 2] }); // [OH,OW,B,Co]
    const g = paddedConv(
      s,
      'Conv2D',
      s.view(xT, [1, H, W * Ci, B]),
      s.view(dyT, [OH, OW, B, Co]),
      [pt, fh + (OH - 1) * sh - H - pt],
      [pl * Ci, Ci * (fw + (OW - 1) * sw - W - pl)],
      [1, 1],
      [sh, sw * Ci],
      fh,
      fw * Ci,
    ); // [1,fh,fw*Ci,Co]
    return s.finish(g, [fh, fw, Ci, Co]);
  });
}

// Depthwise: dW[k,l,c,m] = sum_{b,o,p} x[b, ..., c] * dy[b,o,p,c*M+m]. There is no contraction over a
// channel axis any more (each c is its own problem), so b cannot be the contracted channel as above.
// Instead fold b into the channels: xT = x^[H,W,B,C] seen as one image with B*C channels, dyT =
// dy^[OH,OW,B,C*M] seen as a depthwise filter with multiplier M (channel (b,c) pairs with its own M
// outputs). One depthwise conv (stride d, dilation s) gives per-(b,c) partial gradients; the sum over b
// is then a small reduction of fh*fw*B*C*M values.
// That "filter" has OH*OW taps, though, and XNNPACK only has fast depthwise kernels for small ones
// (up to 25 taps); beyond that it falls back to a grouped GEMM with one column per group, which
// packs B*C tiny padded weight blocks: 778 ms for x[32,56,56,144] (the forward conv takes 24 ms).
// So for large outputs the reduction runs as one JavaScript pass over the wasm heap instead
// (each dy pixel multiplies the fh*fw x-pixels it saw, channels innermost): 387 ms there, 99 ms
// (vs 278) with stride 2, 33 ms (vs 36) for x[32,7,7,960]. Still ~16x the forward conv: a fused
// SIMD kernel is what this really needs (see the report); small outputs keep the conv path.
const DEPTHWISE_MAX_TAPS = 25;

function depthwiseFilterGradJs(backend: BackendWasm, s: Scope, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo, M: number): Info {
  const [B, H, W, C] = x.shape;
  const {
    outHeight: OH,
    outWidth: OW,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
    dilationHeight: dh,
    dilationWidth: dw,
  } = info;
  const { top: pt, left: pl } = info.padInfo;
  const CM = C * M;
  const out = s.alloc([fh, fw, C, M], 'float32');
  // Views after the allocation, which may grow (move) the heap.
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const gs = backend.typedArrayFromHeap(dy) as Float32Array;
  const acc = new Float64Array(fh * fw * CM);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < OH; o++) {
      for (let p = 0; p < OW; p++) {
        const gOff = ((b * OH + o) * OW + p) * CM;
        for (let k = 0; k < fh; k++) {
          const r = o * sh - pt + k * dh;
          if (r < 0 || r >= H) continue;
          for (let l = 0; l < fw; l++) {
            const q = p * sw - pl + l * dw;
            if (q < 0 || q >= W) continue;
            const xOff = ((b * H + r) * W + q) * C;
            const aOff = (k * fw + l) * CM;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[aOff + c] += xs[xOff + c] * gs[gOff + c];
            } else {
              for (let c = 0; c < C; c++) {
                const xv = xs[xOff + c];
                for (let m = 0; m < M; m++) acc[aOff + c * M + m] += xv * gs[gOff + c * M + m];
              }
            }
          }
        }
      }
    }
  }
  (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
  return s.finish(out);
}

export function depthwiseConv2dNativeBackpropFilter({ inputs, backend, attrs }: KernelArgs): Info {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  const [B, H, W, C] = x.shape;
  const [, OH, OW] = dy.shape;
  const M = filterShape[3];
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top: pt, left: pl } = info.padInfo;
  if (OH * OW > DEPTHWISE_MAX_TAPS) return withScope(backend, (s) => depthwiseFilterGradJs(backend, s, x, dy, info, M));
  return withScope(backend, (s) => {
    const xT = B === 1 ? x : s.run('Transpose', { x }, { perm: [1, 2, 0, 3] });
    const dyT = B === 1 ? dy : s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
    const g = paddedConv(
      s,
      'DepthwiseConv2dNative',
      s.view(xT, [1, H, W, B * C]),
      s.view(dyT, [OH, OW, B * C, M]),
      [pt, (fh - 1) * dh + (OH - 1) * sh + 1 - H - pt],
      [pl, (fw - 1) * dw + (OW - 1) * sw + 1 - W - pl],
      [dh, dw],
      [sh, sw],
      fh,
      fw,
    ); // [1,fh,fw,B*C*M]
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
  H: number,
  W: number,
  OH: number,
  OW: number,
  fh: number,
  fw: number,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  pt: number,
  pl: number,
): [Pair, Pair] {
  // top = effective kernel extent - 1 - pt; bottom makes the output exactly H rows over the dilated
  // dy of OH*sh rows (trailing zeros included).
  return [
    [(fh - 1) * dh - pt, H + pt - OH * sh],
    [(fw - 1) * dw - pl, W + pl - OW * sw],
  ];
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
    const g = paddedConv(s, 'DepthwiseConv2dNative', dyD, s.view(flipped, [fh, fw, C * M, 1]), padH, padW, [1, 1], [dh, dw], H, W); // [B,H,W,C*M]
    if (M === 1) return s.finish(g);
    const sum = s.run('Sum', { x: s.view(g, [B, H, W, C, M]) }, { axis: [4], keepDims: false });
    return s.finish(sum);
  });
}

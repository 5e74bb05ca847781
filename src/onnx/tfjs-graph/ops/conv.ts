// Convolutions and pooling: TF's NHWC ops as ONNX's NCHW ones. The input is transposed once
// (shared by every op reading it), the filter permuted at conversion, and the result transposed
// back so the TF tensor keeps its layout; ONNX Runtime's transpose optimizer cancels the pairs
// between consecutive convolutions. The fused forms (_FusedConv2D, FusedDepthwiseConv2dNative)
// are TF.js's (`fusedOps`).
import { permute, TO_NHWC } from '../../graph.js';
import { depthwiseWeights } from '../../layers.js';
import { type Attr, int, ints, str } from '../../proto.js';
import { attrInts, attrString, type TfNode } from '../graph-def.js';
import { type OpContext, type OpConverter, unsupportedForm } from '../context.js';
import { emitFusedActivation, fusedOps } from './elementwise.js';

function channelsLast(n: TfNode): void {
  const format = attrString(n, 'data_format') ?? 'NHWC';
  if (format !== 'NHWC') throw unsupportedForm(n, `data_format ${format} (only NHWC)`);
}

/** [1, h, w, 1] (TF's NHWC order of strides, windows, dilations) as [h, w]. */
function spatial(n: TfNode, key: string, fallback: number[]): number[] {
  const v = attrInts(n, key);
  return v.length === 4 ? [v[1], v[2]] : fallback;
}

/**
 * ONNX padding attributes for TF's padding: VALID none; SAME pads the total TF pads, the odd one
 * at the end, which is ONNX's SAME_UPPER; EXPLICIT its [before, after] pairs per NHWC axis.
 */
function windowPads(n: TfNode, dilations: number[]): Record<string, Attr> {
  const padding = attrString(n, 'padding') ?? 'VALID';
  if (padding === 'VALID') return {};
  if (padding === 'SAME') {
    // ONNX Runtime refuses auto_pad with dilations, and explicit pads would need the input's size.
    if (dilations.some((d) => d !== 1)) throw unsupportedForm(n, 'SAME padding with dilation');
    return { auto_pad: str('SAME_UPPER') };
  }
  if (padding === 'EXPLICIT') {
    const p = attrInts(n, 'explicit_paddings');
    if (p.length !== 8) throw unsupportedForm(n, `explicit_paddings ${JSON.stringify(p)}`);
    return { pads: ints([p[2], p[4], p[3], p[5]]) };
  }
  throw unsupportedForm(n, `padding ${padding}`);
}

function convolution(kind: 'conv' | 'depthwise', fused: boolean): OpConverter {
  return (c: OpContext) => {
    const n = c.node;
    channelsLast(n);
    const filter = c.required(1, 'the filter');
    if (filter.dtype !== 'float32' || filter.shape.length !== 4) throw unsupportedForm(n, 'a filter that is not a 4-D float tensor');
    const [kh, kw, cin, cout] = filter.shape;
    const data = filter.values as Float32Array;
    const w =
      kind === 'depthwise'
        ? depthwiseWeights({ data, shape: filter.shape })
        : { dims: [cout, cin, kh, kw], data: permute(data, filter.shape, [3, 2, 0, 1]) };
    const dilations = spatial(n, 'dilations', [1, 1]);
    const attrs = {
      kernel_shape: ints([kh, kw]),
      strides: ints(spatial(n, 'strides', [1, 1])),
      dilations: ints(dilations),
      group: int(kind === 'depthwise' ? cin : 1),
      ...windowPads(n, dilations),
    };
    const inputs = [c.nchw(0), c.g.weight('filter', w.dims, w.data)];
    const ops = fused ? fusedOps(n) : { bias: false, activation: undefined };
    if (ops.bias) inputs.push(c.input(2));
    const y = c.g.op('Conv', inputs, attrs);
    if (!ops.activation || ops.activation === 'linear') return c.emitFromNchw(y);
    // The activation in TF's layout, where PReLU's alpha (per channel, last axis) broadcasts.
    emitFusedActivation(c, c.g.op('Transpose', [y], { perm: ints(TO_NHWC) }), ops, 2);
  };
}

function pool(op: 'MaxPool' | 'AveragePool'): OpConverter {
  return (c) => {
    const n = c.node;
    channelsLast(n);
    const kernel = spatial(n, 'ksize', [1, 1]);
    const attrs: Record<string, Attr> = {
      kernel_shape: ints(kernel),
      strides: ints(spatial(n, 'strides', [1, 1])),
      ...windowPads(n, [1, 1]),
    };
    // TF averages over the window's pixels inside the image only: count_include_pad 0 (ONNX's default).
    c.emitFromNchw(c.g.op(op, [c.nchw(0)], attrs));
  };
}

export const CONV_OPS: Record<string, OpConverter> = {
  Conv2D: convolution('conv', false),
  _FusedConv2D: convolution('conv', true),
  DepthwiseConv2dNative: convolution('depthwise', false),
  FusedDepthwiseConv2dNative: convolution('depthwise', true),
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
};

// Element-wise ops: TF's binary ops broadcast as ONNX's do (numpy rules), so each is one node on
// tensors in TF's layout; unary ops and activations are one node each, or two where ONNX lacks
// the op (Rsqrt, Square). `activationNode` is shared with the fused convolutions and MatMul.
import type { GraphBuilder } from '../../graph.js';
import { type Attr, float } from '../../proto.js';
import { attrFloat, attrString, attrStrings, type TfNode } from '../graph-def.js';
import { type OpContext, type OpConverter, unsupportedForm } from '../context.js';

/** One ONNX node: its type, inputs and attributes. */
export type NodeSpec = [opType: string, inputs: string[], attrs?: Record<string, Attr>];

/**
 * The node computing activation `fn` of tensor `x`, in TF.js's lower-case spelling of the fused
 * ops (`relu`, `relu6`, `leakyrelu`, …) or TF's op name; undefined for an unknown one.
 * LeakyRelu's alpha defaults to TF's 0.2.
 */
export function activationNode(g: GraphBuilder, fn: string, x: string, alpha = 0.2): NodeSpec | undefined {
  switch (fn.toLowerCase()) {
    case 'relu':
      return ['Relu', [x]];
    case 'relu6':
      return ['Clip', [x, g.scalar(0), g.scalar(6)]];
    case 'leakyrelu':
      return ['LeakyRelu', [x], { alpha: float(alpha) }];
    case 'sigmoid':
      return ['Sigmoid', [x]];
    case 'tanh':
      return ['Tanh', [x]];
    case 'elu':
      return ['Elu', [x], { alpha: float(1) }];
    // ONNX's Selu defaults are TF's constants (alpha 1.6732632, gamma 1.0507010).
    case 'selu':
      return ['Selu', [x]];
    case 'softplus':
      return ['Softplus', [x]];
    default:
      return undefined;
  }
}

/**
 * The fused ops of TF.js's _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul, as
 * tfjs-converter's executors read them: fused_ops [extra op, activation] lower-cased, the extra op
 * BiasAdd or none (TF.js refuses FusedBatchNorm there too), num_args extra inputs (the bias, then
 * PReLU's alpha).
 */
export function fusedOps(n: TfNode): { bias: boolean; activation?: string } {
  const [extra, activation] = attrStrings(n, 'fused_ops').map((s) => s.toLowerCase());
  if (extra !== undefined && extra !== 'biasadd') throw unsupportedForm(n, `fused op ${extra} (TF.js fuses BiasAdd only)`);
  return { bias: extra === 'biasadd', activation };
}

/** Write a fused op's output: its activation of `x` (in TF's layout); PReLU's alpha is the extra input after the bias. */
export function emitFusedActivation(c: OpContext, x: string, ops: { bias: boolean; activation?: string }, firstArg: number): void {
  const { activation } = ops;
  if (!activation || activation === 'linear') return c.emit('Identity', [x]);
  const spec: NodeSpec | undefined =
    activation === 'prelu'
      ? ['PRelu', [x, c.input(firstArg + (ops.bias ? 1 : 0))]]
      : activationNode(c.g, activation, x, attrFloat(c.node, 'leakyrelu_alpha', 0.2));
  if (!spec) throw unsupportedForm(c.node, `fused activation ${activation}`);
  c.emit(...spec);
}

const unary =
  (make: (c: OpContext, x: string) => NodeSpec): OpConverter =>
  (c) =>
    c.emit(...make(c, c.input(0)));

const activation: OpConverter = (c) => {
  const spec = activationNode(c.g, c.node.op, c.input(0), attrFloat(c.node, 'alpha', 0.2));
  if (!spec) throw unsupportedForm(c.node, 'activation');
  c.emit(...spec);
};

const binary =
  (op: string): OpConverter =>
  (c) =>
    c.emit(op, [c.input(0), c.input(1)]);

/** BiasAdd adds along the channels: the last axis in NHWC, which broadcasting does by itself. */
const biasAdd: OpConverter = (c) => {
  const format = attrString(c.node, 'data_format') ?? 'NHWC';
  if (format !== 'NHWC') throw unsupportedForm(c.node, `data_format ${format} (only NHWC)`);
  c.emit('Add', [c.input(0), c.input(1)]);
};

const addN: OpConverter = (c) =>
  c.emit(
    'Sum',
    c.node.input.map((_, i) => c.input(i)),
  );

export const ELEMENTWISE_OPS: Record<string, OpConverter> = {
  Add: binary('Add'),
  AddV2: binary('Add'),
  BiasAdd: biasAdd,
  AddN: addN,
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  SquaredDifference: (c) => {
    const d = c.g.op('Sub', [c.input(0), c.input(1)]);
    c.emit('Mul', [d, d]);
  },
  Relu: activation,
  Relu6: activation,
  LeakyRelu: activation,
  Sigmoid: activation,
  Tanh: activation,
  Elu: activation,
  Selu: activation,
  Softplus: activation,
  Prelu: (c) => c.emit('PRelu', [c.input(0), c.input(1)]),
  Neg: unary((_, x) => ['Neg', [x]]),
  Abs: unary((_, x) => ['Abs', [x]]),
  Exp: unary((_, x) => ['Exp', [x]]),
  Log: unary((_, x) => ['Log', [x]]),
  Sqrt: unary((_, x) => ['Sqrt', [x]]),
  Rsqrt: unary((c, x) => ['Reciprocal', [c.g.op('Sqrt', [x])]]),
  Reciprocal: unary((_, x) => ['Reciprocal', [x]]),
  Square: unary((_, x) => ['Mul', [x, x]]),
  Floor: unary((_, x) => ['Floor', [x]]),
  Identity: unary((_, x) => ['Identity', [x]]),
  StopGradient: unary((_, x) => ['Identity', [x]]),
  Snapshot: unary((_, x) => ['Identity', [x]]),
};

// Dense layers and inference-time batch normalisation: TF's MatMul (2-D, either side transposed)
// is ONNX's Gemm, TF.js's _FusedMatMul the same with its bias as Gemm's C and its activation after;
// BatchMatMulV2 without adjoints is ONNX's MatMul (both broadcast the batch dims). FusedBatchNorm
// at inference is a per-channel affine map, folded at conversion into one scale and one shift.
import { int } from '../../proto.js';
import { attrBool, attrFloat, attrString } from '../graph-def.js';
import { type OpContext, type OpConverter, unsupportedForm } from '../context.js';
import { emitFusedActivation, fusedOps, type NodeSpec } from './elementwise.js';

/** TF's MatMul as ONNX's Gemm node: its transposes as Gemm's, the bias (when fused) as its C. */
function gemm(c: OpContext, withBias: boolean): NodeSpec {
  const attrs = { transA: int(attrBool(c.node, 'transpose_a') ? 1 : 0), transB: int(attrBool(c.node, 'transpose_b') ? 1 : 0) };
  return ['Gemm', [c.input(0), c.input(1), ...(withBias ? [c.input(2)] : [])], attrs];
}

const matMul: OpConverter = (c) => c.emit(...gemm(c, false));

const fusedMatMul: OpConverter = (c) => {
  const ops = fusedOps(c.node);
  emitFusedActivation(c, c.g.op(...gemm(c, ops.bias)), ops, 2);
};

const batchMatMul: OpConverter = (c) => {
  for (const adj of ['adj_x', 'adj_y']) if (attrBool(c.node, adj)) throw unsupportedForm(c.node, `${adj} (only plain products)`);
  c.emit('MatMul', [c.input(0), c.input(1)]);
};

/** y = (x - mean) · scale / sqrt(variance + epsilon) + offset, along the channels (the last axis in NHWC). */
const fusedBatchNorm: OpConverter = (c) => {
  const format = attrString(c.node, 'data_format') ?? 'NHWC';
  if (format !== 'NHWC') throw unsupportedForm(c.node, `data_format ${format} (only NHWC)`);
  if (attrBool(c.node, 'is_training')) throw unsupportedForm(c.node, 'is_training (batch statistics)');
  const [scale, offset, mean, variance] = ['scale', 'offset', 'mean', 'variance'].map((what, i) => c.required(i + 1, `the ${what}`).values);
  const eps = attrFloat(c.node, 'epsilon', 1e-4);
  const n = mean.length;
  const s = new Float32Array(n);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = scale[i] / Math.sqrt(variance[i] + eps);
    t[i] = offset[i] - mean[i] * s[i];
  }
  c.emit('Add', [c.g.op('Mul', [c.input(0), c.g.weight('scale', [n], s)]), c.g.weight('shift', [n], t)]);
};

export const MATMUL_OPS: Record<string, OpConverter> = {
  MatMul: matMul,
  _FusedMatMul: fusedMatMul,
  BatchMatMul: batchMatMul,
  BatchMatMulV2: batchMatMul,
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
};

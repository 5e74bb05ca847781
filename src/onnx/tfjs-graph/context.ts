// What one op's converter sees: its node, its inputs as ONNX tensors (or as numbers, when the
// graph computes them from constants alone), and where to write its outputs.
import { usageError } from '../../core/errors.js';
import type { GraphBuilder } from '../graph.js';
import type { Attr } from '../proto.js';
import type { TfNode } from './graph-def.js';

/** An input known when converting: a Const, or a node computed from Consts only (folded by TF.js). */
export interface Constant {
  values: Float32Array | Int32Array | Uint8Array;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

export interface OpContext {
  node: TfNode;
  g: GraphBuilder;
  /** Input `i` as an ONNX tensor in TF's own layout (a constant becomes an initializer on first use). */
  input(i: number): string;
  /** Input `i`'s numbers when they are known at conversion (shapes, axes, weights). */
  constant(i: number): Constant | undefined;
  /** Input `i`'s numbers, which this op needs known: a clear error otherwise. */
  required(i: number, what: string): Constant;
  /** Input `i` as NCHW: one Transpose per tensor, shared by every op that reads it so. */
  nchw(i: number): string;
  /** Write output `k` (default 0) with one ONNX node: its name is the TF tensor's, so it can be a cut. */
  emit(opType: string, inputs: string[], attrs?: Record<string, Attr>, k?: number): void;
  /** Write output 0 from an NCHW tensor (a Transpose back to TF's layout), remembering the NCHW form. */
  emitFromNchw(nchw: string): void;
  /** Write several outputs with one ONNX node (Split). */
  emitAll(opType: string, inputs: string[], count: number, attrs?: Record<string, Attr>): void;
}

export type OpConverter = (c: OpContext) => void;

/** An op the converter knows but not in this form (an attribute value, a computed weight). */
export const unsupportedForm = (n: TfNode, reason: string) =>
  usageError(`cannot convert graph node ${n.name} (${n.op}) to ONNX: ${reason}`);

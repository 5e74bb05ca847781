// Reductions over axes the graph gives as a constant (keep_dims as TF's attribute), ArgMax, and
// Softmax over the last axis, as TF's Softmax always is.
import { INT32, int, ints } from '../../proto.js';
import { attrBool } from '../graph-def.js';
import type { OpConverter } from '../context.js';

function reduce(op: 'ReduceMean' | 'ReduceMax' | 'ReduceMin' | 'ReduceSum' | 'ReduceProd'): OpConverter {
  return (c) => {
    const axes = Array.from(c.required(1, 'the axes').values, Number);
    const keepdims = int(attrBool(c.node, 'keep_dims') ? 1 : 0);
    // Opset 13 takes ReduceSum's axes as an input and the others' as an attribute.
    if (op === 'ReduceSum') c.emit(op, [c.input(0), c.g.int64s(axes)], { keepdims });
    else c.emit(op, [c.input(0)], { axes: ints(axes), keepdims });
  };
}

/** The first largest value's index, as TF.js's int32 (ONNX's ArgMax gives int64, first index by default). */
const argMax: OpConverter = (c) => {
  const axis = Number(c.required(1, 'the axis').values[0]);
  c.emit('Cast', [c.g.op('ArgMax', [c.input(0)], { axis: int(axis), keepdims: int(0) })], { to: int(INT32) });
};

export const REDUCE_OPS: Record<string, OpConverter> = {
  Mean: reduce('ReduceMean'),
  Max: reduce('ReduceMax'),
  Min: reduce('ReduceMin'),
  Sum: reduce('ReduceSum'),
  Prod: reduce('ReduceProd'),
  ArgMax: argMax,
  Softmax: (c) => c.emit('Softmax', [c.input(0)], { axis: int(-1) }),
};

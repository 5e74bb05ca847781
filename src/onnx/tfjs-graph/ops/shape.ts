// Ops that move numbers without computing new ones: reshape, transpose, concatenate, pad, split,
// slice, squeeze, cast. Their shapes, axes and paddings are constants of the graph (read at
// conversion and written as ONNX's int64 inputs or attributes); the tensor stays in TF's layout,
// so axes mean what they meant in TF.
import { BOOL, FLOAT, INT32, INT64, int, ints, str } from '../../proto.js';
import { attrInt, attrInts, attrString, attrType } from '../graph-def.js';
import { type Constant, type OpContext, type OpConverter, unsupportedForm } from '../context.js';

const numbers = (k: Constant) => Array.from(k.values, Number);

/** Slice bounds beyond any real dimension (ONNX clamps them), small enough for int64 from a double. */
const PAST_END = 2147483647;
const BEFORE_START = -2147483648;

const reshape: OpConverter = (c) => {
  const shape = c.constant(1);
  if (!shape) return c.emit('Reshape', [c.input(0), c.g.op('Cast', [c.input(1)], { to: int(INT64) })]);
  const dims = numbers(shape);
  // TF's 0 is a dimension of size 0; ONNX's would copy the input's.
  if (dims.includes(0)) throw unsupportedForm(c.node, 'a shape with a 0 dimension');
  c.emit('Reshape', [c.input(0), c.g.int64s(dims)]);
};

const transpose: OpConverter = (c) => c.emit('Transpose', [c.input(0)], { perm: ints(numbers(c.required(1, 'the permutation'))) });

/** ConcatV2 takes the axis last; the old Concat first. */
function concat(axisFirst: boolean): OpConverter {
  return (c) => {
    const count = c.node.input.length - 1;
    const axisAt = axisFirst ? 0 : count;
    const tensors = Array.from({ length: count }, (_, i) => c.input(axisFirst ? i + 1 : i));
    c.emit('Concat', tensors, { axis: int(numbers(c.required(axisAt, 'the axis'))[0]) });
  };
}

/** TF's paddings [[before, after] per axis] as ONNX's [befores..., afters...]. */
function pads(c: OpContext): string {
  const p = numbers(c.required(1, 'the paddings'));
  const rank = p.length / 2;
  return c.g.int64s([...Array.from({ length: rank }, (_, i) => p[2 * i]), ...Array.from({ length: rank }, (_, i) => p[2 * i + 1])]);
}

const pad: OpConverter = (c) => c.emit('Pad', [c.input(0), pads(c)], { mode: str('constant') });
const padV2: OpConverter = (c) => c.emit('Pad', [c.input(0), pads(c), c.input(2)], { mode: str('constant') });
const mirrorPad: OpConverter = (c) => {
  const mode = attrString(c.node, 'mode');
  // ONNX's reflect is TF's REFLECT; TF's SYMMETRIC (the edge repeated) has no ONNX mode.
  if (mode !== 'REFLECT') throw unsupportedForm(c.node, `mode ${mode ?? '(none)'} (only REFLECT)`);
  c.emit('Pad', [c.input(0), pads(c)], { mode: str('reflect') });
};

const split: OpConverter = (c) => {
  const axis = numbers(c.required(0, 'the axis'))[0];
  c.emitAll('Split', [c.input(1)], attrInt(c.node, 'num_split', 1), { axis: int(axis) });
};

const splitV: OpConverter = (c) => {
  const sizes = numbers(c.required(1, 'the sizes'));
  if (sizes.some((s) => s < 0)) throw unsupportedForm(c.node, 'a size of -1 (the rest of the axis)');
  const axis = numbers(c.required(2, 'the axis'))[0];
  c.emitAll('Split', [c.input(0), c.g.int64s(sizes)], sizes.length, { axis: int(axis) });
};

const squeeze: OpConverter = (c) => {
  const axes = attrInts(c.node, 'squeeze_dims');
  c.emit('Squeeze', axes.length ? [c.input(0), c.g.int64s(axes)] : [c.input(0)]);
};

const expandDims: OpConverter = (c) => c.emit('Unsqueeze', [c.input(0), c.g.int64s(numbers(c.required(1, 'the axis')))]);

const pack: OpConverter = (c) => {
  const axis = c.g.int64s([attrInt(c.node, 'axis', 0)]);
  const parts = c.node.input.map((_, i) => c.g.op('Unsqueeze', [c.input(i), axis]));
  c.emit('Concat', parts, { axis: int(attrInt(c.node, 'axis', 0)) });
};

/** TF's bit masks per sliced axis; ellipsis and new axes are not handled. */
const stridedSlice: OpConverter = (c) => {
  const n = c.node;
  for (const mask of ['ellipsis_mask', 'new_axis_mask'])
    if (attrInt(n, mask) !== 0) throw unsupportedForm(n, `${mask} ${attrInt(n, mask)}`);
  const begin = numbers(c.required(1, 'begin'));
  const end = numbers(c.required(2, 'end'));
  const steps = numbers(c.required(3, 'strides'));
  const [beginMask, endMask, shrinkMask] = ['begin_mask', 'end_mask', 'shrink_axis_mask'].map((k) => attrInt(n, k));
  const starts: number[] = [];
  const ends: number[] = [];
  const shrunk: number[] = [];
  begin.forEach((b, i) => {
    const bit = 1 << i;
    const forward = steps[i] > 0;
    if (shrinkMask & bit) {
      // One element at `b`: up to b + 1, or to the end when b is the last (-1).
      starts.push(b);
      ends.push(b === -1 ? PAST_END : b + 1);
      shrunk.push(i);
      return;
    }
    starts.push(beginMask & bit ? (forward ? 0 : PAST_END) : b);
    ends.push(endMask & bit ? (forward ? PAST_END : BEFORE_START) : end[i]);
  });
  const axes = begin.map((_, i) => i);
  const stepsUsed = steps.map((s, i) => (shrunk.includes(i) ? 1 : s));
  const inputs = [c.input(0), c.g.int64s(starts), c.g.int64s(ends), c.g.int64s(axes), c.g.int64s(stepsUsed)];
  if (!shrunk.length) return c.emit('Slice', inputs);
  c.emit('Squeeze', [c.g.op('Slice', inputs), c.g.int64s(shrunk)]);
};

const slice: OpConverter = (c) => {
  const begin = numbers(c.required(1, 'begin'));
  const size = numbers(c.required(2, 'size'));
  const ends = begin.map((b, i) => (size[i] === -1 ? PAST_END : b + size[i]));
  c.emit('Slice', [c.input(0), c.g.int64s(begin), c.g.int64s(ends), c.g.int64s(begin.map((_, i) => i))]);
};

const ONNX_TYPES: Record<string, number> = { DT_FLOAT: FLOAT, DT_INT32: INT32, DT_BOOL: BOOL };

const cast: OpConverter = (c) => {
  const to = ONNX_TYPES[attrType(c.node, 'DstT') ?? ''];
  if (to === undefined) throw unsupportedForm(c.node, `cast to ${attrType(c.node, 'DstT') ?? '(none)'}`);
  c.emit('Cast', [c.input(0)], { to: int(to) });
};

/** GatherV2(params, indices, axis): ONNX's Gather on the constant axis (batch_dims 0 only). */
const gather: OpConverter = (c) => {
  if (attrInt(c.node, 'batch_dims') !== 0) throw unsupportedForm(c.node, `batch_dims ${attrInt(c.node, 'batch_dims')}`);
  c.emit('Gather', [c.input(0), c.input(1)], { axis: int(numbers(c.required(2, 'the axis'))[0]) });
};

/** TF.js's shapes are int32; ONNX's Shape gives int64. */
const shape: OpConverter = (c) => c.emit('Cast', [c.g.op('Shape', [c.input(0)])], { to: int(INT32) });

export const SHAPE_OPS: Record<string, OpConverter> = {
  Reshape: reshape,
  Transpose: transpose,
  ConcatV2: concat(false),
  Concat: concat(true),
  Pad: pad,
  PadV2: padV2,
  MirrorPad: mirrorPad,
  Split: split,
  SplitV: splitV,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  Pack: pack,
  StridedSlice: stridedSlice,
  Slice: slice,
  Cast: cast,
  Shape: shape,
  GatherV2: gather,
};

// The ONNX graph under construction, and where each tensor's layout is tracked. TF.js is
// channels-last (NHWC) while ONNX Conv and pooling are channels-first (NCHW): a 4-D tensor may be
// held in either layout, and a Transpose is emitted only when an operator needs the other one,
// once per tensor (its twin is remembered).
import { type Attr, type NodeProto, type TensorProto, floatTensor, int64Tensor, ints, node } from './proto.js';

export type Layout = 'nhwc' | 'nchw';
export type Shape = (number | null)[];

export interface Value {
  /** Name of the ONNX tensor. */
  name: string;
  /** Keras (channels-last) shape, batch first; null where unknown. */
  shape: Shape;
  /** How the ONNX tensor is laid out; only 4-D tensors are ever 'nchw'. */
  layout: Layout;
  dtype: 'float32' | 'int32';
  /** The same tensor in the other layout, once a Transpose has made it. */
  twin?: Value;
}

/** ONNX dim i of an NCHW tensor is Keras (NHWC) dim TO_NCHW[i]. */
export const TO_NCHW = [0, 3, 1, 2];
export const TO_NHWC = [0, 2, 3, 1];

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  /** Every Value made, in order (a layer's own start where its converter began). */
  readonly values: Value[] = [];
  /** Names are unique across tensors, initializers and nodes. */
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();
  /** Prefix for the names of intermediate tensors and nodes: the layer being converted. */
  scope = '';

  /** Names kept for graph outputs: only `claim` hands them out. */
  private readonly reserved = new Set<string>();

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name) || this.reserved.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): boolean {
    if (this.used.has(name) || this.reserved.has(name)) return false;
    this.reserved.add(name);
    return true;
  }

  /** A reserved name if still free, else a fresh one like it. */
  claim(name: string): string {
    if (!this.reserved.delete(name)) return this.fresh(name);
    this.used.add(name);
    return name;
  }

  value(name: string, shape: Shape, layout: Layout = 'nhwc', dtype: Value['dtype'] = 'float32'): Value {
    const v: Value = { name, shape, layout: shape.length === 4 ? layout : 'nhwc', dtype };
    this.values.push(v);
    return v;
  }

  /** Emit one node with a single fresh output, named after the current layer and the operator. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = this.fresh(`${this.scope}/${opType}`);
    this.nodes.push(node(opType, inputs, [out], out, attrs));
    return out;
  }

  /** A layer's weight as an initializer; a layer called twice (shared) stores it once. */
  weight(suffix: string, dims: number[], data: Float32Array): string {
    const key = `w:${this.scope}/${suffix}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh(`${this.scope}/${suffix}`);
      this.initializers.push(floatTensor(name, dims, data));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 constant (shapes, pads, axes), shared by every node that needs the same values. */
  int64s(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh(`const_i64_${values.join('_').replace(/-/g, 'm')}`);
      this.initializers.push(int64Tensor(name, [values.length], values));
      this.constants.set(key, name);
    }
    return name;
  }

  /** A float scalar constant, shared likewise. */
  scalar(v: number): string {
    const key = `f32:${v}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.fresh(`const_f32_${String(v).replace(/[^\w]/g, '_')}`);
      this.initializers.push(floatTensor(name, [], Float32Array.of(v)));
      this.constants.set(key, name);
    }
    return name;
  }

  nchw(v: Value): Value {
    return v.layout === 'nchw' ? v : this.relayout(v, 'nchw');
  }

  /** `name`: what to call the NHWC tensor if a Transpose has to make it. */
  nhwc(v: Value, name?: string): Value {
    return v.layout === 'nhwc' ? v : this.relayout(v, 'nhwc', name);
  }

  /** Bring values to one layout, NCHW if any already is (that is where convolutions left them). */
  common(vs: Value[]): Value[] {
    const ranks = new Set(vs.map((v) => v.shape.length));
    if (ranks.size === 1 && vs.some((v) => v.layout === 'nchw')) return vs.map((v) => this.nchw(v));
    return vs;
  }

  private relayout(v: Value, layout: Layout, given?: string): Value {
    if (v.twin) return v.twin;
    if (v.shape.length !== 4) throw new Error(`internal: cannot hold ${v.name} (rank ${v.shape.length}) as ${layout}`);
    // The NHWC form of a layer's output takes the plain name (NCHW ones end in _nchw).
    const base = v.name.replace(/_nchw$/, '');
    const name = given ?? this.fresh(layout === 'nchw' ? `${base}_nchw` : base);
    this.nodes.push(node('Transpose', [v.name], [name], name, { perm: ints(layout === 'nchw' ? TO_NCHW : TO_NHWC) }));
    const twin = this.value(name, v.shape, layout, v.dtype);
    twin.twin = v;
    v.twin = twin;
    return twin;
  }

  /** Give the tensor a node made since `fromNode` produced its final name (the layer's name). */
  rename(v: Value, name: string, fromNode: number): void {
    for (const n of this.nodes.slice(fromNode)) {
      n.output = n.output!.map((o) => (o === v.name ? name : o));
      n.input = n.input!.map((i) => (i === v.name ? name : i));
    }
    v.name = name;
  }
}

/** Where Keras axis `axis` (of a rank-`rank` tensor, negative counts from the end) sits in `v`. */
export function onnxAxis(v: Value, axis: number): number {
  const rank = v.shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`internal: axis ${axis} out of range for rank ${rank}`);
  return v.layout === 'nchw' ? TO_NCHW.indexOf(a) : a;
}

/** `data` (row-major, shape `shape`) with its axes reordered: result axis i is input axis perm[i]. */
export function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const srcStride = perm.map((p) => strides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    // Odometer over the output index, moving `src` along incrementally.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += srcStride[d];
      if (idx[d] < outShape[d]) break;
      src -= srcStride[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

// The graph of one training step under construction: graft writes forward, backward and the
// optimiser's update as plain ONNX operators, because the onnxruntime-node package has no
// training API (ORT's training build, with its gradient graph builder, is not on npm). Every 4-D
// activation is held NCHW, as ONNX's Conv and pooling want it; TF.js's NHWC batch is transposed
// once on the way in. Names, nodes and shared constants are the exporter's GraphBuilder's.
import { GraphBuilder } from '../graph.js';
import { type Attr, BOOL, FLOAT, floatTensor, int, IR_VERSION, node, onnx, valueInfo, type TensorProto } from '../proto.js';

/** A one-value tensor attribute (ConstantOfShape's fill). */
export const fill = (v: number): Attr => ({ type: 4, t: floatTensor('value', [1], Float32Array.of(v)) });

/** ONNX opset of the step graph: ReduceSum's axes are an input (13+), ScatterElements adds (16+), ReduceMean's still an attribute (< 18). */
export const TRAIN_OPSET = 17;

export class StepGraph extends GraphBuilder {
  readonly inputs: ReturnType<typeof valueInfo>[] = [];
  readonly outputs: ReturnType<typeof valueInfo>[] = [];
  private readonly shared = new Map<string, string>();

  /** A node with several outputs, named after the scope and operator. */
  opN(opType: string, inputs: string[], attrs: Record<string, Attr>, outputs: number): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(`${this.scope}/${opType}${i ? `_${i}` : ''}`));
    this.nodes.push(node(opType, inputs, outs, outs[0], attrs));
    return outs;
  }

  /** A node writing to a name chosen by the caller (a graph output). */
  opTo(opType: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}): string {
    const name = this.fresh(output);
    this.nodes.push(node(opType, inputs, [name], name, attrs));
    return name;
  }

  /** ReduceSum over `axes` (opset 13+: axes as an input). */
  sum(t: string, axes: number[], keepdims = false): string {
    return this.op('ReduceSum', [t, this.int64s(axes)], { keepdims: int(keepdims ? 1 : 0) });
  }

  input(name: string, shape: (number | null)[]): string {
    const unique = this.fresh(name);
    this.inputs.push(valueInfo(unique, FLOAT, shape));
    return unique;
  }

  output(name: string, shape: (number | null)[]): void {
    this.outputs.push(valueInfo(name, FLOAT, shape));
  }

  /** A constant made once and shared by every node that needs the same one. */
  private once(key: string, make: (name: string) => TensorProto, base: string): string {
    let name = this.shared.get(key);
    if (!name) {
      name = this.fresh(base);
      this.initializers.push(make(name));
      this.shared.set(key, name);
    }
    return name;
  }

  /** A float tensor of `shape` filled with `v`. */
  constant(shape: number[], v: number): string {
    const size = shape.reduce((a, b) => a * b, 1);
    return this.once(`f32[${shape}]:${v}`, (name) => floatTensor(name, shape, new Float32Array(size).fill(v)), `f32_${shape.join('x')}`);
  }

  boolScalar(v: boolean): string {
    return this.once(`bool:${v}`, (name) => ({ name, dims: [], dataType: BOOL, int32Data: [v ? 1 : 0] }), `bool_${v}`);
  }

  encode(name: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: TRAIN_OPSET }],
      producerName: 'graft-train',
      graph: { name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

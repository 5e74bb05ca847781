// ONNX protobuf messages. graft only assembles plain objects; onnx-proto (protobufjs code compiled
// from the official onnx.proto, v1.10.2) does the encoding, so the bytes follow the schema exactly.
import onnxPkg from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

export const { onnx } = onnxPkg;
export type NodeProto = Onnx.INodeProto;
export type TensorProto = Onnx.ITensorProto;
export type AttributeProto = Onnx.IAttributeProto;
export type ValueInfoProto = Onnx.IValueInfoProto;
export type GraphProto = Onnx.IGraphProto;

/** IR version 8 is what onnx.proto v1.10.2 defines; opset 13 covers every operator graft emits. */
export const IR_VERSION = 8;
export const OPSET = 13;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT32 = onnx.TensorProto.DataType.INT32;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const BOOL = onnx.TensorProto.DataType.BOOL;

const { AttributeType } = onnx.AttributeProto;

/** An attribute value tagged with its ONNX type (a JS number cannot tell INT from FLOAT). */
export type Attr = Omit<AttributeProto, 'name'>;
export const int = (i: number): Attr => ({ type: AttributeType.INT, i });
export const ints = (v: number[]): Attr => ({ type: AttributeType.INTS, ints: v });
export const float = (f: number): Attr => ({ type: AttributeType.FLOAT, f });
export const str = (s: string): Attr => ({ type: AttributeType.STRING, s: new TextEncoder().encode(s) });

export function node(opType: string, input: string[], output: string[], name: string, attrs: Record<string, Attr> = {}): NodeProto {
  return { opType, input, output, name, attribute: Object.entries(attrs).map(([n, a]) => ({ name: n, ...a })) };
}

/** Float32 weights as raw little-endian bytes, the compact form every ONNX runtime reads. */
export function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, dataType: FLOAT, rawData: bytes };
}

export function int32Tensor(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i], true);
  return { name, dims, dataType: INT32, rawData: bytes };
}

export function int64Tensor(name: string, dims: number[], data: number[]): TensorProto {
  const bytes = new Uint8Array(data.length * 8);
  const view = new DataView(bytes.buffer);
  data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims, dataType: INT64, rawData: bytes };
}

/** A tensor's declared type; null dims stay symbolic (`batch` for the first). */
export function valueInfo(name: string, elemType: number, shape: (number | null)[]): ValueInfoProto {
  const dim = shape.map((d, i) => (d === null ? (i === 0 ? { dimParam: 'batch' } : {}) : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

export function encodeModel(graph: GraphProto, producer: string, producerVersion: string): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: producer,
    producerVersion,
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

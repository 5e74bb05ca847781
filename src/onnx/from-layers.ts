// ONNX export of a TF.js LayersModel (functional or Sequential): the layer graph walked from the
// requested outputs down, each layer call converted by layers.ts, encoded as one ModelProto.
import type * as tf from '@tensorflow/tfjs';
import { usageError } from '../core/errors.js';
import { GRAFT_VERSION } from '../core/version.js';
import { GraphBuilder, type Shape, type Value, TO_NCHW } from './graph.js';
import { CONVERTERS, unsupported } from './layers.js';
import { FLOAT, INT32, type ValueInfoProto, encodeModel, valueInfo } from './proto.js';

export { IR_VERSION, OPSET } from './proto.js';

export interface OnnxExportOptions {
  /**
   * Layer names whose outputs become the ONNX graph outputs, in this order (default: the model's
   * outputs). Used to export a trunk up to a cut: only what these need is exported.
   */
  outputs?: string[];
  /** Layout of a 4-D ONNX input: 'nhwc' (default; the tensor TF.js takes) or 'nchw' (as PyTorch exports are). */
  inputLayout?: 'nhwc' | 'nchw';
  /** Name of the graph's input when the model has one (default 'input'); several inputs keep their layer names. */
  inputName?: string;
  /** Dynamic batch dimension (default true); false fixes it at 1. */
  dynamicBatch?: boolean;
  /** producer_name of the ModelProto (default 'graft'). */
  producer?: string;
}

type Layer = tf.layers.Layer;

/**
 * The model as a serialized ONNX ModelProto (IR version 8, opset 13). Each graph output is named
 * after its layer and holds exactly what TF.js computes for it at inference, 4-D outputs in NHWC.
 * Throws a usage error naming the first layer it cannot convert.
 */
export function layersModelToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const dynamic = options.dynamicBatch ?? true;
  const batch = (shape: Shape): Shape => [dynamic ? null : 1, ...shape.slice(1)];
  const inOwnGraph = (layer: Layer, node: number) => model.containerNodes.has(`${layer.name}_ib-${node}`);
  const values = new Map<string, Value>();
  const key = (layer: Layer, node: number, tensor: number) => `${layer.name}\u0000${node}\u0000${tensor}`;

  const targets = options.outputs
    ? options.outputs.map((name) => outputOf(model, name, inOwnGraph))
    : model.outputLayers.map((layer, i) => ({ layer, node: model.outputLayersNodeIndices[i], tensor: model.outputLayersTensorIndices[i] }));
  const names = targets.map((t) => t.layer.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw usageError(`cannot export to ONNX: output ${twice} requested twice`);

  // Graph inputs first, so their names are never taken; then the output names are kept for the
  // outputs (a layer called twice would otherwise give its name to the first call).
  const inputs: ValueInfoProto[] = model.inputLayers.map((layer, i) => {
    const tensor = model.inputs[i];
    const name = g.fresh(model.inputLayers.length === 1 ? (options.inputName ?? 'input') : layer.name);
    if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') throw unsupported(layer, `input dtype ${tensor.dtype}`);
    const nchw = options.inputLayout === 'nchw' && tensor.shape.length === 4;
    const v = g.value(name, tensor.shape, nchw ? 'nchw' : 'nhwc', tensor.dtype);
    values.set(key(layer, model.inputLayersNodeIndices[i], model.inputLayersTensorIndices[i]), v);
    const declared = nchw ? TO_NCHW.map((d) => tensor.shape[d]) : tensor.shape;
    return valueInfo(name, tensor.dtype === 'int32' ? INT32 : FLOAT, batch(declared));
  });
  const outputKeys = new Set(targets.map((t) => key(t.layer, t.node, t.tensor)));
  /** Names already given to outputs' tensors while converting. */
  const outputNames = new Map<string, string>();
  for (const name of names) g.reserve(name);

  // Depth-first from the outputs: nodes come out in topological order, and layers nothing
  // requested depends on (a classifier above a cut) are never looked at.
  const resolve = (layer: Layer, nodeIndex: number, tensorIndex: number): Value => {
    const k = key(layer, nodeIndex, tensorIndex);
    const known = values.get(k);
    if (known) return known;
    const node = layer.inboundNodes[nodeIndex];
    if (!node || !inOwnGraph(layer, nodeIndex)) throw new Error(`internal: ${layer.name} node ${nodeIndex} is not in ${model.name}`);
    if (layer.getClassName() === 'InputLayer') throw unsupported(layer, 'an input layer that is not an input of the model');
    const converter = CONVERTERS[layer.getClassName()];
    if (!converter) throw unsupported(layer, 'unsupported layer');
    if (tensorIndex !== 0) throw unsupported(layer, 'a layer with several outputs');
    const inputs = node.inboundLayers.map((l, i) => resolve(l, node.nodeIndices[i], node.tensorIndices[i]));
    const shapes = node.outputShapes;
    const out = (Array.isArray(shapes[0]) ? shapes[0] : shapes) as Shape;
    g.scope = layer.name;
    const firstNode = g.nodes.length;
    const firstValue = g.values.length;
    const v = converter({ layer, config: layer.getConfig() as Record<string, unknown>, inputs, out, g });
    // The layer's result takes the layer's name; an NCHW result a suffixed one, leaving the
    // plain name to the NHWC form a graph output uses.
    if (g.values.indexOf(v) >= firstValue) {
      let name: string;
      if (v.layout === 'nchw') name = g.fresh(`${layer.name}_nchw`);
      else if (outputKeys.has(k)) outputNames.set(k, (name = g.claim(layer.name)));
      else name = g.fresh(layer.name);
      g.rename(v, name, firstNode);
    }
    values.set(k, v);
    return v;
  };

  const outputs: ValueInfoProto[] = targets.map(({ layer, node, tensor }) => {
    const k = key(layer, node, tensor);
    let v = resolve(layer, node, tensor);
    const name = outputNames.get(k) ?? g.claim(layer.name);
    if (v.shape.length === 4 && v.layout === 'nchw') v = g.nhwc(v, v.twin ? undefined : name);
    // An output that is another tensor (a Dropout's output is its input; a graph input; an NHWC
    // twin made earlier under another name) gets its own name through an Identity.
    if (v.name !== name) {
      g.nodes.push({ opType: 'Identity', input: [v.name], output: [name], name });
      v = { ...v, name };
    }
    return valueInfo(name, v.dtype === 'int32' ? INT32 : FLOAT, batch(v.shape));
  });

  return encodeModel(
    { name: model.name, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
    options.producer ?? 'graft',
    GRAFT_VERSION,
  );
}

/** The one call of layer `name` in the model's own graph. */
function outputOf(model: tf.LayersModel, name: string, inOwnGraph: (layer: Layer, node: number) => boolean) {
  const layer = model.layers.find((l) => l.name === name);
  if (!layer) throw usageError(`cannot export to ONNX up to layer ${name}: no such layer in ${model.name}`);
  const nodes = layer.inboundNodes.map((_, i) => i).filter((i) => inOwnGraph(layer, i));
  if (nodes.length !== 1)
    throw usageError(`cannot export to ONNX up to layer ${name}: it is called ${nodes.length} times in ${model.name}`);
  return { layer, node: nodes[0], tensor: 0 };
}

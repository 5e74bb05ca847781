// Splitting a functional model at a cut point into the part below and the part above, both
// sharing the original layers (and so their weights). The part below is what gets frozen and
// cached; the part above is what trains.
import * as tf from '@tensorflow/tfjs';
import { inboundLayerNames } from '../bases/structure.js';

type Layer = tf.layers.Layer;

export function layerIndex(model: tf.LayersModel, name: string): number {
  const i = model.layers.findIndex((l) => l.name === name);
  if (i < 0) throw new Error(`layer ${name} not in model ${model.name}`);
  return i;
}

/** Output of a layer in the model's own graph (node 0: later re-applications add more nodes). */
export const ownOutput = (layer: Layer) => layer.getOutputAt(0) as tf.SymbolicTensor;

/** Input up to and including `boundary`. */
export function modelBelow(model: tf.LayersModel, boundary: string): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: ownOutput(model.getLayer(boundary)), name: `${model.name}_below_${boundary}` });
}

/** Everything above `boundary`, re-applied to a new input shaped like the boundary's output. */
export function modelAbove(model: tf.LayersModel, boundary: string): tf.LayersModel {
  const start = layerIndex(model, boundary);
  const shape = (model.layers[start].outputShape as (number | null)[]).slice(1) as number[];
  const input = tf.input({ shape, name: `${boundary}_features` });
  const tensors = new Map<string, tf.SymbolicTensor>([[boundary, input]]);
  for (const layer of model.layers.slice(start + 1)) {
    const inputs = inboundLayerNames(layer).map((n) => tensors.get(n));
    if (inputs.some((t) => t === undefined)) {
      throw new Error(`cannot split ${model.name} at ${boundary}: ${layer.name} reads from below it`);
    }
    const out = layer.apply(inputs.length === 1 ? inputs[0]! : (inputs as tf.SymbolicTensor[])) as tf.SymbolicTensor;
    tensors.set(layer.name, out);
  }
  // Every output of the model (a multi-task model has one per task), in its order.
  const outputs = model.outputLayers.map((l) => tensors.get(l.name)!);
  return tf.model({ inputs: input, outputs: outputs.length === 1 ? outputs[0] : outputs, name: `${model.name}_above_${boundary}` });
}

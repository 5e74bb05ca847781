// The frozen part of a graft for one training stage, on the engine that runs it fastest. A
// LayersModel's part below the stage's boundary is exported to ONNX and run on ONNX Runtime
// (pure inference, ~8x faster than TF.js wasm for MobileNetV2 here); the part above trains in TF.js.
import * as tf from '@tensorflow/tfjs';
import { createOnnxRunner, onnxRuntimeAvailable, onnxTrunk } from '../backend/onnx-runtime.js';
import type { FrozenTrunk } from '../bases/types.js';
import { usageError } from '../errors.js';
import { asPredictor, type Grafted } from '../graft/graft.js';
import { modelBelow } from '../graft/split.js';
import { digest } from '../io/digest.js';

/** Where frozen parts run: ONNX Runtime, TF.js (the current backend), or ONNX Runtime when it loads. */
export type Engine = 'auto' | 'onnx' | 'tfjs';
export const ENGINES: Engine[] = ['auto', 'onnx', 'tfjs'];

export interface FrozenPart extends FrozenTrunk {
  engine: 'onnx' | 'tfjs' | 'graph';
}

/**
 * Identity of a LayersModel's architecture and weights, for feature-cache keys. Variable names
 * are left out: TF.js makes them unique per process (`kernel_1`, …), the topology is what is stable.
 */
export function layersDigest(model: tf.LayersModel): string {
  const topology = JSON.stringify(model.toJSON(null, false));
  return digest('layers', topology, ...model.weights.map((w) => w.read().dataSync() as Float32Array));
}

/** The graft's frozen part up to `boundary` (inclusive), ready to predict. */
export async function frozenPart(g: Grafted, boundary: string, engine: Engine = 'auto'): Promise<FrozenPart> {
  if (g.trunk) return { ...g.trunk, engine: g.base.kind === 'onnx' ? 'onnx' : 'graph' };
  const below = modelBelow(g.model, boundary);
  const id = layersDigest(below);
  const useOnnx = engine === 'onnx' || (engine === 'auto' && below.layers.length > 1 && (await onnxRuntimeAvailable()));
  if (!useOnnx) return { ...asPredictor(below), id, engine: 'tfjs' };
  let bytes: Uint8Array;
  try {
    const { layersModelToOnnx } = await import('../export/onnx/index.js');
    bytes = layersModelToOnnx(below);
  } catch (e) {
    if (engine === 'onnx') throw e;
    // A layer the exporter does not know: TF.js runs it, slower but the same numbers.
    return { ...asPredictor(below), id, engine: 'tfjs' };
  }
  const runner = await createOnnxRunner(bytes);
  if (runner.outputNames.length !== 1) throw usageError(`frozen part below ${boundary} exported with ${runner.outputNames.length} outputs`);
  return { ...onnxTrunk(runner, runner.outputNames[0], 'nhwc'), id, engine: 'onnx' };
}

// The frozen part of a graft for one training stage, on the engine that runs it fastest. A
// LayersModel's part below the stage's boundary is exported to ONNX and run on ONNX Runtime
// (pure inference, ~8x faster than TF.js wasm for MobileNetV2 here); the part above trains in TF.js.
import * as tf from '@tensorflow/tfjs';
import { createOnnxRunner, onnxRuntimeAvailable, onnxTrunk } from '../backend/onnx-runtime.js';
import type { FrozenTrunk } from '../bases/types.js';
import { GraftError } from '../core/errors.js';
import { asPredictor, type Grafted } from '../graft/graft.js';
import { layerIndex, modelAbove, modelBelow } from '../graft/split.js';
import { digest } from '../io/digest.js';

/** Where frozen parts run: ONNX Runtime, TF.js (the current backend), or ONNX Runtime when it loads. */
export type Engine = 'auto' | 'onnx' | 'tfjs';
export const ENGINES: Engine[] = ['auto', 'onnx', 'tfjs'];

export interface FrozenPart extends FrozenTrunk {
  engine: 'onnx' | 'tfjs' | 'graph';
}

/**
 * Identity of a LayersModel's architecture and weights, for feature-cache keys: its layers'
 * class and config (minus `trainable`, which changes between stages), their connections, and the
 * weights layer by layer. Model and variable names are left out: they depend on how the base was
 * named and on how many models this process built.
 */
export function layersDigest(model: tf.LayersModel): string {
  const topology = model.toJSON(null, false) as { config: { layers: { config: Record<string, unknown> }[] } };
  const layers = topology.config.layers.map((l) => ({ ...l, config: { ...l.config, trainable: undefined } }));
  const graph = JSON.stringify({ ...topology.config, name: undefined, layers });
  return digest('layers', graph, ...model.layers.flatMap((l) => l.getWeights().map(weightDigest)));
}

// A weight's values only change by assignment, which gives its tensor new data (a new dataId):
// digests are remembered per dataId, so an unchanged trunk is not read back and hashed again.
const weightDigests = new WeakMap<object, string>();
function weightDigest(w: tf.Tensor): string {
  const key = w.dataId as object;
  let d = weightDigests.get(key);
  if (!d) weightDigests.set(key, (d = digest(w.shape.join('x'), w.dataSync() as Float32Array)));
  return d;
}

const hasLayer = (model: tf.LayersModel, name: string) => model.layers.some((l) => l.name === name);

/** Weightless layers that may join the frozen part: they change nothing in training but the cost. */
const FOLDABLE = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

/**
 * Where stage 1 (the head) starts training: the cut, or above it the head's global pooling, which
 * has no weights. Freezing the pooling too means it runs once per image instead of every epoch,
 * and the cache holds 1,280 floats per image instead of 7x7x1,280 for MobileNetV2.
 */
export function headBoundary(g: Grafted): string {
  const start = hasLayer(g.model, g.cut) ? layerIndex(g.model, g.cut) + 1 : 1;
  const next = g.model.layers[start];
  return next && FOLDABLE.has(next.getClassName()) ? next.name : g.cut;
}

/** What trains above `boundary`: g.model above it, or all of g.model when the boundary is in a frozen base's trunk. */
export function trainablePart(g: Pick<Grafted, 'model'>, boundary: string): tf.LayersModel {
  return hasLayer(g.model, boundary) ? modelAbove(g.model, boundary) : g.model;
}

/** What a frozen part is cut from: a graft's model, and its trunk when the base is a frozen one. */
export type FrozenPartSource = Pick<Grafted, 'model' | 'trunk'> & { base?: Pick<Grafted['base'], 'kind'> };

/** The graft's frozen part up to `boundary` (inclusive), ready to predict. */
export async function frozenPart(g: FrozenPartSource, boundary: string, engine: Engine = 'auto'): Promise<FrozenPart> {
  if (g.trunk) return frozenTrunkPart(g, g.trunk, boundary);
  const below = modelBelow(g.model, boundary);
  const id = layersDigest(below);
  const useOnnx = engine === 'onnx' || (engine === 'auto' && below.layers.length > 1 && (await onnxRuntimeAvailable()));
  if (!useOnnx) return { ...asPredictor(below), id, engine: 'tfjs' };
  let bytes: Uint8Array;
  try {
    const { layersModelToOnnx } = await import('../onnx/from-layers.js');
    bytes = layersModelToOnnx(below);
  } catch (e) {
    // A layer the exporter does not know (a usage error naming it): TF.js runs it, slower but the same numbers.
    if (engine === 'onnx' || !(e instanceof GraftError)) throw e;
    return { ...asPredictor(below), id, engine: 'tfjs' };
  }
  // The session starts on first use: a run that finds every feature in the cache never needs it.
  // Under `auto`, a model ONNX Runtime refuses runs in TF.js instead.
  const tfjs = asPredictor(below);
  let trunk: Promise<Omit<FrozenTrunk, 'id'>> | undefined;
  const start = async (): Promise<Omit<FrozenTrunk, 'id'>> => {
    try {
      const runner = await createOnnxRunner(bytes);
      return onnxTrunk(runner, runner.outputNames[0], 'nhwc');
    } catch (e) {
      if (engine === 'onnx') throw e;
      return tfjs;
    }
  };
  return {
    id,
    engine: 'onnx',
    predict: async (x) => (await (trunk ??= start())).predict(x),
    predictRaw: async (x: Float32Array, dims: number[]) => {
      const t = await (trunk ??= start());
      if (t.predictRaw) return t.predictRaw(x, dims);
      const input = tf.tensor(x, dims);
      const y = await t.predict(input);
      const out = { data: (await y.data()) as Float32Array, dims: y.shape };
      tf.dispose([input, y]);
      return out;
    },
    release: async () => {
      if (trunk) await (await trunk).release?.();
      trunk = undefined;
    },
  };
}

/**
 * `use` with the graft's frozen part up to `boundary`, released afterwards unless it is the
 * graft's own trunk (a frozen base's session lives as long as the graft).
 */
export async function withFrozenPart<T>(
  g: FrozenPartSource,
  boundary: string,
  engine: Engine | undefined,
  use: (part: FrozenPart) => Promise<T>,
): Promise<T> {
  const part = await frozenPart(g, boundary, engine);
  try {
    return await use(part);
  } finally {
    if (!g.trunk) await part.release?.();
  }
}

/** A frozen base's trunk, followed by the head's weightless layers up to `boundary` when it lies in the head. */
function frozenTrunkPart(
  g: Pick<Grafted, 'model'> & { base?: Pick<Grafted['base'], 'kind'> },
  trunk: FrozenTrunk,
  boundary: string,
): FrozenPart {
  const engine = g.base?.kind === 'onnx' ? 'onnx' : 'graph';
  if (!hasLayer(g.model, boundary)) return { ...trunk, engine };
  const head = modelBelow(g.model, boundary);
  return {
    id: digest(trunk.id, layersDigest(head)),
    engine,
    predict: async (x) => {
      const features = await trunk.predict(x);
      const y = head.predict(features) as tf.Tensor;
      features.dispose();
      return y;
    },
  };
}

// loadBase: one entry point for every kind of pre-trained model graft can start from.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { usageError } from '../errors.js';
import { fileHandler, readModelJson } from '../io/layers-files.js';
import { loadDigitsCnn } from './digits-cnn.js';
import { classifierStart, deriveBlocks } from './graph.js';
import { loadInceptionV3 } from './inception-v3.js';
import { loadMobilenetV2 } from './mobilenet-v2.js';
import { checkNormalize, loadOnnxBase, type OnnxBaseOptions } from './onnx.js';
import type { Base, FrozenTrunk } from './types.js';
import { digest } from '../io/digest.js';

export const EMBEDDED_BASES: Record<string, () => Promise<Base>> = {
  mobilenet_v2: loadMobilenetV2,
  inception_v3: loadInceptionV3,
  'digits-cnn': () => loadDigitsCnn(),
};

const isUrl = (s: string) => /^https?:\/\//.test(s);

/**
 * A named embedded base, a path to a model.json (or its folder), a URL to one, or `onnx:PATH`
 * (an ONNX model; `options` give the preprocessing its file cannot say).
 */
export async function loadBase(spec: string, options: OnnxBaseOptions = {}): Promise<Base> {
  if (spec.startsWith('onnx:')) return loadOnnxBase(spec.slice('onnx:'.length), options);
  if (spec.endsWith('.onnx')) return loadOnnxBase(spec, options);
  if (options.size || options.layout || options.cut)
    throw usageError(`--input-size and --layout are for ONNX bases; ${spec} says its own input`);
  const base = await loadTfjsBase(spec);
  // Any base may be fed with another normalisation (e.g. a model.json trained on ImageNet statistics).
  if (options.normalize) base.normalize = checkNormalize(options.normalize, base.input.channels, spec);
  return base;
}

async function loadTfjsBase(spec: string): Promise<Base> {
  const embedded = EMBEDDED_BASES[spec];
  if (embedded) return embedded();
  if (isUrl(spec)) return fromUrl(spec);
  let path = spec;
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'model.json');
  if (!existsSync(path)) {
    throw usageError(
      `unknown base "${spec}" (known: ${Object.keys(EMBEDDED_BASES).join(', ')}, a path to a TF.js model.json, or onnx:PATH)`,
    );
  }
  const json = await readModelJson(path);
  if (json.format === 'graph-model') return graphBase(spec, await tf.loadGraphModel(fileHandler(path)));
  return layersBase(spec, await tf.loadLayersModel(fileHandler(path)));
}

async function fromUrl(url: string): Promise<Base> {
  const res = await fetch(url);
  if (!res.ok) throw usageError(`could not fetch ${url}: HTTP ${res.status}`);
  const json = (await res.json()) as { format?: string };
  if (json.format === 'graph-model') return graphBase(url, await tf.loadGraphModel(url));
  return layersBase(url, await tf.loadLayersModel(url));
}

function imageInput(shape: (number | null)[]): Base['input'] {
  const [, h, w, c] = shape;
  if (shape.length !== 4 || !h || !w || h < 1 || w < 1 || (c !== 1 && c !== 3)) {
    throw usageError(`base input shape [${shape.join(',')}] is not an image of fixed size with 1 or 3 channels`);
  }
  return { height: h, width: w, channels: c };
}

/** A user's LayersModel: structure read from the graph, pixels scaled to [0, 1] unless told otherwise. */
export function layersBase(name: string, model: tf.LayersModel): Base {
  const cut = model.layers[classifierStart(model)];
  const rank = (cut.outputShape as number[]).length;
  const input = imageInput(model.inputs[0].shape);
  return {
    name,
    kind: 'layers',
    model,
    input,
    normalize: { mean: Array(input.channels).fill(0), std: Array(input.channels).fill(1) },
    resize: 'cover',
    blocks: deriveBlocks(model),
    suggestedCut: cut.name,
    head: { kind: 'linear', dropout: 0.2, pool: rank === 4 ? 'avg' : 'flatten' },
    provenance: `TF.js LayersModel loaded from ${name}`,
  };
}

/** Identity of a graph model's ops and weights, for feature-cache keys. */
function graphWeightsDigest(graph: tf.GraphModel): string {
  const weights = graph.weights;
  const parts = Object.keys(weights)
    .sort()
    .flatMap((name) => weights[name].flatMap((t) => [name, t.shape.join('x'), t.dataSync() as Float32Array]));
  // `artifacts` is private in the typings; it is the graph as loaded (nodes and their attributes).
  const { artifacts } = graph as unknown as { artifacts?: tf.io.ModelArtifacts };
  return digest('graph', JSON.stringify(artifacts?.modelTopology ?? null), ...parts);
}

function graphBase(name: string, graph: tf.GraphModel): Base {
  const out = graph.outputs[0];
  const input = imageInput(graph.inputs[0].shape ?? []);
  let weightsDigest: string | undefined;
  const frozenTrunk = async (cut: string): Promise<FrozenTrunk> => {
    weightsDigest ??= graphWeightsDigest(graph);
    return { predict: (x) => graph.execute(x, cut) as tf.Tensor, id: digest(weightsDigest, cut) };
  };
  return {
    name,
    kind: 'graph',
    graph,
    frozenTrunk,
    input,
    normalize: { mean: Array(input.channels).fill(0), std: Array(input.channels).fill(1) },
    resize: 'cover',
    blocks: [],
    suggestedCut: out.name,
    // Spatial features at whatever node the cut picks are averaged; vectors pass through.
    head: { kind: 'linear', dropout: 0.2, pool: 'avg' },
    provenance: `TF.js GraphModel loaded from ${name} (frozen feature extractor)`,
  };
}

export type { Base } from './types.js';

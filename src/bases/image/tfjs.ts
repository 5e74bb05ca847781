// Your own TF.js models as bases: a model.json on disk or at a URL. A LayersModel is fine-tunable
// (its blocks and usual cut derived from its graph); a GraphModel is a frozen feature extractor,
// converted to ONNX and run on ONNX Runtime (graph-onnx.ts) when the converter has every op it
// computes, and on TF.js otherwise, saying which ops kept it there.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError, usageError } from '../../core/errors.js';
import { digest } from '../../io/digest.js';
import { missingGraphOps } from '../../onnx/tfjs-graph/index.js';
import { fileHandler, readModelJson } from '../../io/layers-files.js';
import { classifierStart, deriveBlocks } from '../structure.js';
import type { FrozenTrunk, GraphBase, ImageBase, LayersBase } from '../types.js';

const isUrl = (s: string) => /^https?:\/\//.test(s);

/** A path to a model.json (or its folder) or a URL to one, as a base; undefined when `spec` names no such file. */
export async function loadTfjsBase(spec: string): Promise<ImageBase | undefined> {
  if (isUrl(spec)) return fromUrl(spec);
  let path = spec;
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'model.json');
  if (!existsSync(path)) return undefined;
  // A usage error saying what was expected when the file is not a model.json at all.
  const json = await readModelJson(path);
  try {
    if (json.format === 'graph-model') return await convertedGraphBase(spec, await tf.loadGraphModel(fileHandler(path)));
    return layersBase(spec, await tf.loadLayersModel(fileHandler(path)));
  } catch (e) {
    if (e instanceof GraftError) throw e;
    // Shaped like a model.json, but TF.js cannot build a model from it: its reason is often a
    // TypeError from inside the deserializer, so it is named as that, after what was expected.
    throw usageError(`${spec}: TF.js cannot load this model.json as a model (${firstLine(e)})`);
  }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 200);

async function fromUrl(url: string): Promise<ImageBase> {
  const res = await fetch(url);
  if (!res.ok) throw usageError(`could not fetch ${url}: HTTP ${res.status}`);
  const json = (await res.json()) as { format?: string };
  if (json.format === 'graph-model') return convertedGraphBase(url, await tf.loadGraphModel(url));
  return layersBase(url, await tf.loadLayersModel(url));
}

function imageInput(shape: (number | null)[]): ImageBase['input'] {
  const [, h, w, c] = shape;
  if (shape.length !== 4 || !h || !w || h < 1 || w < 1 || (c !== 1 && c !== 3)) {
    throw usageError(`base input shape [${shape.join(',')}] is not an image of fixed size with 1 or 3 channels`);
  }
  return { height: h, width: w, channels: c };
}

/** A user's LayersModel: structure read from the graph, pixels scaled to [0, 1] unless told otherwise. */
export function layersBase(name: string, model: tf.LayersModel): LayersBase {
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

/** A graph model as a base: on ONNX Runtime when every op converts, else on TF.js saying why. */
export async function graphBase(name: string, graph: tf.GraphModel): Promise<ImageBase> {
  const missing = missingGraphOps(graph);
  if (!missing.length) return (await import('./graph-onnx.js')).graphOnnxBase(name, graph);
  const base = tfjsGraphBase(name, graph);
  base.provenance += `; stays on TF.js: no ONNX converter for ${missing.join(', ')}`;
  return base;
}

/** graphBase for a graph loaded here: once converted, its ONNX bytes hold the weights. */
async function convertedGraphBase(name: string, graph: tf.GraphModel): Promise<ImageBase> {
  const base = await graphBase(name, graph);
  if (base.kind === 'onnx') graph.dispose();
  return base;
}

function tfjsGraphBase(name: string, graph: tf.GraphModel): GraphBase {
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

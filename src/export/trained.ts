// A trained model on disk: a plain TF.js LayersModel (model.json + weights.bin) and graft.json,
// everything a client needs to reproduce preprocessing without graft.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createOnnxRunner, onnxTrunk, type Layout } from '../backend/onnx-runtime.js';
import { pruneToCut } from '../bases/onnx.js';
import type { Normalize } from '../bases/types.js';
import type { ImageSize, ResizeMode } from '../data/types.js';
import { GraftError, usageError } from '../errors.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler } from '../io/layers-files.js';
import type { Grafted, Predictor } from '../graft/graft.js';
import { GRAFT_VERSION } from '../version.js';

export interface GraftJson {
  labels: string[];
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  base: string;
  cut: string;
  /**
   * Graph-model and ONNX bases: the frozen trunk saved beside the head, run up to node `output`
   * (a TF.js graph model, or an ONNX model taking `layout` images).
   */
  trunk: { path: string; output: string; layout?: Layout } | null;
  scratch: boolean;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
  versions: { graft: string; tfjs: string };
}

export interface Trained {
  /** The whole classifier, or for a graph-model base the head that `trunk` feeds. */
  model: tf.LayersModel;
  trunk?: Predictor;
  meta: GraftJson;
}

const TRUNK_PATH = 'trunk/model.json';
const ONNX_TRUNK_PATH = 'trunk/model.onnx';

function trunkMeta(g: Grafted): GraftJson['trunk'] {
  if (g.base.graph) return { path: TRUNK_PATH, output: g.cut };
  if (g.base.onnx) return { path: ONNX_TRUNK_PATH, output: g.cut, layout: g.base.onnx.layout };
  return null;
}

export async function saveTrained(
  g: Grafted,
  out: string,
  extra: { force?: boolean; metrics?: Record<string, unknown>; training?: Record<string, unknown> } = {},
): Promise<void> {
  const meta: GraftJson = {
    labels: g.classes,
    input: g.base.input,
    normalize: g.base.normalize,
    resize: g.base.resize,
    base: g.base.name,
    cut: g.cut,
    trunk: trunkMeta(g),
    scratch: g.scratch,
    metrics: extra.metrics ?? {},
    training: extra.training ?? {},
    versions: { graft: GRAFT_VERSION, tfjs: tf.version.tfjs },
  };
  await writeDirAtomically(out, !!extra.force, async (dir) => {
    await g.model.save(fileHandler(join(dir, 'model.json')));
    if (g.base.graph) await g.base.graph.save(fileHandler(join(dir, TRUNK_PATH)));
    if (g.base.onnx) {
      await mkdir(join(dir, 'trunk'), { recursive: true });
      await writeFile(join(dir, ONNX_TRUNK_PATH), pruneToCut(g.base.onnx.bytes, g.cut));
    }
    await writeFile(join(dir, 'graft.json'), JSON.stringify(meta, null, 2) + '\n');
  });
}

/** A model directory's graft.json, after checking the directory holds model.json and graft.json. */
export async function readModelMeta<T>(dir: string): Promise<T> {
  const metaPath = join(dir, 'graft.json');
  if (!existsSync(dir)) throw usageError(`model directory not found: ${dir}`);
  if (!existsSync(metaPath) || !existsSync(join(dir, 'model.json')))
    throw usageError(`${dir} is not a graft model (model.json and graft.json expected)`);
  try {
    return JSON.parse(await readFile(metaPath, 'utf8')) as T;
  } catch (e) {
    throw new GraftError(`cannot read ${metaPath}: ${(e as Error).message}`, 1);
  }
}

/** Load a trained model; `trunk: false` leaves a frozen trunk on disk (e.g. to export it, which needs no runtime). */
export async function loadTrained(dir: string, options: { trunk?: boolean } = {}): Promise<Trained> {
  const meta = await readModelMeta<GraftJson>(dir);
  const model = await tf.loadLayersModel(fileHandler(join(dir, 'model.json')));
  if (!meta.trunk || options.trunk === false) return { model, meta };
  if (meta.trunk.path.endsWith('.onnx')) {
    const runner = await createOnnxRunner(join(dir, meta.trunk.path));
    return { model, meta, trunk: onnxTrunk(runner, meta.trunk.output, meta.trunk.layout ?? 'nhwc') };
  }
  const graph = await tf.loadGraphModel(fileHandler(join(dir, meta.trunk.path)));
  const output = meta.trunk.output;
  return { model, meta, trunk: { predict: (x) => graph.execute(x, output) as tf.Tensor } };
}

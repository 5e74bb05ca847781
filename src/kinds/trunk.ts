// A frozen base's trunk in a model directory: written beside the head at saving (trunk/model.onnx,
// or trunk/model.json for a TF.js graph model), run from there after loading, its ONNX bytes what
// export joins to the head. Shared by every kind whose head can sit on a frozen trunk.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { createOnnxRunner, onnxTrunk, type Layout } from '../backend/onnx-runtime.js';
import type { FrozenBase, FrozenTrunk, ImageBase, Predictor } from '../bases/types.js';
import { makeDirs } from '../io/destination.js';
import { fileHandler } from '../io/layers-files.js';
import { pruneToCut } from '../onnx/prune.js';

export const TRUNK_PATH = 'trunk/model.json';
export const ONNX_TRUNK_PATH = 'trunk/model.onnx';

/**
 * Graph-model and ONNX bases: the frozen trunk saved beside the head, run up to node `output`
 * (a TF.js graph model, or an ONNX model taking `layout` images).
 */
export interface SavedTrunk {
  path: string;
  output: string;
  layout?: Layout;
}

/** graft.json's `trunk`: null (or absent, in directories written before it existed) when the model is whole. */
export const TRUNK_JSON = z
  .object({ path: z.enum([TRUNK_PATH, ONNX_TRUNK_PATH]), output: z.string(), layout: z.enum(['nhwc', 'nchw']).optional() })
  .nullable()
  .default(null);

/** Where a frozen trunk comes from: the base it was grafted on, or a model directory. */
export interface TrunkSource {
  /** Runs the trunk (started on first use). */
  predictor(): Promise<Predictor>;
  /** Writes the trunk's files into a model directory being saved. */
  write(dir: string): Promise<void>;
  /** The trunk as ONNX bytes, when it is an ONNX model. */
  onnxBytes(): Promise<Uint8Array | undefined>;
  release(): Promise<void>;
}

/** What graft.json says of a graft's trunk: where it is saved and which node it ends at. */
export function savedTrunk(base: ImageBase, cut: string): SavedTrunk | null {
  if (base.kind === 'graph') return { path: TRUNK_PATH, output: cut };
  if (base.kind === 'onnx') return { path: ONNX_TRUNK_PATH, output: cut, layout: base.onnx.layout };
  return null;
}

/** The trunk of a fresh graft on a frozen base (the graft releases its session, not this). */
export function trunkFromGraft(g: { base: FrozenBase; trunk: FrozenTrunk; cut: string }): TrunkSource {
  const { base, trunk, cut } = g;
  const onnxBytes = async () => (base.kind === 'onnx' ? pruneToCut(base.onnx.bytes, cut) : undefined);
  return {
    predictor: async () => trunk,
    onnxBytes,
    write: async (dir) => {
      if (base.kind === 'graph') return void (await base.graph.save(fileHandler(join(dir, TRUNK_PATH))));
      await makeDirs(join(dir, 'trunk'));
      await writeFile(join(dir, ONNX_TRUNK_PATH), (await onnxBytes())!);
    },
    release: async () => undefined, // the graft's to release
  };
}

/** The trunk a saved model directory holds, started on first use. */
export function trunkFromDir(dir: string, t: SavedTrunk): TrunkSource {
  const path = join(dir, t.path);
  const isOnnx = t.path.endsWith('.onnx');
  let started: Promise<Predictor & { release?(): Promise<void> }> | undefined;
  const start = async (): Promise<Predictor & { release?(): Promise<void> }> => {
    if (isOnnx) return onnxTrunk(await createOnnxRunner(path), t.output, t.layout ?? 'nhwc');
    const graph = await tf.loadGraphModel(fileHandler(path));
    return { predict: (x) => graph.execute(x, t.output) as tf.Tensor, release: async () => graph.dispose() };
  };
  return {
    predictor: () => (started ??= start()),
    onnxBytes: async () => (isOnnx ? new Uint8Array(await readFile(path)) : undefined),
    write: async (out) => {
      await makeDirs(join(out, 'trunk'));
      if (isOnnx) return writeFile(join(out, ONNX_TRUNK_PATH), new Uint8Array(await readFile(path)));
      const graph = await tf.loadGraphModel(fileHandler(path));
      await graph.save(fileHandler(join(out, TRUNK_PATH)));
      graph.dispose();
    },
    release: async () => {
      if (started) await (await started).release?.();
      started = undefined;
    },
  };
}

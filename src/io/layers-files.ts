// TF.js models as files on disk (model.json + weights.bin), the layout plain `@tensorflow/tfjs`
// loads, for LayersModels and GraphModels alike. TF.js's own file:// handler lives in tfjs-node,
// which cannot install here, so this small handler reads and writes the same layout.
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { GraftError, usageError } from '../core/errors.js';
import { makeDirs } from './destination.js';
import { MiB, readModelFile } from './read.js';

export interface ModelJson {
  format?: string;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  [k: string]: unknown;
}

/** What a model.json must hold for the loaders to read it; the rest passes through as it came. */
const MODEL_JSON = z.looseObject({
  modelTopology: z.looseObject({}),
  weightsManifest: z.array(
    z.looseObject({
      paths: z.array(z.string()),
      weights: z.array(z.looseObject({ name: z.string(), shape: z.array(z.number()), dtype: z.string() })),
    }),
  ),
});

/** A model.json's topology is megabytes at most (weights are in the shards): more is not one. */
const MAX_MODEL_JSON_BYTES = 256 * MiB;
/** A shard is read into one ArrayBuffer, which holds at most 2 GiB in TF.js. */
const MAX_SHARD_BYTES = 2048 * MiB;

/**
 * A TF.js model.json, checked: anything else (a text file, a graft.json, a JSON array) is one
 * usage error saying what was expected, never a TypeError from deep inside a loader.
 */
export async function readModelJson(path: string): Promise<ModelJson> {
  const text = (await readModelFile(path, 'TF.js model.json', MAX_MODEL_JSON_BYTES)).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw usageError(`${path} is not a TF.js model.json: it is not JSON`);
  }
  const parsed = MODEL_JSON.safeParse(json);
  if (!parsed.success) {
    const isObject = typeof json === 'object' && json !== null && !Array.isArray(json);
    // Every kind of trained model writes its graft.json with a `versions` stamp.
    const why = !isObject
      ? 'it is not a JSON object'
      : basename(path) === 'graft.json' || 'versions' in (json as object)
        ? "it is a trained model's graft.json"
        : `its ${parsed.error.issues[0].path.join('.')} is missing or not valid`;
    throw usageError(`${path} is not a TF.js model.json (modelTopology and weightsManifest): ${why}`);
  }
  // The dtypes are TF.js's to check: it names one it does not know.
  return parsed.data as unknown as ModelJson;
}

/** Artifacts of a parsed model.json and its weight shards, in manifest order. */
export function artifactsFrom(json: ModelJson, shards: Uint8Array[]): tf.io.ModelArtifacts {
  const all = Buffer.concat(shards);
  const { weightsManifest, ...rest } = json;
  return {
    ...(rest as Partial<tf.io.ModelArtifacts>),
    modelTopology: json.modelTopology,
    weightSpecs: weightsManifest.flatMap((g) => g.weights),
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/** The bytes the manifest's weights take in the shards, or undefined when a dtype's size is not fixed (strings). */
function manifestBytes(json: ModelJson): number | undefined {
  let total = 0;
  for (const w of json.weightsManifest.flatMap((g) => g.weights)) {
    const bytes = DTYPE_BYTES[w.quantization?.dtype ?? w.dtype];
    if (bytes === undefined) return undefined;
    total += w.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
}

/** Artifacts of a model.json and its shards (paths relative to the JSON file). */
export async function readArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  const json = await readModelJson(modelJsonPath);
  const dir = dirname(modelJsonPath);
  const shards = json.weightsManifest
    .flatMap((g) => g.paths)
    .map((p) => readModelFile(join(dir, p), `weights of ${modelJsonPath}`, MAX_SHARD_BYTES));
  const read = await Promise.all(shards);
  // A shard cut short (an interrupted copy or download) would otherwise be TF.js's "the tensor
  // should have 216 values but has 7", naming neither the file nor the cause.
  const need = manifestBytes(json);
  const have = read.reduce((a, b) => a + b.length, 0);
  if (need !== undefined && have < need)
    throw new GraftError(
      `cannot load ${modelJsonPath}: its weights (${json.weightsManifest.flatMap((g) => g.paths).join(', ')}) hold ${have} bytes, its manifest needs ${need}: truncated, or from another model`,
      1,
    );
  return artifactsFrom(json, read);
}

export function fileHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: () => readArtifacts(modelJsonPath),
    save: async (artifacts) => {
      await makeDirs(dirname(modelJsonPath));
      const data = artifacts.weightData;
      const bytes = data instanceof ArrayBuffer ? Buffer.from(data) : Buffer.concat(data!.map((b) => Buffer.from(b)));
      await writeFile(join(dirname(modelJsonPath), 'weights.bin'), bytes);
      // Everything but the weights goes into model.json as it came (signature, initialisers, …).
      const { weightData: _data, weightSpecs, ...rest } = artifacts;
      const json = {
        ...rest,
        format: artifacts.format ?? 'layers-model',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }],
      };
      await writeFile(modelJsonPath, JSON.stringify(json));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

export const loadLayersModelFile = (modelJsonPath: string) => tf.loadLayersModel(fileHandler(modelJsonPath));

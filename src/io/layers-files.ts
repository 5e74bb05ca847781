// TF.js models as files on disk (model.json + weights.bin), the layout plain `@tensorflow/tfjs`
// loads, for LayersModels and GraphModels alike. TF.js's own file:// handler lives in tfjs-node,
// which cannot install here, so this small handler reads and writes the same layout.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export interface ModelJson {
  format?: string;
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  [k: string]: unknown;
}

export async function readModelJson(path: string): Promise<ModelJson> {
  return JSON.parse(await readFile(path, 'utf8')) as ModelJson;
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

/** Artifacts of a model.json and its shards (paths relative to the JSON file). */
export async function readArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  const json = await readModelJson(modelJsonPath);
  const dir = dirname(modelJsonPath);
  return artifactsFrom(json, await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p)))));
}

export function fileHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: () => readArtifacts(modelJsonPath),
    save: async (artifacts) => {
      await mkdir(dirname(modelJsonPath), { recursive: true });
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

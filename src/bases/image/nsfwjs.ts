// The nsfwjs npm package ships Keras-converted LayersModels through its public
// `nsfwjs/models/<name>` entry points: the model.json object and the weight shards as base64.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { artifactsFrom, type ModelJson } from '../../io/layers-files.js';
import type { LayersBase } from '../types.js';

const require = createRequire(import.meta.url);

export type NsfwjsModel = 'mobilenet_v2' | 'inception_v3';

interface ModelDefinition {
  modelJson: () => Promise<{ default: ModelJson }>;
  weightBundles: (() => Promise<{ default: string }>)[];
}

const definitions: Record<NsfwjsModel, () => ModelDefinition> = {
  mobilenet_v2: () => (require('nsfwjs/models/mobilenet_v2') as { MobileNetV2Model: ModelDefinition }).MobileNetV2Model,
  inception_v3: () => (require('nsfwjs/models/inception_v3') as { InceptionV3Model: ModelDefinition }).InceptionV3Model,
};

export async function nsfwjsArtifacts(name: NsfwjsModel): Promise<tf.io.ModelArtifacts> {
  const def = definitions[name]();
  const json = (await def.modelJson()).default;
  return artifactsFrom(json, await Promise.all(def.weightBundles.map(async (b) => Buffer.from((await b()).default, 'base64'))));
}

export async function loadNsfwjsModel(name: NsfwjsModel): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(await nsfwjsArtifacts(name)));
}

/**
 * A base from one of nsfwjs's models: fine-tunable, fed pixel/255 as nsfwjs feeds them (scaling
 * to [-1, 1] cost 4 points in a linear probe on mobilenet_v2), linear head on pooled features.
 */
export function nsfwjsBase(
  name: NsfwjsModel,
  model: tf.LayersModel,
  o: Pick<LayersBase, 'blocks' | 'suggestedCut' | 'provenance'>,
): LayersBase {
  const [, height, width] = model.inputs[0].shape as number[];
  return {
    name,
    kind: 'layers',
    model,
    input: { height, width, channels: 3 },
    normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
    resize: 'cover',
    head: { kind: 'linear', dropout: 0.2, pool: 'avg' },
    ...o,
  };
}

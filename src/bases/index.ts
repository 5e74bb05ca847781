// The base registry: every embedded base, images and texts, by name, and loadBase, the one entry
// point for every kind of pre-trained model graft can start from (an embedded name, a TF.js
// model.json path or URL, `onnx:PATH`, `hf:ORG/NAME` or a folder in the Hub's ONNX layout). A new embedded base is one module and one line in BASES.
import { usageError } from '../core/errors.js';
import { loadSpeechCnn } from './audio/speech-cnn.js';
import { isHubFolder, loadHubBase, loadHubFolderBase } from './hub/image.js';
import { loadDigitsCnn } from './image/digits-cnn.js';
import { loadInceptionV3 } from './image/inception-v3.js';
import { loadMobilenetV2 } from './image/mobilenet-v2.js';
import { checkNormalize, loadOnnxBase, type OnnxBaseOptions } from './image/onnx.js';
import { loadTfjsBase } from './image/tfjs.js';
import { gloveBase } from './text/glove.js';
import { useLiteBase } from './text/use-lite.js';
import type { Base, ImageBase, LayersBase, TextBase } from './types.js';

/** An embedded base: what it takes in and how to load it. An audio base is an image base whose images are spectrograms. */
export type BaseEntry =
  { modality: 'image' | 'audio'; load: () => Promise<ImageBase> } | { modality: 'text'; load: () => Promise<TextBase> };

export const BASES: Record<string, BaseEntry> = {
  mobilenet_v2: { modality: 'image', load: loadMobilenetV2 },
  inception_v3: { modality: 'image', load: loadInceptionV3 },
  'digits-cnn': { modality: 'image', load: () => loadDigitsCnn() },
  'speech-cnn': { modality: 'audio', load: () => loadSpeechCnn() },
  'use-lite': { modality: 'text', load: async () => useLiteBase() },
  'glove-100d': { modality: 'text', load: async () => gloveBase() },
};

/** Whether `spec` names an embedded text base (known without loading anything). */
export const isTextBase = (spec: string): boolean => BASES[spec]?.modality === 'text';

const known = () =>
  `known: ${Object.keys(BASES).join(', ')}, a path to a TF.js model.json, onnx:PATH, hf:ORG/NAME, or a folder in the Hub's ONNX layout`;

/**
 * A named embedded base, a path to a model.json (or its folder), a URL to one, or `onnx:PATH`
 * (an ONNX model; `options` give the preprocessing its file cannot say).
 */
export async function loadBase(spec: string, options: OnnxBaseOptions = {}): Promise<Base> {
  const entry = BASES[spec];
  if (entry?.modality === 'text') {
    const given = Object.entries(options).filter(([, v]) => v !== undefined);
    if (given.length) throw usageError(`${spec} is a text base: image preprocessing (${given.map(([k]) => k).join(', ')}) does not apply`);
    return entry.load();
  }
  return loadImageBase(spec, options);
}

/** loadBase for a caller that needs images: a text base is a usage error naming what it is. */
export async function loadImageBase(spec: string, options: OnnxBaseOptions = {}): Promise<ImageBase> {
  if (BASES[spec]?.modality === 'text') throw usageError(`${spec} is a text base; this needs an image base (${known()})`);
  if (spec.startsWith('hf:')) return loadHubBase(spec, options);
  if (isHubFolder(spec)) return loadHubFolderBase(spec, options);
  if (spec.startsWith('onnx:')) return loadOnnxBase(spec.slice('onnx:'.length), options);
  if (spec.endsWith('.onnx')) return loadOnnxBase(spec, options);
  if (options.size || options.layout || options.cut)
    throw usageError(`--input-size and --layout are for ONNX bases; ${spec} says its own input`);
  // Narrowed by the text check above: an embedded entry here loads an image (or spectrogram) base.
  const entry = BASES[spec] as Extract<BaseEntry, { modality: 'image' | 'audio' }> | undefined;
  const base = entry ? await entry.load() : await loadTfjsBase(spec);
  if (!base) throw usageError(`unknown base "${spec}" (${known()})`);
  // Any base may be fed with another normalisation (e.g. a model.json trained on ImageNet statistics).
  if (options.normalize) base.normalize = checkNormalize(options.normalize, base.input.channels, spec);
  return base;
}

/** loadBase for a caller that needs a fine-tunable TF.js LayersModel (multi-task grafting, a trainable trunk). */
export async function loadLayersBase(spec: string, options: OnnxBaseOptions = {}): Promise<LayersBase> {
  const base = await loadImageBase(spec, options);
  if (base.kind !== 'layers') throw usageError(`${base.name} is a frozen graph or ONNX model; this needs a TF.js LayersModel base`);
  return base;
}

/** loadBase for a caller that needs texts. */
export async function loadTextBase(spec: string): Promise<TextBase> {
  const entry = BASES[spec];
  if (entry?.modality !== 'text') {
    const texts = Object.keys(BASES).filter((n) => BASES[n].modality === 'text');
    throw usageError(`${spec} is not a text base (text bases: ${texts.join(', ')})`);
  }
  return entry.load();
}

export type * from './types.js';

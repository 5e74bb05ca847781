// The base registry: every embedded base, images and texts, by name, and loadBase, the one entry
// point for every kind of pre-trained model graft can start from (an embedded name, a TF.js
// model.json path or URL, `onnx:PATH`, `hf:ORG/NAME` or a folder in the Hub's ONNX layout). A new embedded base is one module and one line in BASES.
import { usageError } from '../core/errors.js';
import { loadSpeechCnn } from './audio/speech-cnn.js';
import { hubFiles, parseHfSpec } from './hub/download.js';
import { isHubFolder, loadHubBase, loadHubFolderBase, PREPROCESSOR } from './hub/image.js';
import { isHubTextFolder, loadHubTextBase, loadHubTextFolderBase } from './hub/text.js';
import { loadDigitsCnn } from './image/digits-cnn.js';
import { loadInceptionV3 } from './image/inception-v3.js';
import { loadMobilenetV2 } from './image/mobilenet-v2.js';
import { checkNormalize, loadOnnxBase, type OnnxBaseOptions } from './image/onnx.js';
import { loadTfjsBase } from './image/tfjs.js';
import { gloveBase } from './text/glove.js';
import { useLiteBase } from './text/use-lite.js';
import type { Base, ImageBase, LayersBase, TextBase, TextEncoder } from './types.js';

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

/**
 * Whether `spec` is a text base: an embedded one, or a Hub model (or a folder in its layout) with
 * a tokenizer.json and no preprocessor_config.json (asked of the Hub, or of the cache offline).
 */
export async function isTextBase(spec: string): Promise<boolean> {
  if (BASES[spec]) return BASES[spec].modality === 'text';
  if (spec.startsWith('hf:')) {
    // Neither file (offline, nothing cached): an image base, whose loader names what is missing.
    const found = await hubFiles(parseHfSpec(spec), [PREPROCESSOR, 'tokenizer.json'], { optional: true });
    return !found[PREPROCESSOR] && !!found['tokenizer.json'];
  }
  return !isHubFolder(spec) && isHubTextFolder(spec);
}

const known = () =>
  `known: ${Object.keys(BASES).join(', ')}, a path to a TF.js model.json, onnx:PATH, hf:ORG/NAME, or a folder in the Hub's ONNX layout`;

/**
 * A named embedded base, a path to a model.json (or its folder), a URL to one, or `onnx:PATH`
 * (an ONNX model; `options` give the preprocessing its file cannot say).
 */
export async function loadBase(spec: string, options: OnnxBaseOptions = {}): Promise<Base> {
  if (await isTextBase(spec)) {
    const given = Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'threads');
    if (given.length) throw usageError(`${spec} is a text base: image preprocessing (${given.map(([k]) => k).join(', ')}) does not apply`);
    return loadTextBase(spec);
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
  if (spec.startsWith('hf:')) return loadHubTextBase(spec);
  if (!BASES[spec] && isHubTextFolder(spec)) return loadHubTextFolderBase(spec);
  const entry = BASES[spec];
  if (entry?.modality !== 'text') {
    const texts = Object.keys(BASES).filter((n) => BASES[n].modality === 'text');
    throw usageError(`${spec} is not a text base (text bases: ${texts.join(', ')}, hf:ORG/NAME, or a folder in the Hub's ONNX layout)`);
  }
  return entry.load();
}

/** A text base's encoder at `cut` (auto or none: the base's own); only Hub models have a choice. */
export async function textEncoderAt(base: TextBase, cut?: string): Promise<TextEncoder> {
  if (cut === undefined || cut === 'auto') return base.encoder();
  if (!('source' in base)) throw usageError(`${base.name} has one output: --cut applies to image bases and Hub text models`);
  return base.encoder(cut);
}

export type * from './types.js';

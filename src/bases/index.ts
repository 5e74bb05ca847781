// The base registry: every embedded base, images and texts, by name, and loadBase, the one entry
// point for every kind of pre-trained model graft can start from (an embedded name, a TF.js
// model.json path or URL, `onnx:PATH`, `hf:ORG/NAME` or a folder in the Hub's ONNX layout). A new embedded base is one module and one line in BASES.
//
// Each loader is imported when a base of its kind is loaded, not with this module: the CLI's
// start (graft inspect digits-cnn) then pays for TF.js and the one base, not for ONNX Runtime's
// graph tools, the Hub client, tokenizers and the audio front end.
import { usageError } from '../core/errors.js';
import { isHubFolder, isHubTextFolder, PREPROCESSOR } from './hub/layout.js';
import type { OnnxBaseOptions } from './image/onnx.js';
import type { Base, ImageBase, LayersBase, TextBase, TextEncoder } from './types.js';

const hubImage = () => import('./hub/image.js');
const hubText = () => import('./hub/text.js');
const onnxImage = () => import('./image/onnx.js');

/**
 * An embedded base: what it takes in and how to load it. An audio base is an image base whose
 * images are spectrograms. `pretrainedFor: 'detection'` marks a detector's trunk (COCO boxes, not
 * ImageNet classes): a base for `--head detect` first, so the studio's classification projects do
 * not offer it.
 */
export type BaseEntry =
  | { modality: 'image' | 'audio'; pretrainedFor?: 'detection'; load: () => Promise<ImageBase> }
  | { modality: 'text'; load: () => Promise<TextBase> };

export const BASES: Record<string, BaseEntry> = {
  mobilenet_v2: { modality: 'image', load: async () => (await import('./image/mobilenet-v2.js')).loadMobilenetV2() },
  inception_v3: { modality: 'image', load: async () => (await import('./image/inception-v3.js')).loadInceptionV3() },
  'digits-cnn': { modality: 'image', load: async () => (await import('./image/digits-cnn.js')).loadDigitsCnn() },
  nanodet: { modality: 'image', pretrainedFor: 'detection', load: async () => (await import('./image/nanodet.js')).loadNanodet() },
  // The stronger speech base first: the studio offers each modality's first base as the default.
  'speech-embedding': { modality: 'audio', load: async () => (await import('./audio/speech-embedding.js')).loadSpeechEmbedding() },
  'speech-cnn': { modality: 'audio', load: async () => (await import('./audio/speech-cnn.js')).loadSpeechCnn() },
  'use-lite': { modality: 'text', load: async () => (await import('./text/use-lite.js')).useLiteBase() },
  'glove-100d': { modality: 'text', load: async () => (await import('./text/glove.js')).gloveBase() },
};

/**
 * Whether `spec` is a text base: an embedded one, or a Hub model (or a folder in its layout) with
 * a tokenizer.json and no preprocessor_config.json (asked of the Hub, or of the cache offline).
 */
export async function isTextBase(spec: string): Promise<boolean> {
  const entry = embeddedBase(spec);
  if (entry) return entry.modality === 'text';
  if (spec.startsWith('hf:')) {
    // Neither file (offline, nothing cached): an image base, whose loader names what is missing.
    const { hubFiles, parseHfSpec } = await import('./hub/download.js');
    const found = await hubFiles(parseHfSpec(spec), [PREPROCESSOR, 'tokenizer.json'], { optional: true });
    return !found[PREPROCESSOR] && !!found['tokenizer.json'];
  }
  return !isHubFolder(spec) && isHubTextFolder(spec);
}

/** An embedded base by name: own entries only (`constructor` or `__proto__` is a path, not Object's). */
export const embeddedBase = (spec: string): BaseEntry | undefined => (Object.hasOwn(BASES, spec) ? BASES[spec] : undefined);

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
  if (embeddedBase(spec)?.modality === 'text') throw usageError(`${spec} is a text base; this needs an image base (${known()})`);
  if (spec.startsWith('hf:')) return (await hubImage()).loadHubBase(spec, options);
  if (isHubFolder(spec)) return (await hubImage()).loadHubFolderBase(spec, options);
  if (spec.startsWith('onnx:')) return (await onnxImage()).loadOnnxBase(spec.slice('onnx:'.length), options);
  if (spec.endsWith('.onnx')) return (await onnxImage()).loadOnnxBase(spec, options);
  if (options.size || options.layout || options.cut)
    throw usageError(`--input-size and --layout are for ONNX bases; ${spec} says its own input`);
  // Narrowed by the text check above: an embedded entry here loads an image (or spectrogram) base.
  const entry = embeddedBase(spec) as Extract<BaseEntry, { modality: 'image' | 'audio' }> | undefined;
  const base = entry ? await entry.load() : await (await import('./image/tfjs.js')).loadTfjsBase(spec);
  if (!base) throw usageError(`unknown base "${spec}" (${known()})`);
  // Any base may be fed with another normalisation (e.g. a model.json trained on ImageNet statistics).
  if (options.normalize) base.normalize = (await onnxImage()).checkNormalize(options.normalize, base.input.channels, spec);
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
  if (spec.startsWith('hf:')) return (await hubText()).loadHubTextBase(spec);
  if (!embeddedBase(spec) && isHubTextFolder(spec)) return (await hubText()).loadHubTextFolderBase(spec);
  const entry = embeddedBase(spec);
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

// What graft knows of a pre-trained model it transfers from. `Base` is a union on `kind`: a
// fine-tunable TF.js LayersModel, a frozen TF.js GraphModel or ONNX model (image bases), or a
// frozen text encoder. Code that needs one of them takes that type, so a wrong combination (a
// multi-task graft on an ONNX base, a text base where images go) is a type error.
import type * as tf from '@tensorflow/tfjs';
import type { Layout } from '../backend/onnx-runtime.js';
import type { ImageSize, Medium, ResizeMode } from '../data/types.js';

/** Per-channel normalisation, applied as (pixel/255 - mean) / std. */
export interface Normalize {
  mean: number[];
  std: number[];
}

/** A run of layers that is frozen or unfrozen together (indices into model.layers, inclusive). */
export interface Block {
  name: string;
  start: number;
  end: number;
}

/** What a head on top of this base should look like unless the user says otherwise. */
export interface HeadSpec {
  kind: 'linear' | 'mlp';
  /** Hidden units of an MLP head. */
  units?: number[];
  dropout?: number;
  /** How spatial features become a vector: global average pooling or flattening. */
  pool?: 'avg' | 'flatten';
}

/**
 * Anything that maps a batch to a batch: a LayersModel, a part of one, a graph trunk, a trunk on
 * ONNX Runtime (asynchronous), a whole graft. The caller owns (and disposes) the result.
 */
export interface Predictor {
  predict(x: tf.Tensor): tf.Tensor | Promise<tf.Tensor>;
}

/** A frozen base's trunk run up to a cut, as graft trains heads on it. */
export interface FrozenTrunk extends Predictor {
  /** Stable identity of the weights and the cut: part of every feature-cache key. */
  id: string;
  /** The same as `predict` on plain NHWC arrays: engines outside TF.js skip two copies per batch. */
  predictRaw?(x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release?(): Promise<void>;
}

/** What every image base says about itself. */
interface ImageBaseInfo {
  /** Name or spec it was loaded from (`mobilenet_v2`, a path to model.json, `onnx:PATH`). */
  name: string;
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  /** Block boundaries, bottom to top, for unfreezing by block (LayersModels with a known structure). */
  blocks: Block[];
  /** Layer (or tensor) the `auto` cut resolves to: the last feature layer before the original classifier. */
  suggestedCut: string;
  /** Head used when none is given. */
  head: HeadSpec;
  /** Where the weights come from, in one sentence. */
  provenance: string;
  /** What its inputs are drawn from: absent for photographs, audio for a spectrogram base (its files are recordings). */
  medium?: Medium;
}

/** A TF.js LayersModel: cut at any cut point, fine-tunable block by block. */
export interface LayersBase extends ImageBaseInfo {
  kind: 'layers';
  model: tf.LayersModel;
}

/** A TF.js GraphModel: a frozen feature extractor cut at any node. */
export interface GraphBase extends ImageBaseInfo {
  kind: 'graph';
  graph: tf.GraphModel;
  frozenTrunk(cut: string): Promise<FrozenTrunk>;
}

/** The ONNX model behind an `onnx:` base. */
export interface OnnxModelInfo {
  bytes: Uint8Array;
  layout: Layout;
  /** Every tensor a node computes, in graph order, and `TENSOR:cls`/`TENSOR:mean` of token sequences: the cut candidates. */
  tensors: string[];
  ops: Map<string, string>;
  /**
   * What `rank --cuts blocks` scores: the output of each numbered layer or stage where the graph's
   * node names say, a transformer's outputs (pooled, first token, token mean), and the suggested cut.
   */
  blockCuts: string[];
}

/**
 * A detector base's own classifier, as 1x1 convolutions from one of its cuts (a map joining its
 * heads' last hidden maps at one stride) to its classes' logits, a convolution per level: what a
 * new detection head starts from for a class the base already detects.
 */
export interface DetectorClassifier {
  /** The base's classes, in its order (nanodet: COCO's 80). */
  classes: readonly string[];
  /** The cut the convolutions read. */
  cut: string;
  /** Per level: its stride, its channels of the cut (from `offset`, `channels` wide), kernel [channels, classes] row-major and bias [classes]. */
  levels: readonly { stride: number; offset: number; channels: number; kernel: Float32Array; bias: Float32Array }[];
}

/** An ONNX model on ONNX Runtime: a frozen feature extractor cut at any tensor. */
export interface OnnxBase extends ImageBaseInfo {
  kind: 'onnx';
  onnx: OnnxModelInfo;
  frozenTrunk(cut: string): Promise<FrozenTrunk>;
  /** When the base is a detector: its classifier, which a new head's classes can start from. */
  classifier?: DetectorClassifier;
}

/** Image bases whose weights graft never trains: only a head goes on them. */
export type FrozenBase = GraphBase | OnnxBase;
export type ImageBase = LayersBase | FrozenBase;

/** A frozen text encoder: texts in, one fixed-length vector per text out. */
export interface TextEncoder {
  name: string;
  /** Where in the base the vectors are taken (a Hub model's output and pooling), when it has a choice. */
  cut?: string;
  /** Identity of the weights and the cut in the feature cache (default: the name). */
  id?: string;
  /** Length of each text's vector. */
  dim: number;
  /** Longest input in tokens the base takes; longer texts are truncated (reported through onTruncate). */
  maxTokens: number;
  /** One row per text. The caller disposes the tensor. */
  embed(
    texts: string[],
    o?: { batchSize?: number; onProgress?: (done: number, total: number) => void; onTruncate?: (index: number) => void },
  ): Promise<tf.Tensor2D>;
  dispose(): void;
}

/** Word vectors: row r of `vectors` (dim values from r·dim) belongs to words[r]. */
export interface GloveVectors {
  dim: number;
  vectors: Float32Array;
  words: string[];
  /** word → row. */
  index: Map<string, number>;
  /** The file's vector for unknown words (zeros in wink's file): the OOV vector's starting value. */
  unknown: Float32Array;
}

export const TEXT_BASE_NAMES = ['use-lite', 'glove-100d'] as const;
export type TextBaseName = (typeof TEXT_BASE_NAMES)[number];

interface TextBaseInfo {
  kind: 'text';
  /** Length of each text's vector. */
  dim: number;
  /** Longest text, in tokens, the encoder reads. */
  maxTokens: number;
  provenance: string;
  /** The frozen encoder (loaded on call: weights or vectors are read then). */
  encoder(): Promise<TextEncoder>;
}

/** Universal Sentence Encoder lite: a frozen graph, only a head trains on it. */
export interface UseLiteBase extends TextBaseInfo {
  name: 'use-lite';
}

/** GloVe word vectors: frozen (their mean under a head) or fine-tuned with it. */
export interface GloveBase extends TextBaseInfo {
  name: 'glove-100d';
  vectors(): Promise<GloveVectors>;
}

/**
 * A text transformer from the Hugging Face Hub (`hf:ORG/NAME`, or a folder in its ONNX layout) on
 * ONNX Runtime, tokenised by its own tokenizer.json: frozen, cut at an output (pooled, first token,
 * mean of the tokens) or at a layer's tokens.
 */
export interface HubTextBase extends TextBaseInfo {
  /** The spec it was loaded from. */
  name: string;
  source: 'hub';
  /** Every cut: outputs, their token poolings, each layer's token mean. */
  cuts: string[];
  /** What `rank --cuts blocks` scores. */
  blockCuts: string[];
  suggestedCut: string;
  encoder(cut?: string): Promise<TextEncoder>;
}

export type TextBase = UseLiteBase | GloveBase | HubTextBase;

/** A pre-trained model plus what graft needs to know to transfer from it. */
export type Base = ImageBase | TextBase;

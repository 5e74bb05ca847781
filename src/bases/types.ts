import type * as tf from '@tensorflow/tfjs';
import type { ImageSize, ResizeMode } from '../data/types.js';
import type { Predictor } from '../graft/graft.js';
import type { OnnxBaseInfo } from './onnx.js';

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

/** A frozen base's trunk run up to a cut, as graft trains heads on it. */
export interface FrozenTrunk extends Predictor {
  /** Stable identity of the weights and the cut: part of every feature-cache key. */
  id: string;
  /** The same as `predict` on plain NHWC arrays: engines outside TF.js skip two copies per batch. */
  predictRaw?(x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release?(): Promise<void>;
}

/** A pre-trained model plus what graft needs to know to transfer from it. */
export interface Base {
  /** Name or spec it was loaded from (`mobilenet_v2`, a path to model.json). */
  name: string;
  kind: 'layers' | 'graph' | 'onnx';
  /** The fine-tunable model (kind 'layers'). */
  model?: tf.LayersModel;
  /** A frozen feature extractor (kind 'graph'). */
  graph?: tf.GraphModel;
  /** The ONNX model behind an `onnx:` base (kind 'onnx'). */
  onnx?: OnnxBaseInfo;
  /** Frozen bases (graph, onnx): the trunk run up to a cut. */
  frozenTrunk?: (cut: string) => Promise<FrozenTrunk>;
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  /** Block boundaries, bottom to top, for unfreezing by block. */
  blocks: Block[];
  /** Layer the `auto` cut resolves to: the last feature layer before the original classifier. */
  suggestedCut: string;
  /** Head used when none is given. */
  head: HeadSpec;
  /** Where the weights come from, in one sentence. */
  provenance: string;
}

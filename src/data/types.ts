// The shapes data takes inside graft. Images are kept as uint8 pixels already resized to the
// base's input (height x width x channels); they become float tensors batch by batch. A set too
// big for memory is streamed: its images stay in their files and are decoded a batch at a time.
import type { Callback } from '../core/callbacks.js';

/** How an image is fitted to the base's input size (sharp's `fit`). */
export type ResizeMode = 'cover' | 'fill' | 'contain';

export interface ImageSize {
  height: number;
  width: number;
  channels: 1 | 3;
}

/** A labelled set of images, pixels held in one buffer in NHWC order (or streamed from files). */
export interface ImageSet {
  classes: string[];
  size: ImageSize;
  /** n * height * width * channels bytes; empty for a streamed set. */
  pixels: Uint8Array;
  /** A streamed set: `ids` are the files, decoded with `resize` when a batch is read; `digests` identify their bytes. */
  stream?: { resize: ResizeMode; digests: string[] };
  /** Class index per image, into `classes`. */
  labels: Int32Array;
  /** Where each image came from (a file path, or `mnist:<index>`). */
  ids: string[];
}

export type { Skipped } from '../core/callbacks.js';
import type { LogMelSpec } from './audio/logmel.js';
import type { SpeechMelSpec } from './audio/speech-mel.js';
import type { WaveformSpec } from './audio/waveform.js';

/**
 * How a base hears a clip: graft's log-mel spectrogram (computed in plain code, in the browser
 * too), a base's own front-end model (the speech embedding's mel model, on ONNX Runtime), or the
 * samples themselves as mu-law codes (a Hub encoder that takes raw samples).
 */
export type AudioSpec = LogMelSpec | SpeechMelSpec | WaveformSpec;

/** What a data set's files hold: photographs, or recordings drawn as spectrograms of a spec (data/medium.ts). */
export type Medium = { kind: 'image' } | { kind: 'audio'; spec: AudioSpec };

/** `--where COLUMN=VALUE[,VALUE…]`: keep a manifest's rows whose COLUMN holds one of the values. */
export interface RowFilter {
  column: string;
  values: string[];
}

export interface Splits {
  train: ImageSet;
  val: ImageSet;
  test: ImageSet;
  /** Pre-split data with train/ and val/ but no test/: `test` is the same set as `val`. */
  testIsVal?: boolean;
}

/**
 * What a data spec holds before splitting: one labelled set (to be split by seed), or sets the
 * user already split on disk (`train/` plus `val/` and/or `test/`), all sharing train's classes.
 */
export type LoadedData = { kind: 'set'; set: ImageSet } | { kind: 'presplit'; train: ImageSet; val?: ImageSet; test?: ImageSet };

export interface LoadOptions {
  size: ImageSize;
  /** What the files hold (default images); audio is drawn as spectrograms of `clipImageSize(spec)`. */
  medium?: Medium;
  /** A manifest's rows to keep (`--where`); folders have no columns to select on. */
  where?: readonly RowFilter[];
  resize?: ResizeMode;
  /** Fail (exit 1) on unreadable files instead of skipping them. */
  strict?: boolean;
  /** Keep only these class names (or for mnist, digits), in this order. */
  classes?: string[];
  /** Each skipped file (onSkip; the CLI gathers them into one warning) and decoding progress (onProgress, 'decoding images'). */
  callbacks?: readonly Callback[];
  /**
   * Keep images in their files and decode a batch at a time, so memory does not grow with the set
   * (files are still decoded once on loading, to find unusable ones). Default: when the decoded
   * set would take more than STREAM_ABOVE_BYTES.
   */
  stream?: boolean;
}

export interface SplitOptions {
  seed: number;
  /** Fractions of each class held out, when the data is not pre-split. */
  valFraction?: number;
  testFraction?: number;
  /** Keep N training examples per class (val and test untouched). */
  perClass?: number;
}

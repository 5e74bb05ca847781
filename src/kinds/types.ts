// The shape every kind of trained model has (an image classifier, which reads recordings too when
// its medium is audio, a text classifier, a multi-task model, a detector): the same small
// interface, so the CLI's train, predict, eval, export and inspect (and a server or a studio) call
// it without knowing which kind they hold. A kind is one module in src/kinds/ and one line in the
// registry (src/kinds/index.ts).
import type { Callback } from '../core/callbacks.js';
import type { RowFilter } from '../data/types.js';

/** graft.json's `kind`: which module reads the directory. */
export type ModelKindName = 'image' | 'text' | 'multi-task' | 'detection';

/** What every kind's graft.json holds beside its own description (labels, tasks, input, …). */
export interface ModelMeta {
  /** The base it was grafted on (its name or spec), or 'tfidf' for a text model trained from scratch. */
  base: string;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
  versions: { graft: string; tfjs: string };
}

/** What goes into graft.json beside the model's own description. */
export interface SaveOptions {
  /** Replace `dir` if it exists (it is otherwise a usage error). */
  force?: boolean;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

export interface EvaluateOptions {
  /** Which part of the data: the same split training made with the same seed (default test), or all of it. */
  split?: 'train' | 'val' | 'test' | 'all';
  /** Split seed (default: the one the model was trained with). */
  seed?: number;
  /** Unreadable files fail the run instead of being skipped. */
  strict?: boolean;
  /** Only these classes of the data (classifiers). */
  classes?: string;
  /** A manifest's rows to evaluate on (`--where`). */
  where?: readonly RowFilter[];
  /** Text tables: the columns holding the text and the label. */
  textColumn?: string;
  labelColumn?: string;
  /** Skipped files and text warnings while the data loads. */
  callbacks?: readonly Callback[];
}

/** The evaluation options a kind takes beyond split, seed and callbacks (the CLI refuses the others). */
export type DataOption = 'strict' | 'classes' | 'where' | 'textColumn' | 'labelColumn';

/**
 * One input to predict. A string is a file's path (images, recordings) or, for a text model, the
 * text itself. An object is a file's bytes already in memory (an upload, a request's body): `name`
 * is what messages and the prediction call it (default `input N`, counting from 1), and `type` its
 * media type (`audio/mpeg`) or extension (`.mp3`), read when the bytes' own signature does not say
 * (images always say; a text model reads bytes as UTF-8). Bytes are decoded exactly as the file
 * holding them would be.
 */
export type ModelInput = string | { bytes: Uint8Array; name?: string; type?: string };

/** How many answers a prediction shows: the top classes (classifiers), or boxes above a score (detectors). */
export interface PredictOptions {
  top?: number;
  threshold?: number;
}

/** One output of a model, as a person (or a UI) needs to know it. */
export interface OutputDescription {
  name: string;
  kind: 'classification' | 'multi-label' | 'regression' | 'detection';
  /** Class names (classification, multi-label, detection) in output order. */
  labels?: string[];
  /** Numbers per sample (regression). */
  units?: number;
}

/** A trained model described: what `graft inspect DIR` shows. */
export interface ModelDescription {
  kind: ModelKindName;
  base: string;
  /** What it reads: images of a size, normalised so, recordings drawn as spectrograms, or texts. */
  input:
    | { type: 'image'; height: number; width: number; channels: number; resize: string }
    | { type: 'audio'; sampleRate: number; seconds: number; heard: 'log-mel' | 'front-end model'; frames: number; mels: number }
    | { type: 'audio'; sampleRate: number; seconds: number; heard: 'samples'; samples: number }
    | { type: 'text' };
  outputs: OutputDescription[];
  /** How it was built on its base, in a few words (where it was cut, what trained). */
  summary: string;
  /** graft.json's metrics, as saved. */
  metrics: Record<string, unknown>;
}

/** An ONNX export: one model file and the sidecar that says how to feed it. */
export interface OnnxExport {
  bytes: Uint8Array;
  sidecar: object;
  /** One line on what was written (input, output). */
  summary: string;
  /** What `--json` shows of it (input, output, labels). */
  json: Record<string, unknown>;
}

/**
 * A trained model of any kind, fresh from training or loaded from its directory. `P` is one
 * input's prediction and `E` an evaluation, both plain JSON-ready data; `format…` turns them into
 * the lines a person reads.
 */
export interface TrainedModel<P = unknown, E = unknown, D = unknown> {
  readonly kind: ModelKindName;
  describe(): ModelDescription;
  /** Answers for inputs: files or their bytes, or the texts themselves for a text model. */
  predict(inputs: readonly ModelInput[], o?: PredictOptions): Promise<P[]>;
  /**
   * predict in two steps, for a server that checks each input on its own before inputs share a
   * batch: `decode` reads input number `index` as predict does (pixels of the model's input, a
   * text), a GraftError naming it when it cannot be used; `predictDecoded` answers what decode
   * made. predict(inputs) is predictDecoded of inputs.map(decode).
   */
  decode(input: ModelInput, index: number): Promise<D>;
  predictDecoded(decoded: readonly D[], o?: PredictOptions): Promise<P[]>;
  /** The model on labelled data (a data spec as training takes it). */
  evaluate(data: string, o?: EvaluateOptions): Promise<E>;
  /** The model as one ONNX file (a usage error for kinds without one). */
  export(format: 'onnx'): Promise<OnnxExport>;
  /** The directory: a plain TF.js model and graft.json, written whole or not at all. */
  save(dir: string, o?: SaveOptions): Promise<void>;
  /** Lines for one prediction. */
  formatPrediction(p: P): string[];
  /** A report of an evaluation; `what` says on what. */
  formatEvaluation(e: E, what: string): string;
  /** What `--json` shows of an evaluation. */
  evaluationJson(e: E): Record<string, unknown>;
  /** Evaluation options this kind reads (the others do not apply to it). */
  readonly dataOptions: readonly DataOption[];
  dispose(): Promise<void>;
}

/** What a front end (`graft train`, the studio) is asked to train, as far as it decides the kind. */
export interface TrainRequest {
  /** The head asked for (`detect` asks for a detector). */
  head?: string;
  /** How many tasks are named (multi-task training). */
  tasks: number;
  /** Whether the base reads texts. */
  textBase: boolean;
}

/** The budget a kind trains with when none is given: its trainer's defaults, which `graft train --help` shows. */
export interface TrainDefaults {
  epochs: number;
  batchSize: number;
  learningRate: number;
  patience: number;
  unfreeze: number | 'auto';
  fineTuneFactor: number;
}

/** The options beyond the budget that a front end may set, by their names in the one-call trainers. */
export type TrainOption =
  | 'cut'
  | 'head'
  | 'scratch'
  | 'headStart'
  | 'perClass'
  | 'classes'
  | 'where'
  | 'stream'
  | 'strict'
  | 'engine'
  | 'tasks'
  | 'weights'
  | 'augment'
  | 'textColumn'
  | 'labelColumn';

/** How a kind trains: what a front end looks up in the registry (trainingKind) instead of choosing by hand. */
export interface KindTraining<O, R> {
  /** What it trains, as a message names it ("detection (--head detect)"). */
  title: string;
  /** Whether a request is this kind's; the kinds' claims do not overlap. */
  claims(r: TrainRequest): boolean;
  /** The kind of base it grafts on. */
  base: 'image' | 'text';
  defaults: TrainDefaults;
  /** The options it reads beyond the budget; a front end refuses the others rather than ignore them. */
  accepts: readonly TrainOption[];
  /** Its one-call trainer. */
  train(o: O): Promise<R>;
}

/** A kind in the registry: how to recognise and load its directories, and how it trains. */
export interface ModelKind<M extends TrainedModel = TrainedModel, O = never, R = unknown> {
  name: M['kind'];
  /** Whether graft.json (parsed) describes a model of this kind. */
  matches(meta: { kind?: unknown }): boolean;
  load(dir: string, meta: unknown): Promise<M>;
  training: KindTraining<O, R>;
}

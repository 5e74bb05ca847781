// The flags of `graft train`, as its three paths (images, texts, tasks) read them, and what the
// paths show alike.
import { FeatureCache } from '../../../engine/feature-cache.js';
import type { Engine } from '../../../engine/frozen.js';
import type { RowFilter } from '../../../data/types.js';
import type { Metrics } from '../../../evaluate/metrics.js';
import { pct, table, type BaseFlags, type GlobalOptions } from '../../shared.js';

export interface TrainFlags extends GlobalOptions, BaseFlags {
  engine: Engine;
  cache: boolean;
  cacheDir?: string;
  stream?: boolean;
  base: string;
  data: string;
  out: string;
  perClass?: number;
  epochs: number;
  cut: string;
  head?: string;
  augment?: number;
  unfreeze: number | 'auto';
  batchSize: number;
  lr: number;
  patience: number;
  seed: number;
  classes?: string;
  where: RowFilter[];
  scratch: boolean;
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

// The one-call path (Keras's fit with defaults): base + data in, a trained, evaluated classifier
// out. Built only from the mid-level pieces (loadBase, loadDataSplits, graft, trainGrafted,
// evaluateModel), which stay available for anything this call does not cover.
import { loadBase } from '../bases/index.js';
import type { Base, HeadSpec } from '../bases/types.js';
import { loadDataSplits } from '../data/index.js';
import type { Skipped, Splits } from '../data/types.js';
import { evaluateGrafted } from '../evaluate/evaluate.js';
import { rankCandidates, rankCuts, type CutScore, type TransferCheck } from '../evaluate/rank.js';
import type { Metrics } from '../evaluate/metrics.js';
import { disposeGrafted, graft, type Grafted } from '../graft/graft.js';
import type { CutSpec } from '../graft/cut.js';
import { withSeed } from './seed.js';
import { trainGrafted, type TrainOptions, type TrainResult } from './train.js';

export interface ClassifierOptions extends TrainOptions {
  base: string | Base;
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
  onSkip?: (s: Skipped) => void;
  onLoad?: (done: number, total: number) => void;
}

export interface ClassifierResult {
  grafted: Grafted;
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
async function chooseCut(base: Base, splits: Splits, o: ClassifierOptions): Promise<ClassifierResult['cutChoice']> {
  // Scratch ranks too, so the baseline has the same architecture as the transfer it is compared with.
  if ((o.cut ?? 'auto') !== 'auto' || !base.model || rankCandidates(base, 'blocks').length < 2) return undefined;
  // The negative-transfer check is about pre-trained features: a scratch run has none to check.
  const ranking = await rankCuts(base, splits.train, { cuts: 'blocks', seed: o.seed, baseline: !o.scratch, engine: o.engine });
  return { cut: ranking.rows[0].cut, by: 'LogME', suggested: base.suggestedCut, ranking: ranking.rows, check: ranking.baseline };
}

export async function trainClassifier(o: ClassifierOptions): Promise<ClassifierResult> {
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadBase(o.base) : o.base;
  const splits =
    typeof o.data === 'string'
      ? await loadDataSplits(o.data, {
          size: base.input,
          resize: base.resize,
          strict: o.strict,
          stream: o.stream,
          classes: o.classes,
          onSkip: o.onSkip,
          onProgress: o.onLoad,
          seed,
          perClass: o.perClass,
        })
      : o.data;
  const cutChoice = await chooseCut(base, splits, o);
  return withSeed(seed, async () => {
    const grafted = await graft(base, { classes: splits.train.classes, cut: cutChoice?.cut ?? o.cut, head: o.head, scratch: o.scratch });
    try {
      const training = await trainGrafted(grafted, splits, { ...o, seed });
      const evalOptions = { boundary: training.trainableFrom, engine: o.engine, cache: o.cache };
      const metrics = await evaluateGrafted(grafted, { val: splits.val, test: splits.test }, evalOptions);
      const counts = { train: splits.train.labels.length, val: splits.val.labels.length, test: splits.test.labels.length };
      return { grafted, training, metrics, counts, cutChoice };
    } catch (e) {
      await disposeGrafted(grafted);
      throw e;
    }
  });
}

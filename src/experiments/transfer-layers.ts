// Do the transferability scores predict which cut transfers best? For each block output of
// MobileNetV2: its LogME on the training images (no training), and the validation accuracy a head
// trained there actually reaches; Kendall's tau between the two, and how close the cut the score
// picks comes to the best one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMobilenetV2 } from '../bases/image/mobilenet-v2.js';
import { loadDataSplits } from '../data/index.js';
import { loadMnist } from '../data/mnist.js';
import { splitDataset } from '../data/split.js';
import { resizeSet } from '../data/resize.js';
import type { ImageSize, Splits } from '../data/types.js';
import { rankCuts } from '../evaluate/rank.js';
import { pct, table } from '../evaluate/report.js';
import { kendallTau, mean } from '../math/stats.js';
import { trainImageClassifier } from '../kinds/image.js';
import { FeatureCache } from '../engine/feature-cache.js';
import { tell } from '../core/callbacks.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

/**
 * A linear head as train makes it (solved as the cross-validated probe, then Adam epochs kept only
 * if they beat it on validation loss), given room to converge.
 */
const HEAD = { epochs: 30, patience: 5, unfreeze: 0 };
/** Offline default: digits 5-9 of the mnist package, 40 training images per class. */
const DEFAULT_PER_CLASS = 40;

/** Digits split at 28x28 (cheap), then only the images used are brought to the base's input. */
async function defaultData(size: ImageSize, seed: number): Promise<Splits> {
  const digits = await loadMnist({ size: { height: 28, width: 28, channels: 1 }, classes: ['5', '6', '7', '8', '9'] });
  const s = splitDataset(digits, { seed, perClass: DEFAULT_PER_CLASS, valFraction: 0.05, testFraction: 0.05 });
  return { train: await resizeSet(s.train, size), val: await resizeSet(s.val, size), test: await resizeSet(s.test, size) };
}

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const seeds = opts.seeds ?? [1, 2, 3];
  const seed = seeds[0];
  const base = await loadMobilenetV2();
  const data = opts.data ?? `mnist digits 5-9, ${DEFAULT_PER_CLASS} per class`;
  tell(opts.callbacks, 'onStep', `loading ${data}`);
  const splits = opts.data
    ? await loadDataSplits(opts.data, { size: base.input, resize: base.resize, seed })
    : await defaultData(base.input, seed);
  tell(opts.callbacks, 'onStep', 'scoring every block output (LogME, H-score)');
  const ranking = await rankCuts(base, splits.train, { cuts: 'blocks', seed });
  // One head per seed at each cut (the split stays seed 1's): their mean accuracy is less noisy
  // than one run's. The features are computed once per cut and read from a scratch cache after.
  const cache = new FeatureCache({ dir: mkdtempSync(join(tmpdir(), 'graft-transfer-layers-')) });
  const rows = [];
  try {
    for (const score of ranking.rows) {
      const accuracies = [];
      for (const s of seeds) {
        tell(opts.callbacks, 'onStep', `training a head at ${score.cut}, seed ${s}`);
        const r = await trainImageClassifier({
          base,
          data: splits,
          cut: score.cut,
          seed: s,
          cache,
          ...HEAD,
          trainEngine: opts.trainEngine,
          callbacks: opts.callbacks,
        });
        accuracies.push(r.metrics.val.accuracy);
        await r.model.dispose();
      }
      rows.push({ cut: score.cut, score: score.logme, hScore: score.hScore, accuracy: mean(accuracies), runs: accuracies });
    }
  } finally {
    await cache.clear();
    rmSync(cache.dir, { recursive: true, force: true });
  }
  const tau = kendallTau(
    rows.map((r) => r.score),
    rows.map((r) => r.accuracy),
  );
  const chosen = rows[0]; // rankCuts sorts by LogME
  const best = rows.reduce((a, b) => (b.accuracy > a.accuracy ? b : a));
  const suggested = rows.find((r) => r.cut === base.suggestedCut);
  const markdown = [
    `transfer-layers: mobilenet_v2 on ${data}, split by seed ${seed} (${splits.train.labels.length} training / ${splits.val.labels.length} validation images). Each block output: LogME of its globally pooled features on the training images, and the validation accuracy of a linear head trained there (started from the cross-validated linear probe, then up to ${HEAD.epochs} Adam epochs, patience ${HEAD.patience}; trunk frozen), mean over seeds ${seeds.join(', ')}. Sorted by score.`,
    '',
    table(
      ['cut', 'LogME', 'H-score', 'accuracy'],
      rows.map((r) => [r.cut, r.score.toFixed(4), r.hScore.toFixed(3), pct(r.accuracy)]),
    ),
    '',
    `Kendall's tau (LogME vs accuracy): ${tau.toFixed(3)}`,
    `chosen by LogME: ${chosen.cut}, ${pct(chosen.accuracy)}; best: ${best.cut}, ${pct(best.accuracy)} (${((best.accuracy - chosen.accuracy) * 100).toFixed(1)} points from the chosen)${suggested ? `; the base's usual cut ${suggested.cut}: ${pct(suggested.accuracy)}` : ''}`,
  ].join('\n');
  return {
    json: {
      experiment: 'transfer-layers',
      data,
      seeds,
      rows: rows.map(({ cut, score, accuracy }) => ({ cut, score, accuracy })),
      kendallTau: tau,
      chosen: chosen.cut,
      chosenAccuracy: chosen.accuracy,
      best: best.cut,
      bestAccuracy: best.accuracy,
    },
    markdown,
  };
}

export const transferLayers: Experiment = {
  name: 'transfer-layers',
  description: 'LogME of every MobileNetV2 block output against the accuracy a head reaches there (Kendall tau)',
  takesData: true,
  run,
};

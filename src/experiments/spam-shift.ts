// Domain shift in text: spam filters trained on spam-assassin's easy ham and first spam
// collection (source), applied to its hard ham and second spam collection (target): ham that
// looks like spam (newsletters, commercial mail) and spam from later. The domain-adaptation
// methods of graft adapt run on use-lite's sentence vectors (a frozen base, so the adaptation
// network above it is what adapts), against source-only training and an oracle trained on
// labelled target mail (checkpointed on held-out target mail). Half the target mail (per class)
// is the unlabelled target the methods see, the other half is what they are scored on.
import * as tf from '@tensorflow/tfjs';
import { loadSpamAssassin } from '../data/text/spam-assassin.js';
import { positionsIn, splitText, subsetText } from '../data/text/split.js';
import type { TextSet } from '../data/text/types.js';
import { classificationMetrics } from '../evaluate/metrics.js';
import { pct, table } from '../evaluate/report.js';
import { mean } from '../math/stats.js';
import { accuracyOn, trainAdaptation } from '../strategies/adapt/adapt.js';
import { ADAPT_METHODS, ADAPTATION_METHODS } from '../strategies/adapt/methods/index.js';
import { FeatureCache } from '../engine/feature-cache.js';
import { useLiteBase } from '../bases/text/use-lite.js';
import { embedTexts } from '../engine/embed.js';
import { tell } from '../core/callbacks.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const SOURCE = ['easy-ham-1', 'easy-ham-2', 'spam-1'];
const TARGET = ['hard-ham-1', 'spam-2'];
const METHODS = [...ADAPT_METHODS, 'target-oracle'] as const;
type Method = (typeof METHODS)[number];
/** Passes over the source (about 45 batches each) and self-training's rounds, as in mnist-mnistm. */
const EPOCHS = 10;
const SELF_TRAIN = { rounds: 2, threshold: 0.9 };

function inGroups(corpus: TextSet, groups: string[]): number[] {
  return corpus.groups!.flatMap((g, i) => (groups.includes(g) ? [i] : []));
}

interface Cell {
  target: { accuracy: number; macroF1: number };
  source: { accuracy: number };
}

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const seeds = opts.seeds ?? [1, 2, 3];
  tell(opts.callbacks, 'onStep', 'reading spam-assassin');
  const corpus = await loadSpamAssassin();
  tell(opts.callbacks, 'onStep', `use-lite: vectors for ${corpus.texts.length} mails (cached after the first run)`);
  const encoder = await useLiteBase().encoder();
  const vectors = await embedTexts(encoder, corpus.texts, { cache: new FeatureCache() });
  encoder.dispose();
  const take = (set: TextSet) => tf.gather(vectors, positionsIn(corpus, set));
  const source = subsetText(corpus, inGroups(corpus, SOURCE));
  const target = subsetText(corpus, inGroups(corpus, TARGET));
  const cells = new Map<Method, Cell[]>(METHODS.map((m) => [m, []]));
  try {
    for (const seed of seeds) {
      const s = splitText(source, { seed, valFraction: 0.15, testFraction: 0.15 });
      // The target's halves: unlabelled (adaptation, or the oracle's training with labels) and evaluation.
      const t = splitText(target, { seed, valFraction: 0, testFraction: 0.5 });
      // The oracle trains on labelled target mail, so it picks its checkpoint on target mail too.
      const o = splitText(t.train, { seed, valFraction: 0.15, testFraction: 0 });
      const x = {
        train: take(s.train),
        val: take(s.val),
        test: take(s.test),
        target: take(t.train),
        evalTarget: take(t.test),
        oracle: take(o.train),
        oracleVal: take(o.val),
      };
      try {
        for (const method of METHODS) {
          tell(opts.callbacks, 'onStep', `${method}, seed ${seed}`);
          const oracle = method === 'target-oracle';
          const train = oracle ? { x: x.oracle, y: o.train.labels } : { x: x.train, y: s.train.labels };
          const val = oracle ? { x: x.oracleVal, y: o.val.labels } : { x: x.val, y: s.val.labels };
          // The oracle's few hundred mails get as many steps as the source's thousands.
          const epochs = oracle ? Math.round((EPOCHS * s.train.texts.length) / o.train.texts.length) : EPOCHS;
          const r = await trainAdaptation({ train, val }, x.target, 2, {
            method: oracle ? 'none' : method,
            seed,
            epochs,
            selfTrain: SELF_TRAIN,
            trainEngine: opts.trainEngine,
          });
          const sourceAccuracy = accuracyOn(r.model, x.test, s.test.labels);
          if (!oracle) ADAPTATION_METHODS[method].adaptTo?.(r.model, x.target);
          const predicted = tf.tidy(() => (r.model.predict(x.evalTarget, { batchSize: 256 }) as tf.Tensor).argMax(1).dataSync());
          const m = classificationMetrics(t.test.labels, predicted, corpus.classes);
          cells.get(method)!.push({ target: { accuracy: m.accuracy, macroF1: m.macroF1 }, source: { accuracy: sourceAccuracy } });
          r.model.dispose();
        }
      } finally {
        tf.dispose(Object.values(x));
      }
    }
  } finally {
    vectors.dispose();
  }
  const rows = METHODS.map((method) => {
    const c = cells.get(method)!;
    return {
      method,
      target: { accuracy: mean(c.map((r) => r.target.accuracy)), macroF1: mean(c.map((r) => r.target.macroF1)) },
      source: { accuracy: mean(c.map((r) => r.source.accuracy)) },
      runs: c.map((r) => r.target.macroF1),
    };
  });
  const none = rows[0].target.macroF1;
  const count = (set: TextSet, c: number) => set.labels.filter((l) => l === c).length;
  const markdown = [
    `spam-shift: use-lite vectors, source ${SOURCE.join(' + ')} (${count(source, 0)} ham, ${count(source, 1)} spam), target ${TARGET.join(' + ')} (${count(target, 0)} ham, ${count(target, 1)} spam; half unlabelled for adaptation, half scored), adaptation network as graft adapt (bottleneck 256, BatchNorm, softmax; ${EPOCHS} passes over the source, the oracle as many steps on its target mail; checkpoint: best source validation accuracy). Mean over seeds ${seeds.join(', ')}.`,
    '',
    table(
      ['method', 'target macro-F1', 'target accuracy', 'source accuracy', 'vs none'],
      rows.map((r) => [
        r.method,
        r.target.macroF1.toFixed(3),
        pct(r.target.accuracy),
        pct(r.source.accuracy),
        r.method === 'none' || r.method === 'target-oracle'
          ? ''
          : `${r.target.macroF1 < none ? '' : '+'}${(r.target.macroF1 - none).toFixed(3)}${r.target.macroF1 < none ? ' (negative transfer)' : ''}`,
      ]),
    ),
  ].join('\n');
  return { json: { experiment: 'spam-shift', seeds, rows }, markdown };
}

export const spamShift: Experiment = {
  name: 'spam-shift',
  description: 'spam filters moved from easy ham + spam-1 to hard ham + spam-2: source-only vs domain adaptation on use-lite vectors',
  run,
};

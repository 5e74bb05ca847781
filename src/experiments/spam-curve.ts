// A label curve for text: spam-assassin's ham/spam at 10, 50, 200 and all labels per class, for
// the transferred text bases against TF-IDF logistic regression trained from scratch on the same
// texts. Every setup sees the same split per seed. The frozen bases' vectors are computed once
// per text (and cached) and their heads are the cross-validated linear probe on the training
// texts alone, as the TF-IDF baseline's λ is; fine-tuned glove, which needs a stopping point, also
// sees as many validation texts per class as it has training texts.
import * as tf from '@tensorflow/tfjs';
import { gloveBase, gloveEncoder } from '../bases/text/glove.js';
import { useLiteBase } from '../bases/text/use-lite.js';
import type { TextBaseName } from '../bases/types.js';
import { loadSpamAssassin } from '../data/text/spam-assassin.js';
import { applyPerClassText, positionsIn, splitText } from '../data/text/split.js';
import type { TextSet } from '../data/text/types.js';
import { classificationMetrics } from '../evaluate/metrics.js';
import { table } from '../evaluate/report.js';
import { mean, sd } from '../math/stats.js';
import { argmaxRows } from '../evaluate/metrics.js';
import { FeatureCache } from '../engine/feature-cache.js';
import { embedTexts } from '../engine/embed.js';
import { TextClassifier } from '../kinds/text.js';
import { fineTuneGlove, fitTextHead } from '../train/text.js';
import { fitTfidf } from '../train/tfidf.js';
import { tell } from '../core/callbacks.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const LABELS_PER_CLASS: (number | 'all')[] = [10, 50, 200, 'all'];
const SETUPS = ['use-lite', 'glove-100d', 'glove-100d+fine-tune', 'scratch'] as const;
type Setup = (typeof SETUPS)[number];
const SPLIT = { valFraction: 0.15, testFraction: 0.15 };
/** The bar: use-lite at least this much macro-F1 above scratch at 10 labels per class. */
const BAR = 0.15;

const macroF1 = (set: TextSet, probs: ArrayLike<number>) =>
  classificationMetrics(set.labels, argmaxRows(probs, set.classes.length), set.classes).macroF1;

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const seeds = opts.seeds ?? [1, 2, 3];
  tell(opts.callbacks, 'onStep', 'reading spam-assassin');
  const corpus = await loadSpamAssassin();
  const glove = await gloveBase().vectors();
  const cache = new FeatureCache();
  const vectors = {} as Record<TextBaseName, tf.Tensor2D>;
  const encoders = { 'use-lite': () => useLiteBase().encoder(), 'glove-100d': () => gloveEncoder({ glove }) };
  for (const name of ['use-lite', 'glove-100d'] as const) {
    tell(opts.callbacks, 'onStep', `${name}: vectors for ${corpus.texts.length} mails (cached after the first run)`);
    const encoder = await encoders[name]();
    vectors[name] = await embedTexts(encoder, corpus.texts, { cache });
    encoder.dispose();
  }
  const scores = new Map<string, number[]>();
  const seconds = new Map<string, number[]>();
  const record = (setup: Setup, n: number | 'all', f1: number, s: number) => {
    const key = `${setup}|${n}`;
    scores.set(key, [...(scores.get(key) ?? []), f1]);
    seconds.set(key, [...(seconds.get(key) ?? []), s]);
  };
  try {
    for (const seed of seeds) {
      const splits = splitText(corpus, { ...SPLIT, seed });
      const testRows = positionsIn(corpus, splits.test);
      for (const n of LABELS_PER_CLASS) {
        const train = n === 'all' ? splits.train : applyPerClassText(splits.train, n, seed);
        const val = n === 'all' ? splits.val : applyPerClassText(splits.val, n, seed);
        for (const setup of SETUPS) {
          tell(opts.callbacks, 'onStep', `${setup}, ${n} labels per class, seed ${seed}`);
          const t0 = performance.now();
          let probs: Float32Array;
          if (setup === 'scratch') {
            probs = fitTfidf(train.texts, train.labels, train.classes.length, { seed }).proba(splits.test.texts);
          } else if (setup === 'glove-100d+fine-tune') {
            const glove100 = await fineTuneGlove(glove, train, val, { seed, trainEngine: opts.trainEngine, callbacks: opts.callbacks });
            const c = new TextClassifier({ mode: 'fine-tuned', glove: glove100 }, train.classes);
            probs = await c.probabilities(splits.test.texts);
            await c.dispose();
          } else {
            const all = vectors[setup];
            const [x, xTest] = [tf.gather(all, positionsIn(corpus, train)), tf.gather(all, testRows)];
            const { head } = await fitTextHead({ x, labels: train.labels }, train.classes.length, undefined, {
              seed,
              trainEngine: opts.trainEngine,
            });
            const p = head.predict(xTest) as tf.Tensor;
            probs = (await p.data()) as Float32Array;
            tf.dispose([x, xTest, p]);
            head.dispose();
          }
          record(setup, n, macroF1(splits.test, probs), (performance.now() - t0) / 1000);
        }
      }
    }
  } finally {
    tf.dispose(Object.values(vectors));
  }
  const rows = LABELS_PER_CLASS.flatMap((n) =>
    SETUPS.map((setup) => {
      const runs = scores.get(`${setup}|${n}`)!;
      return { base: setup, labelsPerClass: n, macroF1: mean(runs), sd: sd(runs), runs, trainSeconds: mean(seconds.get(`${setup}|${n}`)!) };
    }),
  );
  const at = (setup: Setup, n: number | 'all') => rows.find((r) => r.base === setup && r.labelsPerClass === n)!.macroF1;
  const gain = at('use-lite', 10) - at('scratch', 10);
  const counts = splitText(corpus, { ...SPLIT, seed: seeds[0] });
  const markdown = [
    `spam-curve: spam-assassin ham/spam (${corpus.texts.length} mails after duplicates; ${counts.train.texts.length} train / ${counts.val.texts.length} val / ${counts.test.texts.length} test per seed), test macro-F1, mean ± sd over seeds ${seeds.join(', ')}`,
    '',
    table(
      ['labels per class', ...SETUPS],
      LABELS_PER_CLASS.map((n) => [
        String(n),
        ...SETUPS.map((s) => {
          const r = rows.find((x) => x.base === s && x.labelsPerClass === n)!;
          return `${r.macroF1.toFixed(3)} ± ${r.sd.toFixed(3)}`;
        }),
      ]),
    ),
    '',
    `Frozen bases (use-lite, glove-100d): a linear head, the linear probe with its L2 cross-validated on the training texts; scratch: TF-IDF logistic regression, its C cross-validated the same way; glove-100d+fine-tune: word vectors and head trained by Adam, stopped on as many validation texts per class as training texts ("all": the whole validation split).`,
    `Bar: use-lite at 10 labels per class ≥ scratch + ${BAR}: ${at('use-lite', 10).toFixed(3)} vs ${at('scratch', 10).toFixed(3)} (+${gain.toFixed(3)}) — ${gain >= BAR ? 'met' : 'not met'}.`,
  ].join('\n');
  return { json: { experiment: 'spam-curve', seeds, rows, bar: { gain, met: gain >= BAR } }, markdown };
}

export const spamCurve: Experiment = {
  name: 'spam-curve',
  description: 'spam-assassin ham/spam at 10/50/200/all labels per class: use-lite, glove-100d (frozen, fine-tuned) vs TF-IDF from scratch',
  run,
};

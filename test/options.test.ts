// An option passed as undefined keeps its default (issue 28): withDefaults and defined, then every
// one-call trainer run with the same seed with each of its optional options explicitly undefined
// (a form field left empty, a flag forwarded unset) and without them, which must train alike, and
// train: at least one epoch, finite losses, the default budget.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { layersBase } from '../src/bases/image/tfjs.js';
import { gloveEncoder } from '../src/bases/text/glove.js';
import type { GloveBase, GloveVectors, HeadSpec } from '../src/bases/types.js';
import { withDefaults, defined } from '../src/core/options.js';
import type { Callback, EpochLogs } from '../src/core/callbacks.js';
import type { TextSet } from '../src/data/text/types.js';
import { trainDetector, type DetectorOptions } from '../src/kinds/detection.js';
import { trainImageClassifier, type ImageClassifierOptions } from '../src/kinds/image.js';
import { trainMultiTask, type MultiTaskOptions } from '../src/kinds/multi-task.js';
import { trainTextClassifier, type TextClassifierOptions } from '../src/kinds/text.js';
import { mulberry32 } from '../src/math/random.js';
import { ADAPT_METHODS, trainAdaptation } from '../src/strategies/adapt/adapt.js';
import type { AdaptOptions } from '../src/strategies/adapt/types.js';
import { makeTempDir, removeDir } from './fixtures.js';
import { colourSet, colourTaskSet, COLOUR_TASKS, squareDetectionSplits, stridedModel, tinyBase } from './helpers.js';

before(() => useBackend('wasm'));

/**
 * Every optional key of an options type, set to undefined. A key left out of such an object (or an
 * option added to the type later) is a compile error, so the calls below pass every option there is.
 */
type AllUnset<O> = Record<{ [K in keyof O]-?: undefined extends O[K] ? K : never }[keyof O], undefined>;

/** A result without its timings (any key ending in "seconds"), for comparing two runs. */
function untimed(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(untimed);
  if (x && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype)
    return Object.fromEntries(Object.entries(x).flatMap(([k, v]) => (/seconds$/i.test(k) ? [] : [[k, untimed(v)]])));
  return x;
}

/** Every weight of `model`, flattened: two runs of the same seed end with the same numbers. */
const weightsOf = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

function assertFiniteWeights(model: tf.LayersModel, what: string): void {
  for (const [i, w] of weightsOf(model).entries())
    assert.ok(w.every(Number.isFinite), `${what}: weight ${i} holds ${w.find((v) => !Number.isFinite(v))}`);
}

/** A stage ran with the default budget: at least one epoch, no more than the default, a finite best validation loss. */
function assertTrained(stage: { epochsRun: number; bestValLoss: number }, maxEpochs: number, what: string): void {
  assert.ok(stage.epochsRun >= 1 && stage.epochsRun <= maxEpochs, `${what}: ${stage.epochsRun} epochs run (default budget ${maxEpochs})`);
  assert.ok(Number.isFinite(stage.bestValLoss), `${what}: best validation loss ${stage.bestValLoss}`);
}

/** A callback recording every epoch's logs: a third run, its options undefined but this, shows the losses. */
function recorder(): { epochs: EpochLogs[]; callbacks: Callback[] } {
  const epochs: EpochLogs[] = [];
  return { epochs, callbacks: [{ onEpochEnd: (logs) => void epochs.push(logs) }] };
}

/**
 * The recorded epochs are the stages' (as many as each reports), each stage's budget is the
 * default's, and every epoch's training loss is a finite number.
 */
function assertEpochs(epochs: EpochLogs[], stages: { stage: string; epochsRun: number }[], budget: number): void {
  assert.deepEqual(
    stages.map((s) => [s.stage, epochs.filter((e) => e.stage === s.stage).length]),
    stages.map((s) => [s.stage, s.epochsRun]),
  );
  assert.equal(
    epochs.length,
    stages.reduce((n, s) => n + s.epochsRun, 0),
  );
  for (const e of epochs) {
    assert.equal(e.epochs, budget, `${e.stage} epoch ${e.epoch}: a budget of ${e.epochs} epochs, not the default ${budget}`);
    assert.ok(Number.isFinite(e.loss), `${e.stage} epoch ${e.epoch}: loss ${e.loss}`);
  }
}

describe('withDefaults and defined', () => {
  it('undefined keeps the default; null, 0, empty strings and false are values; other keys are kept; nothing is mutated', () => {
    const defaults = { epochs: 10, learningRate: 1e-3, name: 'head', shuffle: true, extra: 1 as number | null };
    const options = { epochs: undefined, learningRate: 0, name: '', shuffle: false, extra: null, seed: 7, cut: undefined };
    const [defaultsCopy, optionsCopy] = [structuredClone(defaults), { ...options }];
    const merged = withDefaults(defaults, options);
    assert.deepEqual(merged, { epochs: 10, learningRate: 0, name: '', shuffle: false, extra: null, seed: 7 });
    assert.ok(!('cut' in merged), 'a key absent from the defaults and undefined stays absent');
    assert.deepEqual(defaults, defaultsCopy, 'the defaults are not mutated');
    assert.deepEqual(options, optionsCopy, 'the options are not mutated');
    assert.ok('epochs' in options && 'cut' in options, 'the options keep their undefined keys');

    const alone = withDefaults(defaults, undefined);
    assert.deepEqual(alone, defaults);
    assert.notEqual(alone, defaults, 'a new object, not the defaults themselves');
    assert.deepEqual(withDefaults(defaults, {}), defaults);

    const kept = defined(options);
    assert.deepEqual(Object.keys(kept).sort(), ['extra', 'learningRate', 'name', 'seed', 'shuffle']);
    assert.deepEqual(defined(undefined), {});
    assert.deepEqual(defined({ a: undefined }), {});
  });
});

describe('an option passed as undefined keeps its default in every one-call trainer', () => {
  // Each trainer runs three times with the same (default) seed: (a) every optional option
  // undefined, (b) none of them given, (c) as (a) but with a callback recording the epochs and,
  // where an option is an object of optional keys, that object with every key undefined.
  // All three must train alike; (b) must train within the default budget.

  it('trainImageClassifier', async () => {
    const data = { train: colourSet(8), val: colourSet(4, undefined, 2), test: colourSet(4, undefined, 3) };
    const unset: AllUnset<ImageClassifierOptions> = {
      epochs: undefined,
      batchSize: undefined,
      learningRate: undefined,
      patience: undefined,
      fineTuneFactor: undefined,
      seed: undefined,
      unfreeze: undefined,
      engine: undefined,
      trainEngine: undefined,
      cache: undefined,
      headInit: undefined,
      callbacks: undefined,
      cut: undefined,
      head: undefined,
      scratch: undefined,
      perClass: undefined,
      classes: undefined,
      strict: undefined,
      stream: undefined,
      where: undefined,
    };
    const rec = recorder();
    const a = await trainImageClassifier({ base: tinyBase(), data, ...unset });
    const b = await trainImageClassifier({ base: tinyBase(), data });
    const c = await trainImageClassifier({ base: tinyBase(), data, ...unset, head: HEAD_UNSET, callbacks: rec.callbacks });
    try {
      const summary = (r: typeof a) => untimed({ training: r.training, metrics: r.metrics, counts: r.counts, cutChoice: r.cutChoice });
      assert.deepEqual(summary(a), summary(b));
      assert.deepEqual(summary(c), summary(b));
      assert.deepEqual(weightsOf(a.model.model), weightsOf(b.model.model));
      assert.deepEqual(weightsOf(c.model.model), weightsOf(b.model.model));
      // Defaults: the head, then one block fine-tuned (unfreeze 1), each within 10 epochs.
      assert.deepEqual(
        b.training.stages.map((s) => s.stage),
        ['head', 'fine-tune'],
      );
      for (const s of b.training.stages) assertTrained(s, 10, s.stage);
      assertEpochs(rec.epochs, c.training.stages, 10);
      assertFiniteWeights(b.model.model, 'image classifier');
    } finally {
      for (const r of [a, b, c]) await r.model.dispose();
    }
  });

  it('the training engine is an option of the call, not of the process (issue 29)', async () => {
    const data = { train: reviews(0, 20), val: reviews(20, 32), test: reviews(32, 40) };
    const [onTfjs, byDefault] = await Promise.all([
      trainTextClassifier({ base: tinyGlove(), data, unfreeze: 0, epochs: 2, trainEngine: 'tfjs' }),
      trainTextClassifier({ base: tinyGlove(), data, unfreeze: 0, epochs: 2 }),
    ]);
    try {
      assert.equal(onTfjs.report.head?.trainEngine.engine, 'tfjs');
      assert.equal(byDefault.report.head?.trainEngine.engine, 'onnx', 'the default, auto, trains a dense head on ONNX Runtime');
    } finally {
      await Promise.all([onTfjs.model.dispose(), byDefault.model.dispose()]);
    }
  });

  it('trainTextClassifier', async () => {
    const base = tinyGlove();
    const data = { train: reviews(0, 20), val: reviews(20, 32), test: reviews(32, 40) };
    const unset: AllUnset<TextClassifierOptions> = {
      trainEngine: undefined,
      epochs: undefined,
      batchSize: undefined,
      learningRate: undefined,
      patience: undefined,
      fineTuneFactor: undefined,
      seed: undefined,
      callbacks: undefined,
      textColumn: undefined,
      labelColumn: undefined,
      where: undefined,
      classes: undefined,
      perClass: undefined,
      scratch: undefined,
      unfreeze: undefined,
      cut: undefined,
      cache: undefined,
    };
    const rec = recorder();
    const a = await trainTextClassifier({ base, data, ...unset });
    const b = await trainTextClassifier({ base, data });
    const c = await trainTextClassifier({ base, data, ...unset, callbacks: rec.callbacks });
    try {
      const summary = (r: typeof a) => untimed({ report: r.report, metrics: r.metrics, counts: r.counts });
      assert.deepEqual(summary(a), summary(b));
      assert.deepEqual(summary(c), summary(b));
      const probe = ['a wonderful film', 'a dull and awful story'];
      const expected = Array.from(await b.model.probabilities(probe));
      assert.deepEqual(Array.from(await a.model.probabilities(probe)), expected);
      assert.deepEqual(Array.from(await c.model.probabilities(probe)), expected);
      // Defaults: glove's word vectors fine-tuned after the head (unfreeze 1), each within 10 epochs.
      assert.equal(b.model.mode, 'fine-tuned');
      const stages = [b.report.head, b.report.fineTune];
      assert.deepEqual(
        stages.map((s) => s?.stage),
        ['head', 'fine-tune'],
      );
      for (const s of stages) assertTrained(s!, 10, s!.stage);
      assertEpochs(rec.epochs, [c.report.head!, c.report.fineTune!], 10);
    } finally {
      for (const r of [a, b, c]) await r.model.dispose();
    }
  });

  it('trainMultiTask', async () => {
    const data = { splits: { train: colourTaskSet(8, 1), val: colourTaskSet(4, 2), test: colourTaskSet(4, 3) }, tasks: COLOUR_TASKS };
    const unset: AllUnset<MultiTaskOptions> = {
      epochs: undefined,
      batchSize: undefined,
      learningRate: undefined,
      patience: undefined,
      fineTuneFactor: undefined,
      seed: undefined,
      weights: undefined,
      trainEngine: undefined,
      callbacks: undefined,
      unfreeze: undefined,
      engine: undefined,
      cache: undefined,
      tasks: undefined,
      cut: undefined,
      head: undefined,
      strict: undefined,
    };
    const rec = recorder();
    const a = await trainMultiTask({ base: tinyBase(), data, ...unset });
    const b = await trainMultiTask({ base: tinyBase(), data });
    const c = await trainMultiTask({ base: tinyBase(), data, ...unset, head: HEAD_UNSET, callbacks: rec.callbacks });
    try {
      const summary = (r: typeof a) => untimed({ training: r.training, metrics: r.metrics, counts: r.counts });
      assert.deepEqual(summary(a), summary(b));
      assert.deepEqual(summary(c), summary(b));
      assert.deepEqual(weightsOf(a.model.model), weightsOf(b.model.model));
      assert.deepEqual(weightsOf(c.model.model), weightsOf(b.model.model));
      // Defaults: the heads, then one block fine-tuned with them (unfreeze 1), each within 10 epochs.
      assert.deepEqual(
        b.training.stages.map((s) => s.stage),
        ['head', 'fine-tune'],
      );
      for (const s of b.training.stages) {
        assertTrained(s, 10, s.stage);
        const taskLosses = [s.metrics['valLoss:0'], s.metrics['valLoss:1']];
        assert.ok(taskLosses.every(Number.isFinite), `${s.stage}: task losses ${taskLosses}`);
      }
      assertEpochs(rec.epochs, c.training.stages, 10);
      assertFiniteWeights(b.model.model, 'multi-task model');
    } finally {
      for (const r of [a, b, c]) await r.model.dispose();
    }
  });

  it('trainDetector', async () => {
    const dir = await makeTempDir('graft-options-');
    try {
      const data = await squareDetectionSplits(dir);
      const base = () => layersBase('strided', stridedModel());
      const unset: AllUnset<DetectorOptions> = {
        epochs: undefined,
        batchSize: undefined,
        learningRate: undefined,
        patience: undefined,
        fineTuneFactor: undefined,
        seed: undefined,
        unfreeze: undefined,
        augment: undefined,
        engine: undefined,
        trainEngine: undefined,
        cache: undefined,
        callbacks: undefined,
        cut: undefined,
        inputSize: undefined,
        scratch: undefined,
        headStart: undefined,
        trainImages: undefined,
        splitCounts: undefined,
        strict: undefined,
      };
      const rec = recorder();
      const a = await trainDetector({ base: base(), data, ...unset });
      const b = await trainDetector({ base: base(), data });
      const c = await trainDetector({ base: base(), data, ...unset, callbacks: rec.callbacks });
      try {
        const summary = (r: typeof a) => untimed({ training: r.training, metrics: r.metrics, counts: r.counts });
        assert.deepEqual(summary(a), summary(b));
        assert.deepEqual(summary(c), summary(b));
        assert.deepEqual(weightsOf(a.model.model), weightsOf(b.model.model));
        assert.deepEqual(weightsOf(c.model.model), weightsOf(b.model.model));
        // Defaults: a 320x320 input, 5 augmented copies per training image, the head then one
        // block (unfreeze 1), each within 40 epochs.
        assert.deepEqual(b.model.model.inputs[0].shape, [null, 320, 320, 3]);
        assert.equal(b.training.stages[0].features.computed, 6 * data.train.samples.length + data.val.samples.length);
        assert.deepEqual(
          b.training.stages.map((s) => s.stage),
          ['head', 'fine-tune'],
        );
        for (const s of b.training.stages) assertTrained(s, 40, s.stage);
        assertEpochs(rec.epochs, c.training.stages, 40);
        assertFiniteWeights(b.model.model, 'detector');
      } finally {
        for (const r of [a, b, c]) await r.model.dispose();
      }
    } finally {
      await removeDir(dir);
    }
  });

  it('trainAdaptation, with every method', async () => {
    const d = domains(5);
    const unset: AllUnset<AdaptOptions> = {
      epochs: undefined,
      batchSize: undefined,
      learningRate: undefined,
      bottleneck: undefined,
      coralWeight: undefined,
      selfTrain: undefined,
      adversary: undefined,
      seed: undefined,
      trunk: undefined,
      trainEngine: undefined,
      callbacks: undefined,
    };
    const selfTrain: AllUnset<NonNullable<AdaptOptions['selfTrain']>> = { rounds: undefined, threshold: undefined };
    const source = { train: d.train, val: d.val };
    try {
      for (const method of ADAPT_METHODS) {
        const rec = recorder();
        const a = await trainAdaptation(source, d.target, 2, { method, ...unset });
        const b = await trainAdaptation(source, d.target, 2, { method });
        const c = await trainAdaptation(source, d.target, 2, { method, ...unset, selfTrain, callbacks: rec.callbacks });
        try {
          const summary = (r: typeof a) => untimed({ ...r, model: undefined });
          assert.deepEqual(summary(a), summary(b), method);
          assert.deepEqual(summary(c), summary(b), method);
          assert.deepEqual(weightsOf(a.model), weightsOf(b.model), method);
          assert.deepEqual(weightsOf(c.model), weightsOf(b.model), method);
          // Defaults: a 256-wide bottleneck; 30 epochs per run (self-training: 3 rounds after the source-only run).
          assert.equal(b.model.getLayer('adapt_bottleneck').getWeights()[0].shape[1], 256, method);
          const runs = [...new Set(rec.epochs.map((e) => e.stage))];
          if (method === 'self-train')
            assert.ok(b.pseudoLabels?.length === 3 && b.pseudoLabels.every((n) => n > 0), `pseudo-labels ${b.pseudoLabels}`);
          assert.equal(runs.length, 1 + (b.pseudoLabels?.filter((n) => n > 0).length ?? 0), `${method}: runs ${runs}`);
          assertEpochs(
            rec.epochs,
            runs.map((stage) => ({ stage, epochsRun: 30 })),
            30,
          );
          assert.ok(b.sourceValAccuracy >= 0.8 && b.sourceValAccuracy <= 1, `${method}: source validation accuracy ${b.sourceValAccuracy}`);
          assertFiniteWeights(b.model, method);
        } finally {
          for (const r of [a, b, c]) r.model.dispose();
        }
      }
    } finally {
      tf.dispose([d.train.x, d.val.x, d.target]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Tiny data

const GOOD = ['a wonderful film', 'great acting and a moving story', 'brilliant and warm', 'the best movie', 'lovely music'];
const BAD = ['a terrible film', 'awful acting and a boring story', 'dull and cold', 'the worst movie', 'annoying music'];

/** Reviews `from` … `to` of a list alternating good and bad (with "!" and "?" variants). */
function reviews(from: number, to: number): TextSet {
  const all = ['', '!', '?', ' indeed'].flatMap((end) => GOOD.flatMap((g, i) => [`${g}${end}`, `${BAD[i]}${end}`]));
  const texts = all.slice(from, to);
  return {
    classes: ['good', 'bad'],
    texts,
    labels: Int32Array.from(texts, (_, i) => (from + i) % 2),
    ids: texts.map((_, i) => `review ${from + i}`),
  };
}

/** A glove-100d stand-in: 8-d seeded vectors for the reviews' words (the real file is 307 MB). */
function tinyGlove(): GloveBase {
  const words = [...new Set([...GOOD, ...BAD].flatMap((t) => t.split(' ')))];
  const rand = mulberry32(11);
  const dim = 8;
  const glove: GloveVectors = {
    dim,
    vectors: Float32Array.from({ length: words.length * dim }, () => rand() - 0.5),
    words,
    index: new Map(words.map((w, i) => [w, i])),
    unknown: new Float32Array(dim),
  };
  return {
    kind: 'text',
    name: 'glove-100d',
    dim,
    maxTokens: 512,
    provenance: 'test vectors',
    encoder: () => gloveEncoder({ glove }),
    vectors: async () => glove,
  };
}

/** A head option with each of its keys undefined: the base's head, as if none were given. */
const HEAD_UNSET: AllUnset<Partial<HeadSpec>> = { kind: undefined, units: undefined, dropout: undefined, pool: undefined };

/** Two classes far apart in 6-d features (so self-training finds confident pseudo-labels); the target domain is the same task shifted and scaled. */
function domains(seed: number) {
  const rand = mulberry32(seed);
  const make = (n: number, shift: number, scale: number) => {
    const y = Int32Array.from({ length: n }, (_, i) => i % 2);
    const x = Array.from(y, (c) =>
      Array.from({ length: 6 }, (_, j) => ((rand() - 0.5) * 2 + (j < 2 ? (c ? 20 : -20) : 0)) * scale + shift),
    );
    return { x: tf.tensor2d(x), y };
  };
  return { train: make(80, 0, 1), val: make(40, 0, 1), target: make(80, 0.5, 1.2).x };
}

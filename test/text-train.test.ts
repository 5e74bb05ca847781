// Text classifiers: the head on text vectors, TF-IDF saved and restored, glove fine-tuned and
// reloaded, and `graft train` / `graft predict` on a small review table the test writes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { mulberry32 } from '../src/math/random.js';
import type { TextSet } from '../src/data/text/types.js';
import { loadModel } from '../src/kinds/index.js';
import { TextClassifier, trainTextClassifier } from '../src/kinds/text.js';
import { fitTextHead } from '../src/train/text.js';
import { fitTfidf, restoreTfidf } from '../src/train/tfidf.js';
import { graft, tempDir } from './helpers.js';

before(() => useBackend('wasm'));

const GOOD = [
  'a wonderful film, I loved it',
  'great acting and a moving story',
  'brilliant, funny and warm',
  'the best movie this year',
  'superb direction, lovely music',
  'a delightful and charming comedy',
  'excellent cast, great fun',
  'beautiful and touching',
  'I enjoyed every minute',
  'a masterpiece, wonderful',
];
const BAD = [
  'a terrible film, I hated it',
  'awful acting and a boring story',
  'dull, stupid and cold',
  'the worst movie this year',
  'poor direction, annoying music',
  'a tedious and pointless comedy',
  'horrible cast, no fun',
  'ugly and empty',
  'I regretted every minute',
  'a disaster, dreadful',
];

function reviews(): TextSet {
  const texts = [...GOOD, ...BAD, ...GOOD.map((t) => `${t}!`), ...BAD.map((t) => `${t}!`)];
  const labels = Int32Array.from(texts, (_, i) => (i % 20 < 10 ? 0 : 1));
  return { classes: ['good', 'bad'], texts, labels, ids: texts.map((_, i) => `row ${i}`) };
}

describe('fitTextHead', () => {
  it('starts at the linear probe and keeps Adam epochs only when they beat it on validation loss', async () => {
    const rand = mulberry32(3);
    const make = (n: number) => {
      const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
      const x = tf.tensor2d(
        Array.from(labels, (y) => Array.from({ length: 8 }, (_, j) => (j === 0 ? (y ? 1 : -1) : 0) + 0.3 * (rand() - 0.5))),
      );
      return { x, labels };
    };
    const [train, val] = [make(20), make(40)];
    const fit = await fitTextHead(train, 2, val, { seed: 1, epochs: 5 });
    assert.ok(fit.probe, 'the probe starts the head (10 texts per class)');
    assert.ok(fit.probe.cvAccuracy > 0.9);
    assert.ok(fit.stage && fit.stage.epochsRun >= 1);
    const p = fit.head.predict(val.x) as tf.Tensor;
    const predicted = (await p.argMax(1).data()) as Int32Array;
    assert.deepEqual(Array.from(predicted), Array.from(val.labels));
    const noVal = await fitTextHead(train, 2, undefined, { seed: 1 });
    assert.equal(noVal.stage, undefined, 'without validation texts the probe is the answer');
    tf.dispose([train.x, val.x, p]);
    fit.head.dispose();
    noVal.head.dispose();
  });
});

describe('TF-IDF scratch model', () => {
  it('restores from its JSON to the same probabilities', () => {
    const set = reviews();
    const c = fitTfidf(set.texts, set.labels, 2, { l2: 0.01 });
    const back = restoreTfidf(JSON.parse(JSON.stringify(c.toJSON())));
    const probe = ['a wonderful story', 'dull and awful', 'unseen words only'];
    assert.deepEqual(Array.from(back.proba(probe)), Array.from(c.proba(probe)));
    assert.ok(c.proba(['wonderful wonderful'])[0] > 0.5, 'a good word reads as good');
  });

  it('saves and loads as a text model', async () => {
    const set = reviews();
    const c = new TextClassifier({ mode: 'scratch', tfidf: fitTfidf(set.texts, set.labels, 2, { l2: 0.01 }) }, set.classes);
    const out = join(tempDir(), 'tfidf');
    await c.save(out);
    const loaded = await loadModel(out);
    assert.ok(loaded instanceof TextClassifier);
    assert.equal(loaded.mode, 'scratch');
    assert.deepEqual(Array.from(await loaded.probabilities(['lovely'])), Array.from(await c.probabilities(['lovely'])));
    assert.deepEqual(await loaded.predict(['lovely'], { top: 2 }), await c.predict(['lovely'], { top: 2 }));
  });
});

describe('glove-100d fine-tuned', () => {
  it('trains the word vectors, and a saved copy maps texts to the same probabilities', async () => {
    const set = reviews();
    const train = { ...set, texts: set.texts.slice(0, 20), labels: set.labels.slice(0, 20), ids: set.ids.slice(0, 20) };
    const val = { ...set, texts: set.texts.slice(20), labels: set.labels.slice(20), ids: set.ids.slice(20) };
    const test = { ...val, texts: [], labels: new Int32Array(0), ids: [] };
    const r = await trainTextClassifier({ base: 'glove-100d', data: { train, val, test }, seed: 1, epochs: 3, learningRate: 1e-2 });
    assert.equal(r.model.mode, 'fine-tuned');
    assert.ok(r.report.fineTune && r.report.fineTune.epochsRun >= 1);
    const out = join(tempDir(), 'glove');
    await r.model.save(out);
    const classifier = await loadModel(out);
    assert.ok(classifier instanceof TextClassifier);
    // "moviegoer-friendly" is a compound the training texts lack: split the same way in both.
    const probe = ['a wonderful, moving film', 'a dull and awful moviegoer-friendly disaster', ''];
    const [a, b] = [await r.model.probabilities(probe), await classifier.probabilities(probe)];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `probability ${i}: ${v} vs ${b[i]}`));
    assert.ok(a[0] > 0.5 && a[3] > 0.5, `good then bad: ${Array.from(a)}`);
    await r.model.dispose();
    await classifier.dispose();
  });
});

/** The review table's columns, as every command here names them. */
const COLUMNS = ['--text-column', 'review', '--label-column', 'sentiment'];

describe('text bases in the base registry', () => {
  it('loadBase and graft inspect know use-lite and glove-100d without loading their weights', async () => {
    const { loadBase, loadImageBase } = await import('../src/bases/index.js');
    const use = await loadBase('use-lite');
    assert.deepEqual([use.kind, use.name, use.kind === 'text' && use.dim], ['text', 'use-lite', 512]);
    await assert.rejects(loadImageBase('glove-100d'), /glove-100d is a text base/);
    const r = graft('inspect', 'glove-100d', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.json!.kind, r.json!.dim], ['text', 100]);
  });
});

describe('graft train with a text base (CLI)', () => {
  let dir: string;
  let table: string;
  before(() => {
    dir = tempDir();
    table = join(dir, 'reviews.csv');
    const set = reviews();
    const rows = set.texts.map((t, i) => `"${t}",${set.classes[set.labels[i]]}`);
    // One empty review, and one longer than use-lite's 128 pieces.
    rows.push(',good', `"${'great '.repeat(200)}",good`);
    writeFileSync(table, `review,sentiment\n${rows.join('\n')}\n`);
  });

  it('trains use-lite on a CSV, warns about the empty and the long row, saves, and predicts', () => {
    const out = join(dir, 'use');
    const r = graft('train', '--base', 'use-lite', '--data', table, ...COLUMNS, '--out', out, '--seed', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: skipped 1 row with no text/);
    assert.match(r.stderr, /warning: truncated 1 text to the base's token limit/);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.equal(meta.kind, 'text');
    assert.equal(meta.base, 'use-lite');
    assert.deepEqual(meta.labels, ['bad', 'good']);
    assert.ok(existsSync(join(out, 'model.json')));
    const p = graft('predict', '--model', out, '--top', '1', '--json', 'what a wonderful, touching film');
    assert.equal(p.code, 0, p.stderr);
    const predictions = p.json!.predictions as { text: string; top: { label: string }[] }[];
    assert.equal(predictions[0].top[0].label, 'good');
  });

  it('evaluates the saved model on a table (graft eval), and adapts on unlabelled texts (graft adapt)', () => {
    const out = join(dir, 'use');
    const e = graft('eval', '--model', out, '--data', table, ...COLUMNS, '--split', 'all', '--json');
    assert.equal(e.code, 0, e.stderr);
    const m = e.json!.metrics as { n: number; accuracy: number };
    assert.equal(m.n, 41, 'every row with a text');
    assert.ok(m.accuracy > 0.9, `accuracy ${m.accuracy}`);
    const unlabelled = join(dir, 'products.csv');
    writeFileSync(unlabelled, 'review\n"works great, very happy"\nbroke after two days\nexcellent battery\n"cheap plastic, fell apart"\n');
    const a = graft(
      'adapt',
      '--base',
      'use-lite',
      '--source',
      table,
      '--target',
      unlabelled,
      '--eval-target',
      table,
      ...COLUMNS,
      '--method',
      'coral',
      '--epochs',
      '2',
      '--json',
    );
    assert.equal(a.code, 0, a.stderr);
    const json = a.json as { method: string; target: { accuracy: number }; baseline: { target: { accuracy: number } } };
    assert.equal(json.method, 'coral');
    // Scored on the table's 41 texts: accuracies are 41sts; the reviews' sentiment is plain enough
    // for use-lite's vectors that both runs are far above chance.
    for (const accuracy of [json.target.accuracy, json.baseline.target.accuracy]) {
      assert.ok(Math.abs(accuracy * 41 - Math.round(accuracy * 41)) < 1e-9, `${accuracy}`);
      assert.ok(accuracy > 0.8, `accuracy ${accuracy}`);
    }
  });

  it('trains TF-IDF with --scratch', () => {
    const out = join(dir, 'scratch');
    const r = graft('train', '--base', 'use-lite', '--scratch', '--data', table, ...COLUMNS, '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json!.mode, 'scratch');
    assert.ok(existsSync(join(out, 'tfidf.json')));
  });

  it('exits 2 naming the columns found when the text column is missing', () => {
    const r = graft('train', '--base', 'use-lite', '--data', table, '--text-column', 'body', '--out', join(dir, 'none'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: .*body.*review.*sentiment/m);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!existsSync(join(dir, 'none')));
  });

  it('refuses image-only flags with a text base', () => {
    const r = graft('train', '--base', 'glove-100d', '--data', table, '--cut', 'block_13', '--out', join(dir, 'cut'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --cut applies to image bases/);
  });
});

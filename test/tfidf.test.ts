// The TF-IDF + logistic regression baseline: tf-idf values in closed form, the classifier on an
// easy toy problem, the solver's bias-only optimum, determinism.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraftError } from '../src/core/errors.js';
import { fitTfidf, fitTfidfVectorizer, type SparseRows } from '../src/train/tfidf.js';

/** Row i as {column: value}. */
const rowOf = (x: SparseRows, i: number) =>
  Object.fromEntries(Array.from(x.indices.subarray(x.indptr[i], x.indptr[i + 1]), (j, k) => [j, x.values[x.indptr[i] + k]]));

function near(a: Record<string, number>, b: Record<string, number>, label: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${label}: columns`);
  for (const k of Object.keys(b)) assert.ok(Math.abs(a[k] - b[k]) < 1e-12, `${label}[${k}]: ${a[k]} vs ${b[k]}`);
}

describe('tf-idf', () => {
  const docs = ['Cat dog, dog!', 'dog bird', 'cat CAT cat fish a'];

  test('sublinear tf x smoothed idf, L2-normalised rows (closed form)', () => {
    const v = fitTfidfVectorizer(docs, { minDf: 1 });
    // Single characters ("a") are not words; columns are alphabetical.
    assert.deepEqual(
      [...v.vocabulary],
      [
        ['bird', 0],
        ['cat', 1],
        ['dog', 2],
        ['fish', 3],
      ],
    );
    const idf = (df: number) => Math.log((1 + 3) / (1 + df)) + 1;
    assert.deepEqual(Array.from(v.idf), [idf(1), idf(2), idf(2), idf(1)]);
    const unit = (r: Record<string, number>) => {
      const norm = Math.sqrt(Object.values(r).reduce((s, x) => s + x * x, 0));
      return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, x / norm]));
    };
    const x = v.transform(docs);
    assert.equal(x.cols, 4);
    near(rowOf(x, 0), unit({ 1: idf(2), 2: (1 + Math.log(2)) * idf(2) }), 'doc 0');
    near(rowOf(x, 1), unit({ 0: idf(1), 2: idf(2) }), 'doc 1');
    near(rowOf(x, 2), unit({ 1: (1 + Math.log(3)) * idf(2), 3: idf(1) }), 'doc 2');
    // Unknown terms are ignored; a text with none is an all-zero row.
    const y = v.transform(['zebra dog', '']);
    near(rowOf(y, 0), { 2: 1 }, 'unseen text');
    near(rowOf(y, 1), {}, 'empty text');
  });

  test('min document frequency, bigrams, most frequent terms first', () => {
    assert.deepEqual([...fitTfidfVectorizer(docs).vocabulary.keys()], ['cat', 'dog']);
    const bigrams = fitTfidfVectorizer(docs, { minDf: 1, ngrams: 2 });
    assert.deepEqual(
      [...bigrams.vocabulary.keys()],
      ['bird', 'cat', 'cat cat', 'cat dog', 'cat fish', 'dog', 'dog bird', 'dog dog', 'fish'],
    );
    // df: cat 2, dog 2, the rest 1; ties broken alphabetically, then columns sorted.
    assert.deepEqual([...fitTfidfVectorizer(docs, { minDf: 1, maxFeatures: 3 }).vocabulary.keys()], ['bird', 'cat', 'dog']);
  });
});

describe('fitTfidf', () => {
  const topics = [
    ['goal', 'match', 'team', 'striker', 'league'],
    ['stock', 'market', 'shares', 'profit', 'bank'],
    ['rain', 'storm', 'cloud', 'sunny', 'forecast'],
  ];
  const filler = ['the', 'of', 'today', 'news', 'report', 'said', 'people'];
  /** Deterministic texts: three topic words and two filler words, rotating. */
  function texts(count: number, offset: number) {
    const out: string[] = [];
    const labels: number[] = [];
    for (let i = 0; i < count; i++) {
      const c = i % 3;
      const t = topics[c];
      const j = i + offset;
      out.push([t[j % 5], filler[j % 7], t[(j + 2) % 5], filler[(j * 3) % 7], t[(j + 4) % 5]].join(' '));
      labels.push(c);
    }
    return { texts: out, labels: Int32Array.from(labels) };
  }

  test('separates an easy problem; λ chosen by cross-validation; probabilities sum to 1', () => {
    const train = texts(60, 0);
    const test = texts(30, 3);
    const model = fitTfidf(train.texts, train.labels, 3);
    assert.deepEqual(model.predict(test.texts), test.labels);
    assert.equal(model.cv.length, 4);
    assert.ok(model.cv.some((c) => c.l2 === model.l2));
    assert.ok(Math.max(...model.cv.map((c) => c.accuracy)) === 1);
    const p = model.proba(test.texts);
    for (let i = 0; i < test.texts.length; i++) assert.ok(Math.abs(p[3 * i] + p[3 * i + 1] + p[3 * i + 2] - 1) < 1e-6);
  });

  test('deterministic', () => {
    const train = texts(45, 1);
    const a = fitTfidf(train.texts, train.labels, 3, { seed: 7 });
    const b = fitTfidf(train.texts, train.labels, 3, { seed: 7 });
    assert.deepEqual(a.proba(train.texts), b.proba(train.texts));
    assert.equal(a.l2, b.l2);
  });

  test('heavy regularisation leaves the bias optimum: the class frequencies', () => {
    const train = texts(40, 0); // classes 14, 13, 13
    const model = fitTfidf(train.texts, train.labels, 3, { l2: 1e6 });
    assert.deepEqual(model.cv, []);
    const p = model.proba(['stock storm goal']);
    [14 / 40, 13 / 40, 13 / 40].forEach((f, c) => assert.ok(Math.abs(p[c] - f) < 1e-4, `class ${c}: ${p[c]} vs ${f}`));
  });

  test('usage errors', () => {
    const usage = (e: unknown) => e instanceof GraftError && e.exitCode === 2;
    assert.throws(() => fitTfidf(['a b', 'c d'], Int32Array.of(0), 2), usage);
    assert.throws(() => fitTfidf(['a b', 'c d'], Int32Array.of(0, 2), 2), usage);
    assert.throws(() => fitTfidf(['a b', 'c d'], Int32Array.of(0, 1), 2, { l2: -1 }), usage);
    assert.throws(() => fitTfidf(['aa bb', 'cc dd'], Int32Array.of(0, 1), 2, { folds: 3 }), usage);
  });
});

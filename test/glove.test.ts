// The glove-100d text base: streaming parser vs JSON.parse, the real file's vectors, tokenizer,
// frozen encoder, and the trainable model (OOV vector, masked mean, frozen vs fine-tuned on wasm).
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readSync, rmSync, statSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import {
  clearGloveCache,
  defaultGlovePath,
  gloveEncoder,
  gloveTextModel,
  gloveWords,
  loadGlove,
  OOV_ID,
  parseGlove,
  tokenize,
} from '../src/bases/text/glove.js';
import type { GloveVectors } from '../src/bases/types.js';
import { GraftError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-glove-'));
before(() => useBackend('wasm'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
  clearGloveCache();
});

interface GloveJson {
  dimensions: number;
  size: number;
  words: string[];
  vectors: Record<string, number[]>;
  unkVector: number[];
}

/** A file in wink's layout: each vector is [dim values, l2 norm, row]. */
function gloveJson(vectors: Record<string, number[]>): GloveJson {
  const words = Object.keys(vectors);
  const dim = vectors[words[0]].length;
  const rows = Object.fromEntries(words.map((w, r) => [w, [...vectors[w], Math.hypot(...vectors[w]), r]]));
  return { dimensions: dim, size: words.length, words, vectors: rows, unkVector: [...new Array<number>(dim).fill(0), -1] };
}

const row = (g: GloveVectors, w: string) => Array.from(g.vectors.subarray(g.index.get(w)! * g.dim, (g.index.get(w)! + 1) * g.dim));
const f32 = (v: number[]) => Array.from(Float32Array.from(v));

/** Asserts |a - b| ≤ tol elementwise. */
function near(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(a.length, b.length, `${label}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${label}[${i}]: ${a[i]} vs ${b[i]}`);
}

describe('parser', () => {
  // Words and numbers JSON.stringify writes in ways the lexer must follow: escapes, UTF-8, exponents, 17 digits.
  const tricky = gloveJson({
    the: [0.418, 0.24968, -0.41242, 0.1217],
    ',': [0.013441, 0.23682, -0.16899, 0.40951],
    '"quoted"': [-0.0, 1e-7, 1.5e21, -2.5e-12],
    'back\\slash': [0.1234567890123456, 123456789012345680000, 3, -7],
    café: [1 / 3, -2 / 3, 0.1 + 0.2, 5e-324],
    'tab\there\u0001': [12.5, -0.00001, 100, 0],
    'well-known': [0.5, 0.25, -0.125, 1],
  });
  const text = JSON.stringify(tricky);

  test('equals JSON.parse, fed in pieces split anywhere', async () => {
    const bytes = Buffer.from(text);
    for (const size of [1, 7, 4096]) {
      const pieces = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
      const g = await parseGlove(pieces);
      const parsed = JSON.parse(text) as GloveJson;
      assert.equal(g.dim, 4);
      assert.deepEqual(g.words, parsed.words);
      for (const w of parsed.words) {
        assert.deepEqual(row(g, w), f32(parsed.vectors[w].slice(0, 4)), `${JSON.stringify(w)} (pieces of ${size})`);
        assert.ok(Object.is(row(g, w)[0], Math.fround(parsed.vectors[w][0])));
      }
      assert.deepEqual(Array.from(g.unknown), [0, 0, 0, 0]);
    }
  });

  test('keeps only the words asked for', async () => {
    const g = await parseGlove([Buffer.from(text)], new Set(['café', 'the', 'absent']));
    assert.deepEqual(g.words, ['the', 'café']);
    assert.deepEqual(row(g, 'café'), f32(tricky.vectors['café'].slice(0, 4)));
    assert.equal(g.vectors.length, 8);
  });

  test('a truncated file or a short vector is an error', async () => {
    await assert.rejects(parseGlove([Buffer.from(text.slice(0, -10))]), /truncated/);
    const short = JSON.stringify({ ...tricky, vectors: { the: [1, 2] } });
    await assert.rejects(parseGlove([Buffer.from(short)]), /"the" has 2 values/);
  });

  test('loads are memoised; a filtered load is served by any load covering it', async () => {
    const path = join(dir, 'memo.json');
    writeFileSync(path, text);
    const some = await loadGlove({ path, words: ['the', ',', 'café'] });
    assert.deepEqual(some.words, ['the', ',', 'café']);
    rmSync(path); // from here on only memory can answer
    const fewer = await loadGlove({ path, words: ['café'] });
    assert.deepEqual(row(fewer, 'café'), row(some, 'café'));
    assert.equal(await loadGlove({ path, words: ['the', ',', 'café'] }), some);
    await assert.rejects(loadGlove({ path, words: ['the', 'well-known'] }), (e: unknown) => e instanceof GraftError && e.exitCode === 2);
    await assert.rejects(loadGlove({ path }), /not found/);
  });
});

describe('the real vectors file', () => {
  /** The file's own vectors for the first few words and the last one, by JSON.parse of its head and tail. */
  function fileVectors(): Record<string, number[]> {
    const path = defaultGlovePath();
    const fd = openSync(path, 'r');
    const read = (start: number, length: number) => {
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, start);
      return buf.toString('utf8');
    };
    const head = read(0, 4_000_000);
    const v = head.indexOf('"vectors":{') + '"vectors":'.length;
    const first = JSON.parse(head.slice(v, head.indexOf('],"', v + 4000) + 1) + '}') as Record<string, number[]>;
    const tail = read(statSync(path).size - 3000, 3000);
    const last = JSON.parse('{' + tail.slice(tail.indexOf('],"') + 2, tail.lastIndexOf('},"unkVector"')) + '}') as Record<string, number[]>;
    closeSync(fd);
    return { ...first, ...last };
  }

  const sentence = "Don't judge the well-known café's prices: $2,000 in the mid-1990s!";

  test('known words equal the file, the tokenizer meets the vocabulary', async () => {
    const want = fileVectors();
    const words = new Set([...Object.keys(want), ...gloveWords([sentence])]);
    const glove = await loadGlove({ words }); // streams the whole file once (~3 s)
    for (const [w, v] of Object.entries(want)) assert.deepEqual(row(glove, w), f32(v.slice(0, 100)), w);
    assert.equal(glove.dim, 100);
    const known = (w: string) => glove.index.has(w);
    const tokens = tokenize(sentence, known);
    assert.deepEqual(tokens, ['dont', 'judge', 'the', 'well-known', 'cafe', 'prices', ':', '$', '2,000', 'in', 'the', 'mid-1990s', '!']);
    assert.deepEqual(
      tokens.filter((t) => !known(t)),
      ['2,000'],
    ); // numbers are not in the vocabulary
    const started = performance.now();
    const again = await loadGlove({ words: ['the'] });
    assert.ok(performance.now() - started < 1000, 'a covered load comes from memory');
    assert.deepEqual(row(again, 'the'), row(glove, 'the'));
  });
});

describe('tokenize', () => {
  test('lowercase words, punctuation marks, numbers whole', () => {
    assert.deepEqual(tokenize('Hello, World... 3.5% of U.S. e-mail'), [
      'hello',
      ',',
      'world',
      '.',
      '.',
      '.',
      '3.5',
      '%',
      'of',
      'u',
      '.',
      's',
      '.',
      'e-mail',
    ]);
  });
  test("apostrophes: 's dropped, others removed; curly quotes too", () => {
    assert.deepEqual(tokenize("John's dog doesn\u2019t bark; 'quoted' you're"), [
      'john',
      'dog',
      'doesnt',
      'bark',
      ';',
      "'",
      'quoted',
      "'",
      'youre',
    ]);
  });
  test('accents stripped; compounds split only when the vocabulary lacks them', () => {
    const known = (w: string) => w === 'well-known';
    assert.deepEqual(tokenize('Naïve well-known state-of-the-art'), ['naive', 'well-known', 'state-of-the-art']);
    assert.deepEqual(tokenize('Naïve well-known state-of-the-art', known), ['naive', 'well-known', 'state', 'of', 'the', 'art']);
    assert.deepEqual([...gloveWords(['well-known cat'])].sort(), ['cat', 'known', 'well', 'well-known']);
  });
});

describe('encoder and model', () => {
  const vectors: Record<string, number[]> = {
    the: [1, 0, 0, 0],
    cat: [0, 2, 0, 0],
    sat: [0, 0, 3, 0],
    mat: [0, 0, 0, 4],
    dog: [1, 1, 1, 1],
    'well-known': [-1, 2, -3, 4],
    on: [0.5, -0.5, 0.25, -0.25],
  };
  let glove: GloveVectors;
  before(async () => {
    glove = await parseGlove([Buffer.from(JSON.stringify(gloveJson(vectors)))]);
  });
  const mean = (words: string[]) => [0, 1, 2, 3].map((j) => words.reduce((s, w) => s + (vectors[w]?.[j] ?? 0), 0) / words.length);
  const train = ['The cat sat on the mat', 'the dog', 'a well-known cat'];

  test('ids: training vocabulary, shared OOV id, end padding, truncation reported', () => {
    const m = gloveTextModel(glove, train, { maxTokens: 4 });
    assert.deepEqual(m.vocabulary, ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'well-known']);
    const truncated: number[] = [];
    const ids = m.ids(['the zebra sat', 'the cat sat on the mat', 'yak', ''], { onTruncate: (i) => truncated.push(i) });
    assert.deepEqual(ids.arraySync(), [
      [2, OOV_ID, 4, 0],
      [2, 3, 4, 5],
      [OOV_ID, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    assert.deepEqual(truncated, [1]);
    ids.dispose();
    m.model.dispose();
  });

  test('mean pooling over real tokens only; every OOV word is the one shared vector', () => {
    const m = gloveTextModel(glove, train);
    const oov = [0.5, -1, 2, 8];
    tf.tidy(() => m.model.getLayer('glove_mean').setWeights([tf.tensor1d(oov)]));
    const texts = ['the cat', 'the cat sat on the mat', 'zebra', 'yak', 'dog zebra', 'well-known', ''];
    const ids = m.ids(texts);
    const out = m.model.predict(ids) as tf.Tensor2D;
    const rows = out.arraySync();
    near(rows[0], mean(['the', 'cat']), 1e-6, 'padded short text');
    near(rows[1], mean(['the', 'cat', 'sat', 'on', 'the', 'mat']), 1e-6, 'full-width text');
    near(rows[2], oov, 1e-6, 'zebra');
    near(rows[3], oov, 1e-6, 'yak');
    near(
      rows[4],
      vectors.dog.map((v, j) => (v + oov[j]) / 2),
      1e-6,
      'known + OOV',
    );
    near(rows[5], vectors['well-known'], 1e-6, 'compound');
    near(rows[6], [0, 0, 0, 0], 0, 'empty');
    // The padding does not matter: the short text alone gives the same vector.
    const alone = tf.tidy(() => (m.model.predict(m.ids(['the cat'])) as tf.Tensor).arraySync() as number[][]);
    near(alone[0], rows[0], 1e-6, 'unpadded');
    tf.dispose([ids, out]);
    m.model.dispose();
  });

  test('the frozen encoder equals the untrained model', async () => {
    const encoder = await gloveEncoder({ glove, maxTokens: 3 });
    assert.equal(encoder.dim, 4);
    const texts = ['the cat sat on the mat', 'a dog', 'well-known'];
    const truncated: number[] = [];
    const progress: number[] = [];
    const e = await encoder.embed(texts, { batchSize: 2, onTruncate: (i) => truncated.push(i), onProgress: (d) => progress.push(d) });
    assert.deepEqual(truncated, [0]);
    assert.deepEqual(progress, [2, 3]);
    near(e.arraySync()[0], mean(['the', 'cat', 'sat']), 1e-6, 'truncated mean');
    near(e.arraySync()[1], [0.5, 0.5, 0.5, 0.5], 1e-6, 'unknown word counts as zeros');
    const m = gloveTextModel(glove, train, { maxTokens: 3 });
    const out = tf.tidy(() => m.model.predict(m.ids(texts)) as tf.Tensor);
    near(out.dataSync(), e.dataSync(), 1e-6, 'model');
    tf.dispose([e, out]);
    m.model.dispose();
  });

  /** The model with a 2-class softmax head whose weights are fixed, so both backends start identically. */
  function classifier(fineTune: boolean) {
    const m = gloveTextModel(glove, train, { fineTune });
    const dense = tf.layers.dense({ units: 2, activation: 'softmax' });
    const model = tf.model({ inputs: m.model.inputs, outputs: dense.apply(m.model.outputs[0]) as tf.SymbolicTensor });
    tf.tidy(() => dense.setWeights([tf.tensor2d([0.3, -0.2, 0.1, 0.4, -0.5, 0.2, 0.25, -0.1], [4, 2]), tf.tensor1d([0.05, -0.05])]));
    model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    return { m, model };
  }
  const fitTexts = ['the cat sat', 'the dog zebra', 'yak cat'];
  const fitLabels = () => tf.oneHot(tf.tensor1d([0, 1, 1], 'int32'), 2);
  const weights = (model: tf.LayersModel, layer: string) => model.getLayer(layer).getWeights()[0].arraySync() as number[][] | number[];

  test('frozen: a fit step leaves the word vectors and trains the OOV vector', async () => {
    const { m, model } = classifier(false);
    const table = weights(model, 'glove_vectors');
    const [x, y] = [m.ids(fitTexts), fitLabels()];
    await model.fit(x, y, { epochs: 1, batchSize: 3 });
    assert.deepEqual(weights(model, 'glove_vectors'), table);
    assert.ok(
      (weights(model, 'glove_mean') as number[]).some((v) => v !== 0),
      'OOV vector moved',
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  test('fine-tuned on wasm: the seen rows move, the gradient equals the cpu backend', async () => {
    const { m, model } = classifier(true);
    const before = weights(model, 'glove_vectors') as number[][];
    const [x, y] = [m.ids(fitTexts), fitLabels()];
    await model.fit(x, y, { epochs: 1, batchSize: 3 });
    const moved = (weights(model, 'glove_vectors') as number[][]).map((r, i) => r.some((v, j) => v !== before[i][j]));
    // Rows: pad, OOV (unused: the pooling layer holds it), the, cat, sat, on, mat, dog, well-known. Only the, cat, sat, dog were fed.
    assert.deepEqual(moved, [false, false, true, true, true, false, false, true, false]);
    tf.dispose([x, y]);
    model.dispose();

    /** Gradient of the loss with respect to each trainable weight, on one backend. */
    const gradients = async (backend: 'wasm' | 'cpu') => {
      await useBackend(backend);
      const { m, model } = classifier(true);
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.tidy(() =>
        tf.variableGrads(() => {
          const p = model.apply(m.ids(fitTexts), { training: true }) as tf.Tensor;
          return tf.losses.softmaxCrossEntropy(fitLabels(), tf.log(p));
        }, vars),
      );
      const out = vars.map((v) => Array.from(grads[v.name].dataSync()));
      tf.dispose(Object.values(grads));
      model.dispose();
      return out;
    };
    try {
      const wasm = await gradients('wasm');
      const cpu = await gradients('cpu');
      assert.equal(wasm.length, 4); // table, OOV, dense kernel and bias
      wasm.forEach((g, i) => near(g, cpu[i], 1e-6, `gradient ${i}`));
      assert.ok(wasm[0].some((v) => v !== 0));
    } finally {
      await useBackend('wasm');
    }
  });
});

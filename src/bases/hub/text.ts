// A text transformer in the Hub's ONNX layout (onnx/model.onnx, tokenizer.json, optionally
// tokenizer_config.json, config.json and sentence-transformers' 1_Pooling/config.json and
// modules.json), from the Hub or a local folder, as a frozen text base on ONNX Runtime.
//
// Tokenising is @huggingface/tokenizers (the tokenizer transformers.js uses, pure JS, 650 KB);
// what it leaves to the caller graft does here: truncation to the model's length (keeping the
// special tokens the post-processor adds around a text), padding a batch, the attention mask, and
// pooling the tokens (masked mean, first token) as sentence-transformers would.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Tokenizer } from '@huggingface/tokenizers';
import { createOnnxSession, type OnnxFeed, type OnnxSession } from '../../backend/onnx-runtime.js';
import { GraftError, usageError } from '../../core/errors.js';
import { digest } from '../../io/digest.js';
import { decodeModel, layerEnds, pruneToCut, type ValueInfoView } from '../../onnx/prune.js';
import { poolTokens, splitTokenCut, tokenCuts } from '../../onnx/tokens.js';
import type { HubTextBase, TextEncoder } from '../types.js';
import { hubFiles, parseHfSpec, type HubOptions } from './download.js';
import { HUB_ONNX_FILES, TOKENIZER } from './layout.js';

export { isHubTextFolder } from './layout.js';
/** Read when the repository has them; a text model needs none of them. */
const OPTIONAL = ['tokenizer_config.json', 'config.json', '1_Pooling/config.json', 'modules.json', 'sentence_bert_config.json'] as const;
type Optional = (typeof OPTIONAL)[number];
/** Texts per ONNX Runtime run: texts go shortest first, so a batch pads little. */
const BATCH = 32;
/** A model's length when none of its files says one (BERT's). */
const DEFAULT_MAX_TOKENS = 512;
const INT64 = 7;
const INT32 = 6;

interface Files {
  onnx: string;
  tokenizer: string;
  optional: Partial<Record<Optional, string>>;
}

const readJson = async <T>(path: string | undefined): Promise<T | undefined> =>
  path === undefined ? undefined : (JSON.parse(await readFile(path, 'utf8')) as T);

interface TokenizerConfig {
  model_max_length?: number;
  pad_token?: string | { content?: string };
}
interface ModelConfig {
  max_position_embeddings?: number;
  hidden_size?: number;
  dim?: number;
  d_model?: number;
}
interface PoolingConfig {
  pooling_mode_cls_token?: boolean;
  pooling_mode_mean_tokens?: boolean;
}

const shapeOf = (v: ValueInfoView) => (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? -1 : Number(d.dimValue ?? -1)));

async function fromFiles(name: string, files: Files, provenance: string): Promise<HubTextBase> {
  const bytes = new Uint8Array(await readFile(files.onnx));
  const graph = decodeModel(bytes).view.graph;
  if (!graph) throw new GraftError(`${files.onnx} has no graph`);
  const o = files.optional;
  const [tokenizerJson, tokenizerConfig, config, pooling, modules, sbert] = await Promise.all([
    readJson<object>(files.tokenizer),
    readJson<TokenizerConfig>(o['tokenizer_config.json']),
    readJson<ModelConfig>(o['config.json']),
    readJson<PoolingConfig>(o['1_Pooling/config.json']),
    readJson<{ type?: string }[]>(o['modules.json']),
    readJson<{ max_seq_length?: number }>(o['sentence_bert_config.json']),
  ]);
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((v) => !initializers.has(v.name));
  const known = new Set(['input_ids', 'attention_mask', 'token_type_ids']);
  const unknown = inputs.filter((v) => !known.has(v.name)).map((v) => v.name);
  if (!inputs.some((v) => v.name === 'input_ids') || unknown.length)
    throw usageError(
      `${name}: a text base takes input_ids (and attention_mask, token_type_ids); this model takes ${inputs.map((v) => v.name).join(', ')}`,
    );
  const inputTypes = new Map(inputs.map((v) => [v.name, v.type?.tensorType?.elemType === INT32 ? INT32 : INT64]));

  // Cuts: each float output (a sequence by its first token and its mean), and each layer's tokens averaged.
  const outputs = graph.output.map((v) => ({ name: v.name, shape: shapeOf(v) }));
  const sequence = outputs.filter((v) => v.shape.length === 3);
  const vectors = outputs.filter((v) => v.shape.length === 2);
  if (!sequence.length && !vectors.length) throw usageError(`${name}: no output is a token sequence or a vector`);
  const outputCuts = [...sequence.flatMap((v) => tokenCuts(v.name)), ...vectors.map((v) => v.name)];
  const layers = layerEnds(graph).map((t) => `${t}:mean`);
  const cuts = [...layers, ...outputCuts];
  const meanOf = sequence[0] && `${sequence[0].name}:mean`;
  const clsOf = sequence[0] && `${sequence[0].name}:cls`;
  // sentence-transformers says its pooling; a model that already pools says so by its output; else the mean (SBERT's finding for BERT).
  const suggestedCut =
    (pooling?.pooling_mode_cls_token && clsOf) ||
    (pooling?.pooling_mode_mean_tokens && meanOf) ||
    (vectors.find((v) => v.name === 'sentence_embedding')?.name ?? meanOf ?? vectors[0].name);
  const normalized = !!modules?.some((m) => m.type?.endsWith('.Normalize'));
  const dim =
    [...sequence, ...vectors].map((v) => v.shape[v.shape.length - 1]).find((d) => d > 0) ??
    config?.hidden_size ??
    config?.dim ??
    config?.d_model;
  if (!dim) throw usageError(`${name}: the hidden size is neither in the graph's output shapes nor in config.json`);
  const lengths = [sbert?.max_seq_length, tokenizerConfig?.model_max_length, config?.max_position_embeddings].filter(
    (n): n is number => typeof n === 'number' && n > 0 && n < 1e6,
  );
  const maxTokens = lengths.length ? Math.min(...lengths) : DEFAULT_MAX_TOKENS;
  const modelHash = digest(bytes);

  const encoder = async (cut = suggestedCut): Promise<TextEncoder> => {
    if (!cuts.includes(cut)) throw usageError(`cut "${cut}" not found in ${name} (cuts: ${cuts.join(', ')}; see graft inspect ${name})`);
    const { tensor, pooling: tokenPooling } = splitTokenCut(cut);
    const session = await createOnnxSession(pruneToCut(bytes, tensor));
    const tokenizer = new Tokenizer(tokenizerJson!, tokenizerConfig ?? {});
    return hubTextEncoder({
      name,
      cut,
      id: digest('hub-text', modelHash, cut, String(maxTokens)),
      dim,
      maxTokens,
      tensor,
      pooling: tokenPooling,
      normalize: normalized && cut === suggestedCut,
      session,
      tokenizer,
      inputTypes,
      padToken: tokenizerConfig?.pad_token,
    });
  };
  return {
    kind: 'text',
    source: 'hub',
    name,
    dim,
    maxTokens,
    cuts,
    blockCuts: [...new Set([...layers, ...outputCuts])],
    suggestedCut,
    provenance: `${provenance}, frozen, on ONNX Runtime; tokenised by its tokenizer.json; default cut ${suggestedCut}${normalized ? ' (unit length, as its modules.json says)' : ''}`,
    encoder,
  };
}

interface EncoderParts {
  name: string;
  cut: string;
  id: string;
  dim: number;
  maxTokens: number;
  tensor: string;
  pooling?: 'cls' | 'mean';
  normalize: boolean;
  session: OnnxSession;
  tokenizer: Tokenizer;
  inputTypes: Map<string, number>;
  padToken?: string | { content?: string };
}

function hubTextEncoder(p: EncoderParts): TextEncoder {
  const { tokenizer } = p;
  // The special tokens around a text (BERT's [CLS] … [SEP], RoBERTa's <s> … </s>), found by
  // encoding one word with and without them: truncation keeps them and cuts the text between.
  const bare: number[] = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const framed: number[] = tokenizer.encode('a', { add_special_tokens: true }).ids;
  const at = framed.findIndex((_, i) => bare.every((id, k) => framed[i + k] === id));
  const prefix = at < 0 ? [] : framed.slice(0, at);
  const suffix = at < 0 ? [] : framed.slice(at + bare.length);
  const padName = typeof p.padToken === 'string' ? p.padToken : p.padToken?.content;
  const padId = (padName !== undefined ? tokenizer.token_to_id(padName) : undefined) ?? 0;
  const room = p.maxTokens - prefix.length - suffix.length;
  if (room < 1) throw new GraftError(`${p.name}: ${p.maxTokens} tokens leave no room for text between its special tokens`);
  let disposed = false;

  const ids = (text: string, onTruncate: () => void): number[] => {
    const content: number[] = tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (content.length > room) onTruncate();
    return [...prefix, ...content.slice(0, room), ...suffix];
  };

  const feed = (name: string, values: number[], dims: number[]): OnnxFeed =>
    p.inputTypes.get(name) === INT32
      ? { type: 'int32', data: Int32Array.from(values), dims }
      : { type: 'int64', data: BigInt64Array.from(values, (v) => BigInt(v)), dims };

  async function run(batch: number[][]): Promise<Float32Array> {
    const n = batch.length;
    const length = Math.max(...batch.map((t) => t.length));
    const idData = new Array<number>(n * length).fill(padId);
    const mask = new Array<number>(n * length).fill(0);
    batch.forEach((t, i) => t.forEach((id, j) => ((idData[i * length + j] = id), (mask[i * length + j] = 1))));
    const all: Record<string, OnnxFeed> = {
      input_ids: feed('input_ids', idData, [n, length]),
      attention_mask: feed('attention_mask', mask, [n, length]),
      token_type_ids: feed('token_type_ids', new Array<number>(n * length).fill(0), [n, length]),
    };
    const feeds = Object.fromEntries(p.session.inputNames.map((k) => [k, all[k]]));
    const out = (await p.session.run(feeds, [p.tensor])).get(p.tensor);
    if (!out) throw new GraftError(`${p.name}: ${p.tensor} is not a float tensor`);
    const vectors = p.pooling ? poolTokens(out.data, out.dims, p.pooling, mask) : out;
    if (vectors.dims.length !== 2 || vectors.dims[1] !== p.dim)
      throw new GraftError(`${p.name}: ${p.cut} gave shape [${vectors.dims.join(', ')}], not [texts, ${p.dim}]`);
    if (p.normalize)
      for (let i = 0; i < n; i++) {
        const row = vectors.data.subarray(i * p.dim, (i + 1) * p.dim);
        const norm = Math.hypot(...row) || 1;
        for (let k = 0; k < p.dim; k++) row[k] /= norm;
      }
    return vectors.data;
  }

  return {
    name: p.name,
    cut: p.cut,
    id: p.id,
    dim: p.dim,
    maxTokens: p.maxTokens,
    async embed(texts, e = {}) {
      if (disposed) throw new GraftError(`${p.name}: embed after dispose`);
      const batchSize = e.batchSize ?? BATCH;
      if (!Number.isInteger(batchSize) || batchSize < 1) throw usageError(`batchSize must be a positive integer, got ${batchSize}`);
      const tokens = texts.map((t, i) => ids(t, () => e.onTruncate?.(i)));
      const order = tokens.map((_, i) => i).sort((a, b) => tokens[a].length - tokens[b].length);
      const out = new Float32Array(texts.length * p.dim);
      for (let s = 0; s < order.length; s += batchSize) {
        const rows = order.slice(s, s + batchSize);
        const vectors = await run(rows.map((i) => tokens[i]));
        rows.forEach((i, k) => out.set(vectors.subarray(k * p.dim, (k + 1) * p.dim), i * p.dim));
        e.onProgress?.(Math.min(s + batchSize, texts.length), texts.length);
      }
      return tf.tensor2d(out, [texts.length, p.dim]);
    },
    dispose() {
      disposed = true;
      void p.session.release();
    },
  };
}

export async function loadHubTextFolderBase(dir: string): Promise<HubTextBase> {
  const onnx = HUB_ONNX_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!onnx) throw usageError(`${dir}: no ${HUB_ONNX_FILES.join(', ')}`);
  const optional = Object.fromEntries(OPTIONAL.flatMap((f) => (existsSync(join(dir, f)) ? [[f, join(dir, f)]] : [])));
  return fromFiles(dir, { onnx, tokenizer: join(dir, TOKENIZER), optional }, `text model in ${dir}`);
}

/** `hf:ORG/NAME[@REVISION]` holding a text model: downloaded into the Hub's cache on first use. */
export async function loadHubTextBase(spec: string, o: HubOptions = {}): Promise<HubTextBase> {
  const s = parseHfSpec(spec);
  const files = await hubFiles(s, [TOKENIZER, HUB_ONNX_FILES], o);
  const optional = await hubFiles(s, OPTIONAL, { ...o, optional: true });
  return fromFiles(
    spec,
    { onnx: files[HUB_ONNX_FILES[0]], tokenizer: files[TOKENIZER], optional },
    `${s.repo}@${s.revision} from the Hugging Face Hub`,
  );
}

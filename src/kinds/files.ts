// What every kind's directory shares: graft.json (read with a clear error, written last into a
// temporary directory renamed into place), the versions stamp, and the helpers evaluation needs to
// put labelled data in a model's terms (its class order, the split training made).
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { GraftError, usageError } from '../core/errors.js';
import { GRAFT_VERSION } from '../core/version.js';
import { writeDirAtomically } from '../io/atomic.js';
import { MiB, readModelFile } from '../io/read.js';

export const GRAFT_JSON = 'graft.json';

export const versions = () => ({ graft: GRAFT_VERSION, tfjs: tf.version.tfjs });

/** A model's JSON files (graft.json, a vocabulary) are small: more than this is not one of them. */
const MAX_JSON_BYTES = 256 * MiB;

/** A JSON file of a model directory; unreadable JSON is a failure naming the file. */
export async function readJson<T>(path: string): Promise<T> {
  // Bounded and regular only: a graft.json linked to /dev/zero must not fill the memory.
  const bytes = await readModelFile(path, 'JSON file', MAX_JSON_BYTES);
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (e) {
    throw new GraftError(`cannot read ${path}: ${(e as Error).message.split('\n')[0]}`, 1);
  }
}

/** A usage error unless `dir` holds graft.json and `files` (what its kind needs). */
export function requireFiles(dir: string, files: string[] = []): void {
  if (!existsSync(dir)) throw usageError(`model directory not found: ${dir}`);
  if (!statSync(dir).isDirectory())
    throw usageError(`${dir} is a file; a graft model is the directory graft train wrote (with ${[...files, GRAFT_JSON].join(' and ')})`);
  const expected = [...files, GRAFT_JSON];
  const missing = expected.filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw usageError(`${dir} is not a graft model (${expected.join(' and ')} expected; missing ${missing.join(', ')})`);
}

/** A model directory's graft.json, after checking the directory and the files its kind needs. */
export async function readGraftJson<T>(dir: string, needs: string[] = []): Promise<T> {
  requireFiles(dir, needs);
  const meta = await readJson<unknown>(join(dir, GRAFT_JSON));
  // Every kind reads fields of it: anything but an object would be a TypeError there.
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw new GraftError(`cannot read ${join(dir, GRAFT_JSON)}: expected a JSON object describing the model`, 1);
  return meta as T;
}

/** `fill` writes the model's files into a temporary directory, graft.json goes in last, then it replaces `dir` (only with `force`). */
export async function writeModelDir(dir: string, force: boolean, meta: object, fill: (tmp: string) => Promise<void>): Promise<void> {
  await writeDirAtomically(dir, force, async (tmp) => {
    await fill(tmp);
    await writeFile(join(tmp, GRAFT_JSON), JSON.stringify(meta, null, 2) + '\n');
  });
}

/** `set` (images or texts) with its class indices in the model's label order; a class the model does not know is a usage error. */
export function inModelOrder<T extends { classes: string[]; labels: Int32Array }>(set: T, labels: string[]): T {
  const unknown = set.classes.filter((c) => !labels.includes(c));
  if (unknown.length) throw usageError(`classes not known to the model: ${unknown.join(', ')} (model labels: ${labels.join(', ')})`);
  return { ...set, classes: labels, labels: Int32Array.from(set.labels, (l) => labels.indexOf(set.classes[l])) };
}

/** The seed a saved model's splits were made with (what evaluation reuses unless told otherwise). */
export const trainingSeed = (training: Record<string, unknown>, given?: number) =>
  given ?? (typeof training.seed === 'number' ? training.seed : 0);

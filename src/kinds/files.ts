// What every kind's directory shares: graft.json (read with a clear error, written last into a
// temporary directory renamed into place), the versions stamp, and the helpers evaluation needs to
// put labelled data in a model's terms (its class order, the split training made).
import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
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

// The pieces of graft.json every kind checks before it reads a field (a hand-edited or truncated
// file is one error naming the file and the field, never a TypeError from deep inside a kind).
const positiveInt = z.number().int().positive();
export const LABELS_JSON = z.array(z.string()).min(1);
export const IMAGE_SIZE_JSON = z.object({ height: positiveInt, width: positiveInt, channels: z.union([z.literal(1), z.literal(3)]) });
export const RESIZE_JSON = z.enum(['cover', 'fill', 'contain']);
/** normalize: a finite mean and a std > 0 per channel of `input`. */
export const NORMALIZE_JSON = z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) });
/** What every kind's graft.json holds beside its own description (ModelMeta); metrics and training may be absent. */
export const META_JSON = {
  base: z.string(),
  metrics: z.record(z.string(), z.unknown()).default({}),
  training: z.record(z.string(), z.unknown()).default({}),
};

/** The normalisation has one value per input channel (a schema's `superRefine`). */
export function normalizeFitsInput(
  value: { normalize: { mean: number[]; std: number[] }; input: { channels: number } },
  ctx: z.RefinementCtx,
): void {
  const { normalize, input } = value;
  if (normalize.mean.length !== input.channels || normalize.std.length !== input.channels)
    ctx.addIssue({ code: 'custom', path: ['normalize'], message: `expected ${input.channels} mean and std values, one per input channel` });
}

/**
 * `meta` (a directory's graft.json, parsed) as `schema` describes it, else a failure naming the
 * file, what it was read as (`what`: an image classifier) and its first wrong field.
 */
export function checkGraftJson<T>(dir: string, meta: unknown, schema: z.ZodType, what: string): T {
  const parsed = schema.safeParse(meta);
  if (parsed.success) return parsed.data as T;
  const issue = parsed.error.issues[0];
  const at = issue.path.length ? issue.path.map(String).join('.') : 'the description';
  const why =
    issue.code === 'invalid_type' && /received undefined$/.test(issue.message)
      ? `${at} is missing`
      : `${at}: ${issue.message.replace(/^Invalid input: /, '')}`;
  throw new GraftError(`cannot read ${join(dir, GRAFT_JSON)} as ${what}'s description: ${why}`, 1);
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

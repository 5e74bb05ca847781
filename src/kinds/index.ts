// The model-kind registry: every kind of trained model graft writes; loadModel, which reads a
// directory's graft.json and returns the right one; trainingKind, which says which kind a training
// request is for. A new kind is one module beside these (implementing TrainedModel, with its
// one-call trainer and its training entry) and one line in MODEL_KINDS.
import { join } from 'node:path';
import { GraftError } from '../core/errors.js';
import { detectionKind } from './detection.js';
import { GRAFT_JSON, readGraftJson } from './files.js';
import { imageKind } from './image.js';
import { multiTaskKind } from './multi-task.js';
import { textKind } from './text.js';
import type { ModelKind, TrainRequest } from './types.js';

export const MODEL_KINDS = [imageKind, textKind, multiTaskKind, detectionKind] as const;

/** A trained model of any kind graft knows: a union on `kind`, so `if (model.kind === 'image')` narrows it. */
export type AnyModel = Awaited<ReturnType<(typeof MODEL_KINDS)[number]['load']>>;

/** The kind a training request is for: the one kind whose training claims it. */
export function trainingKind(r: TrainRequest): (typeof MODEL_KINDS)[number] {
  const claimed = MODEL_KINDS.filter((k) => k.training.claims(r));
  // The claims partition every request: more or fewer than one is a bug in a kind's module.
  if (claimed.length !== 1) throw new Error(`${claimed.length} kinds claim ${JSON.stringify(r)}`);
  return claimed[0];
}

/** The trained model in `dir`, of whatever kind its graft.json names. */
export async function loadModel(dir: string): Promise<AnyModel> {
  const meta = await readGraftJson<{ kind?: unknown }>(dir);
  const kind: ModelKind<AnyModel> | undefined = MODEL_KINDS.find((k) => k.matches(meta));
  // A file that says something graft cannot use is a failure (exit 1), like one that is not JSON.
  if (!kind)
    throw new GraftError(
      `cannot read ${join(dir, GRAFT_JSON)}: it names a kind of model this graft does not know (${JSON.stringify(meta.kind)}; known: ${MODEL_KINDS.map((k) => k.name).join(', ')})`,
      1,
    );
  return kind.load(dir, meta);
}

export type * from './types.js';

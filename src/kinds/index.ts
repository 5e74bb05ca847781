// The model-kind registry: every kind of trained model graft writes, and loadModel, which reads a
// directory's graft.json and returns the right one. A new kind is one module beside these
// (implementing TrainedModel, with its one-call trainer) and one line in MODEL_KINDS.
import { usageError } from '../core/errors.js';
import { detectionKind } from './detection.js';
import { readGraftJson } from './files.js';
import { imageKind } from './image.js';
import { multiTaskKind } from './multi-task.js';
import { textKind } from './text.js';
import type { ModelKind } from './types.js';

export const MODEL_KINDS = [imageKind, textKind, multiTaskKind, detectionKind] as const;

/** A trained model of any kind graft knows: a union on `kind`, so `if (model.kind === 'image')` narrows it. */
export type AnyModel = Awaited<ReturnType<(typeof MODEL_KINDS)[number]['load']>>;

/** The trained model in `dir`, of whatever kind its graft.json names. */
export async function loadModel(dir: string): Promise<AnyModel> {
  const meta = await readGraftJson<{ kind?: unknown }>(dir);
  const kind: ModelKind<AnyModel> | undefined = MODEL_KINDS.find((k) => k.matches(meta));
  if (!kind)
    throw usageError(
      `${dir}: graft.json names a kind of model this graft does not know (${String(meta.kind)}; known: ${MODEL_KINDS.map((k) => k.name).join(', ')})`,
    );
  return kind.load(dir, meta);
}

export type * from './types.js';

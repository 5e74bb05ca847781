import type { Base } from '../bases/types.js';
import { cutPoints } from '../bases/graph.js';
import { usageError } from '../errors.js';

/** Where to cut: a layer name, a layer index, or `auto` (the base's suggested cut). */
export type CutSpec = string | number;

/** Layer names the base can be cut at (single-tensor cut points), bottom to top. */
export function cutCandidates(base: Base): string[] {
  if (!base.model) return [base.suggestedCut];
  const model = base.model;
  return [...cutPoints(model)].sort((a, b) => a - b).map((i) => model.layers[i].name);
}

/** Resolve a cut spec to a layer name, or fail listing the candidates. */
export function resolveCut(base: Base, cut: CutSpec = 'auto'): string {
  if (cut === 'auto') return base.suggestedCut;
  const candidates = cutCandidates(base);
  const asIndex = typeof cut === 'number' ? cut : /^\d+$/.test(cut) ? Number(cut) : undefined;
  const asName = String(cut);
  const name = asIndex !== undefined ? base.model?.layers[asIndex]?.name : asName;
  if (name && candidates.includes(name)) return name;
  const shown = candidates.length > 12 ? [...candidates.slice(0, 4), '…', ...candidates.slice(-8)] : candidates;
  const what = name && base.model?.layers.some((l) => l.name === name) ? `layer "${name}" is not a cut point` : `cut layer "${cut}" not found`;
  throw usageError(`${what} in ${base.name} (candidates: ${shown.join(', ')}; see graft inspect ${base.name})`);
}

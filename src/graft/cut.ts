import type * as tf from '@tensorflow/tfjs';
import type { ImageBase } from '../bases/types.js';
import { cutPoints } from '../bases/structure.js';
import { usageError } from '../core/errors.js';

/** Where to cut: a layer name, a layer index, or `auto` (the base's suggested cut). */
export type CutSpec = string | number;

/** Layer names the base can be cut at (single-tensor cut points), bottom to top. */
export function cutCandidates(base: ImageBase): string[] {
  // Any node of a graph model can be fetched, so every node is a candidate.
  if (base.kind === 'graph') return graphNodes(base.graph);
  if (base.kind === 'onnx') return base.onnx.tensors;
  const model = base.model;
  return [...cutPoints(model)].sort((a, b) => a - b).map((i) => model.layers[i].name);
}

/** Computed nodes of a graph model (not its constants and inputs), in graph order. */
export function graphNodes(graph: tf.GraphModel): string[] {
  // `artifacts` is private in the typings but is how GraphModel.save reads its own topology.
  const { artifacts } = graph as unknown as { artifacts?: tf.io.ModelArtifacts };
  const topology = artifacts?.modelTopology as { node?: { name: string; op: string }[] } | undefined;
  return (topology?.node ?? []).filter((n) => n.op !== 'Const' && n.op !== 'Placeholder').map((n) => n.name);
}

/** Resolve a cut spec to a layer name, or fail listing the candidates. */
export function resolveCut(base: ImageBase, cut: CutSpec = 'auto'): string {
  if (cut === 'auto') return base.suggestedCut;
  const candidates = cutCandidates(base);
  const asIndex = typeof cut === 'number' ? cut : /^\d+$/.test(cut) ? Number(cut) : undefined;
  const asName = String(cut);
  const layers = base.kind === 'layers' ? base.model.layers : [];
  const name = asIndex !== undefined ? (layers[asIndex]?.name ?? candidates[asIndex]) : asName;
  if (name && candidates.includes(name)) return name;
  const shown = candidates.length > 12 ? [...candidates.slice(0, 4), '…', ...candidates.slice(-8)] : candidates;
  const what = name && layers.some((l) => l.name === name) ? `layer "${name}" is not a cut point` : `cut layer "${cut}" not found`;
  throw usageError(`${what} in ${base.name} (candidates: ${shown.join(', ')}; see graft inspect ${base.name})`);
}

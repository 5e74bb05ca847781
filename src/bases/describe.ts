// A base described for a person or a UI: what `graft inspect` shows. An image base layer by layer
// (shapes, parameters, blocks, where it can be cut); a text base by what its vectors are.
import { cutPoints } from './structure.js';
import type { Base, ImageBase, TextBase } from './types.js';

export interface LayerRow {
  index: number;
  name: string;
  type: string;
  outputShape: (number | null)[];
  params: number;
  trainable: boolean;
  block: string;
  cutCandidate: boolean;
  suggestedCut: boolean;
}

export interface ImageBaseDescription {
  name: string;
  kind: ImageBase['kind'];
  input: ImageBase['input'];
  normalize: ImageBase['normalize'];
  suggestedCut: string;
  blocks: { name: string; first: string; last: string }[];
  params: number;
  provenance: string;
  layers: LayerRow[];
}

export interface TextBaseDescription {
  name: string;
  kind: 'text';
  /** Length of each text's vector. */
  dim: number;
  maxTokens: number;
  provenance: string;
  /** A Hub model's cuts (outputs, their token poolings, each layer's token mean) and the one used by default. */
  cuts?: string[];
  suggestedCut?: string;
}

export type BaseDescription = ImageBaseDescription | TextBaseDescription;

export function describeBase(base: Base): BaseDescription {
  if (base.kind === 'text') return describeTextBase(base);
  const common = {
    name: base.name,
    kind: base.kind,
    input: base.input,
    normalize: base.normalize,
    suggestedCut: base.suggestedCut,
    provenance: base.provenance,
  };
  if (base.kind === 'onnx') {
    const { tensors, ops } = base.onnx;
    const layers = tensors.map((name, index) => ({
      index,
      name,
      type: ops.get(name) ?? '',
      outputShape: [],
      params: 0,
      trainable: false,
      block: '',
      cutCandidate: true,
      suggestedCut: name === base.suggestedCut,
    }));
    return { ...common, blocks: [], params: 0, layers };
  }
  if (base.kind === 'graph') {
    const out = base.graph.outputs[0];
    const layer = { index: 0, name: out.name, type: 'GraphModel output', outputShape: out.shape ?? [], params: 0, trainable: false };
    return { ...common, blocks: [], params: 0, layers: [{ ...layer, block: '', cutCandidate: true, suggestedCut: true }] };
  }
  const model = base.model;
  const cuts = cutPoints(model);
  const blockOf = (i: number) => base.blocks.find((b) => b.start <= i && i <= b.end)?.name ?? '';
  const layers = model.layers.map((l, i) => ({
    index: i,
    name: l.name,
    type: l.getClassName(),
    outputShape: l.outputShape as (number | null)[],
    params: l.countParams(),
    trainable: l.trainable,
    block: blockOf(i),
    cutCandidate: cuts.has(i),
    suggestedCut: l.name === base.suggestedCut,
  }));
  const blocks = base.blocks.map((b) => ({ name: b.name, first: model.layers[b.start].name, last: model.layers[b.end].name }));
  return { ...common, blocks, params: model.countParams(), layers };
}

function describeTextBase(base: TextBase): TextBaseDescription {
  const d: TextBaseDescription = { name: base.name, kind: 'text', dim: base.dim, maxTokens: base.maxTokens, provenance: base.provenance };
  return 'source' in base ? { ...d, cuts: base.cuts, suggestedCut: base.suggestedCut } : d;
}

// A base described layer by layer: what `graft inspect` shows and what a UI could render.
import type { Base } from './types.js';
import { cutPoints } from './graph.js';

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

export interface BaseDescription {
  name: string;
  kind: Base['kind'];
  input: Base['input'];
  normalize: Base['normalize'];
  suggestedCut: string;
  blocks: { name: string; first: string; last: string }[];
  params: number;
  provenance: string;
  layers: LayerRow[];
}

export function describeBase(base: Base): BaseDescription {
  const model = base.model;
  const common = {
    name: base.name,
    kind: base.kind,
    input: base.input,
    normalize: base.normalize,
    suggestedCut: base.suggestedCut,
    provenance: base.provenance,
  };
  if (base.onnx) {
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
  if (!model) {
    const out = base.graph!.outputs[0];
    return {
      ...common,
      blocks: [],
      params: 0,
      layers: [
        {
          index: 0,
          name: out.name,
          type: 'GraphModel output',
          outputShape: out.shape ?? [],
          params: 0,
          trainable: false,
          block: '',
          cutCandidate: true,
          suggestedCut: true,
        },
      ],
    };
  }
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

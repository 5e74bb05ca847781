// A trained graft model as one ONNX file, to deploy wherever ONNX runs: the classifier exported
// from TF.js, and for an ONNX base its frozen trunk and the head joined into one graph. A sidecar
// JSON says how to feed it (labels, size, normalisation, layout), as graft.json does for TF.js.
import onnxProto from 'onnx-proto';
import { usageError } from '../errors.js';
import { layersModelToOnnx } from './onnx/index.js';
import type { Trained } from './trained.js';
import type { Layout } from '../backend/onnx-runtime.js';

const { onnx } = onnxProto;

/**
 * What `graft export` writes beside MODEL.onnx as MODEL.onnx.json: how to feed it and read it. An
 * `onnx:` base reads the same file for its preprocessing, so an exported model can be a base again.
 */
export interface OnnxSidecar {
  labels: string[];
  input: { name: string; layout: Layout; height: number; width: number; channels: number };
  output: string;
  normalize: Trained['meta']['normalize'];
  resize: Trained['meta']['resize'];
  /** Where it came from: the base and the TF.js layer it was cut at. */
  graft: { base: string; cut: string };
}

/** Opsets whose operators mean what the head's exporter (opset 13) writes: ReduceMean's axes moved to an input in 18. */
const JOINABLE_OPSETS = [13, 14, 15, 16, 17];
/** Head names are prefixed so they cannot meet a trunk name. */
const HEAD_PREFIX = 'graft_head/';

interface Named {
  name?: string | null;
}
interface NodeLike {
  input?: string[] | null;
  output?: string[] | null;
  name?: string | null;
}

/** Prefix every tensor, node and initializer name of a graph (those in `rename` are renamed instead), so two graphs can share one namespace. */
function prefixGraph(
  graph: { node?: NodeLike[] | null; initializer?: Named[] | null; output?: Named[] | null; input?: Named[] | null },
  prefix: string,
  rename: Map<string, string>,
): void {
  const p = (n: string) => (n === '' ? n : (rename.get(n) ?? `${prefix}${n}`));
  for (const n of graph.node ?? []) {
    n.input = (n.input ?? []).map(p);
    n.output = (n.output ?? []).map(p);
    n.name = n.name ? `${prefix}${n.name}` : n.name;
  }
  for (const t of graph.initializer ?? []) t.name = p(t.name ?? '');
  for (const v of graph.output ?? []) v.name = p(v.name ?? '');
}

/** The trunk (an ONNX model pruned at the cut) feeding the head: one graph, the trunk's input. */
function joinTrunkAndHead(trunkBytes: Uint8Array, cut: string, layout: Layout, head: Uint8Array): Uint8Array {
  const trunk = onnx.ModelProto.decode(trunkBytes);
  const top = onnx.ModelProto.decode(head);
  const tg = trunk.graph!;
  const hg = top.graph!;
  const headInput = hg.input![0].name!;
  const trunkOpset = Math.max(...(trunk.opsetImport ?? []).filter((o) => !o.domain).map((o) => Number(o.version)));
  if (!JOINABLE_OPSETS.includes(trunkOpset)) {
    throw usageError(
      `the trunk is ONNX opset ${trunkOpset}; graft joins trunk and head for opsets ${JOINABLE_OPSETS[0]}-${JOINABLE_OPSETS.at(-1)}`,
    );
  }
  const trunkNames = new Set([
    ...(tg.node ?? []).flatMap((n) => [...(n.output ?? []), n.name ?? '']),
    ...(tg.initializer ?? []).map((t) => t.name ?? ''),
  ]);
  if ([...trunkNames].some((n) => n.startsWith(HEAD_PREFIX)))
    throw usageError(`the trunk has names starting with ${HEAD_PREFIX}; cannot join the head to it`);
  // The head was exported from TF.js and takes NHWC features; an NCHW trunk's 4-D output is turned round.
  const rank = hg.input![0].type?.tensorType?.shape?.dim?.length ?? 2;
  const joined = `${HEAD_PREFIX}features`;
  const bridge =
    layout === 'nchw' && rank === 4
      ? onnx.NodeProto.create({
          opType: 'Transpose',
          input: [cut],
          output: [joined],
          name: `${HEAD_PREFIX}to_nhwc`,
          attribute: [{ name: 'perm', ints: [0, 2, 3, 1], type: onnx.AttributeProto.AttributeType.INTS }],
        })
      : onnx.NodeProto.create({ opType: 'Identity', input: [cut], output: [joined], name: joined });
  prefixGraph(hg, HEAD_PREFIX, new Map([[headInput, joined]]));
  tg.node = [...(tg.node ?? []), bridge, ...(hg.node ?? [])];
  tg.initializer = [...(tg.initializer ?? []), ...(hg.initializer ?? [])];
  tg.output = hg.output;
  // The trunk keeps its opset (13-17): the head's operators read the same in all of them.
  trunk.opsetImport = [...(trunk.opsetImport ?? []).filter((o) => o.domain), { domain: '', version: trunkOpset }];
  trunk.irVersion = Math.max(Number(trunk.irVersion), Number(top.irVersion));
  trunk.producerName = 'graft';
  return onnx.ModelProto.encode(trunk).finish();
}

/** The trained model as ONNX bytes plus the sidecar describing its input and output. */
export function trainedToOnnx(trained: Trained, trunkBytes?: Uint8Array): { bytes: Uint8Array; sidecar: OnnxSidecar } {
  const { meta } = trained;
  const head = layersModelToOnnx(trained.model, { inputName: 'input' });
  let bytes = head;
  let input = { name: 'input', layout: 'nhwc' as Layout };
  if (meta.trunk) {
    if (!meta.trunk.path.endsWith('.onnx') || !trunkBytes) {
      throw usageError(
        `${meta.base} is a TF.js graph model: its frozen trunk cannot be exported to ONNX (export works for LayersModel and ONNX bases)`,
      );
    }
    const layout = meta.trunk.layout ?? 'nhwc';
    bytes = joinTrunkAndHead(trunkBytes, meta.trunk.output, layout, head);
    const decoded = onnx.ModelProto.decode(bytes);
    input = { name: decoded.graph!.input![0].name!, layout };
  }
  const output = onnx.ModelProto.decode(bytes).graph!.output![0].name!;
  return {
    bytes,
    sidecar: {
      labels: meta.labels,
      input: { ...input, ...meta.input },
      output,
      normalize: meta.normalize,
      resize: meta.resize,
      graft: { base: meta.base, cut: meta.cut },
    },
  };
}

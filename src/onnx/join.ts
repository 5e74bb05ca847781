// One ONNX graph from two: a frozen trunk (an ONNX model pruned at the cut) feeding a head
// exported from TF.js, so a trained model on an ONNX base deploys as one file.
import onnxProto from 'onnx-proto';
import type { Layout } from '../backend/onnx-runtime.js';
import { usageError } from '../core/errors.js';

const { onnx } = onnxProto;

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

/**
 * Prefix every tensor, node and initializer name of a graph (those in `rename` are renamed
 * instead), so two graphs can share one namespace.
 */
export function prefixGraph(
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
export function joinTrunkAndHead(trunkBytes: Uint8Array, cut: string, layout: Layout, head: Uint8Array): Uint8Array {
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

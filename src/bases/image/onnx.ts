// ONNX bases (`onnx:PATH`): any ONNX image model (exported from PyTorch, timm, Hugging Face) as a
// frozen feature extractor on ONNX Runtime, cut at any tensor of its graph. The graph is read
// with onnx-proto (protobufjs code generated from the official onnx.proto) so graft can list the
// cut candidates and prune the model to the part below a cut.
import { existsSync } from 'node:fs';
import { createOnnxRunner, onnxTrunk, type Layout, type OnnxSessionOptions } from '../../backend/onnx-runtime.js';
import type { ImageSize } from '../../data/types.js';
import { usageError } from '../../core/errors.js';
import { digest } from '../../io/digest.js';
import { MiB, readModelFile } from '../../io/read.js';
import { decodeModel, layerEnds, pruneToCut, type GraphView, type ModelView, type NodeView, type ValueInfoView } from '../../onnx/prune.js';
import { splitTokenCut, tokenCuts } from '../../onnx/tokens.js';
import type { FrozenTrunk, Normalize, OnnxBase, OnnxModelInfo } from '../types.js';

/** Preprocessing an ONNX file cannot say itself: given by flags or a sidecar `MODEL.onnx.json`. */
export interface OnnxPreprocessing {
  normalize?: Normalize;
  /** Needed when the model's input height/width are dynamic. */
  size?: { height: number; width: number };
  layout?: Layout;
  resize?: OnnxBase['resize'];
  /** Default cut (a tensor name) when the classifier-input guess is not what you want. */
  cut?: string;
}

function dims(shape: ValueInfoView['type']): (number | string)[] {
  return (shape?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0) || '?'));
}

/**
 * MODEL.onnx.json: preprocessing keys (`normalize`, `size`, `layout`, `resize`, `cut`), or the
 * sidecar `graft export` writes (its `input` gives size and layout), so exports can be bases again.
 */
async function readSidecar(path: string): Promise<OnnxPreprocessing> {
  const sidecar = `${path}.json`;
  if (!existsSync(sidecar)) return {};
  let json: OnnxPreprocessing & { input?: { height?: number; width?: number; layout?: Layout } };
  const text = (await readModelFile(sidecar, 'JSON sidecar', 16 * MiB)).toString('utf8');
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw usageError(`cannot read ${sidecar}: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw usageError(`${sidecar}: expected a JSON object of preprocessing keys (normalize, size, layout, resize, cut)`);
  const { normalize, size, layout, resize, cut, input } = json;
  const fromInput = input?.height && input.width ? { height: input.height, width: input.width } : undefined;
  return { normalize, size: size ?? fromInput, layout: layout ?? input?.layout, resize, cut };
}

/** Per-channel mean and std must match the input's channels, be finite, std > 0: else features are NaN. */
export function checkNormalize(n: Normalize, channels: number, where: string): Normalize {
  const ok = (xs: unknown) => Array.isArray(xs) && xs.length === channels && xs.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!ok(n.mean) || !ok(n.std) || n.std.some((x) => x <= 0)) {
    throw usageError(
      `${where}: normalisation needs ${channels} finite mean values and ${channels} std values > 0 (got mean ${JSON.stringify(n.mean)}, std ${JSON.stringify(n.std)})`,
    );
  }
  return n;
}

const DENSE = new Set(['Gemm', 'MatMul']);
const POOLING = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'ReduceMean', 'ReduceMax', 'AveragePool']);
const PASS_THROUGH = new Set(['Softmax', 'LogSoftmax', 'Sigmoid', 'Identity', 'Dropout', 'Flatten', 'Reshape', 'Squeeze', 'Transpose']);
const ACTIVATIONS = new Set(['Relu', 'Clip', 'Gelu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'HardSwish']);

/**
 * The last feature tensor before the model's classifier, as `classifierStart` finds it for a
 * LayersModel: walk back from the output over the classifier (dense layers, their biases and
 * activations, softmax, flatten) and its global pooling, and stop at the feature map it pools.
 * A model with no dense layer at its top is all features: its output.
 */
function classifierInput(graph: GraphView): string {
  const producer = new Map<string, NodeView>();
  for (const n of graph.node) for (const o of n.output) producer.set(o, n);
  const output = graph.output[0].name;
  let tensor = output;
  let dense = false;
  const fromDense = (t: string) => DENSE.has(producer.get(t)?.opType ?? '');
  for (let node = producer.get(tensor); node; node = producer.get(tensor)) {
    const op = node.opType;
    if (POOLING.has(op)) return dense ? node.input[0] : output;
    const partOfClassifier =
      DENSE.has(op) ||
      PASS_THROUGH.has(op) ||
      (op === 'Add' && node.input.some(fromDense)) ||
      (ACTIVATIONS.has(op) && dense && fromDense(node.input[0]));
    if (!partOfClassifier) break;
    if (DENSE.has(op)) dense = true;
    // A bias Add continues from its MatMul; every other op from its data input.
    tensor = op === 'Add' ? node.input.find(fromDense)! : node.input[0];
  }
  return dense ? tensor : output;
}

export interface OnnxBaseOptions extends OnnxPreprocessing, OnnxSessionOptions {}

/** Load `path` as a frozen ONNX base; `options` override the sidecar, which overrides what the file says. */
export async function loadOnnxBase(path: string, options: OnnxBaseOptions = {}): Promise<OnnxBase> {
  // Protobuf caps a message at 2 GiB; a device or a folder is a usage error naming what was expected.
  const bytes = new Uint8Array(await readModelFile(path, 'ONNX model', 2048 * MiB));
  const pre = {
    ...(await readSidecar(path)),
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as OnnxPreprocessing & OnnxSessionOptions;
  return onnxBaseFromBytes(bytes, path, pre);
}

/** An ONNX model's bytes as a frozen base, named `path` (the file it came from, or the base's name) in messages. */
export async function onnxBaseFromBytes(bytes: Uint8Array, path: string, pre: OnnxPreprocessing & OnnxSessionOptions): Promise<OnnxBase> {
  let model: ModelView;
  try {
    model = decodeModel(bytes).view;
  } catch (e) {
    throw usageError(`${path} is not an ONNX model (protobuf: ${(e as Error).message.split('\n')[0]})`);
  }
  const graph = model.graph;
  if (!graph) throw usageError(`${path} is not an ONNX model: it has no graph`);
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((v) => !initializers.has(v.name));
  if (inputs.length !== 1) throw usageError(`${path} has ${inputs.length} inputs; an ONNX base needs one image input`);
  const shape = dims(inputs[0].type);
  if (shape.length !== 4) throw usageError(`${path}: input ${inputs[0].name} has shape [${shape.join(',')}], not an image batch`);
  const channelsFirst = shape[1] === 1 || shape[1] === 3;
  if (pre.layout !== undefined && pre.layout !== 'nchw' && pre.layout !== 'nhwc')
    throw usageError(`${path}: layout must be nchw or nhwc, not ${JSON.stringify(pre.layout)}`);
  const layout: Layout = pre.layout ?? (channelsFirst && shape[3] !== 1 && shape[3] !== 3 ? 'nchw' : 'nhwc');
  const [h, w, c] = layout === 'nchw' ? [shape[2], shape[3], shape[1]] : [shape[1], shape[2], shape[3]];
  const height = pre.size?.height ?? (typeof h === 'number' ? h : undefined);
  const width = pre.size?.width ?? (typeof w === 'number' ? w : undefined);
  if (!height || !width) throw usageError(`${path}: input size is dynamic; give it with --input-size HxW or "size" in ${path}.json`);
  if (c !== 1 && c !== 3) throw usageError(`${path}: input has ${c} channels; graft feeds images with 1 or 3`);
  const input: ImageSize = { height, width, channels: c };
  // Constant nodes hold numbers, not features of the image: not worth offering as cuts.
  const computed = graph.node.filter((n) => n.opType !== 'Constant').flatMap((n) => n.output.filter((o) => o));
  // A token sequence ([batch, tokens, hidden], where the graph says its shape) is also offered as its first token and its mean.
  const ranks = new Map([...graph.output, ...graph.valueInfo].map((v) => [v.name, dims(v.type).length] as const));
  const sequences = computed.filter((t) => ranks.get(t) === 3);
  const tensors = computed.flatMap((t) => (ranks.get(t) === 3 ? [t, ...tokenCuts(t)] : [t]));
  const ops = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n.opType] as const)));
  for (const t of sequences)
    for (const c of tokenCuts(t)) ops.set(c, `${splitTokenCut(c).pooling === 'cls' ? 'first token' : 'token mean'} of ${t}`);
  const outputs = graph.output.map((o) => o.name);
  const guess = outputs.includes('pooler_output') ? 'pooler_output' : classifierInput(graph);
  const suggestedCut = pre.cut ?? (ranks.get(guess) === 3 ? `${guess}:mean` : guess);
  if (!ops.has(suggestedCut)) throw usageError(`${path}: default cut "${suggestedCut}" (from ${path}.json) is not a tensor of the model`);
  const modelHash = digest(bytes);
  const sequenceOut = outputs.some((o) => ranks.get(o) === 3);
  const outputCuts = sequenceOut ? outputs.flatMap((o) => (ranks.get(o) === 3 ? tokenCuts(o) : ranks.get(o) === 2 ? [o] : [])) : [];
  const blockCuts = [...new Set([...layerEnds(graph), ...outputCuts, suggestedCut])];
  const info: OnnxModelInfo = { bytes, layout, tensors, ops, blockCuts };
  const frozenTrunk = async (cut: string): Promise<FrozenTrunk> => {
    const runner = await createOnnxRunner(pruneToCut(bytes, cut), { threads: pre.threads });
    return { ...onnxTrunk(runner, cut, layout), id: digest('onnx', modelHash, cut, layout) };
  };
  return {
    name: `onnx:${path}`,
    kind: 'onnx',
    onnx: info,
    frozenTrunk,
    input,
    normalize: checkNormalize(pre.normalize ?? { mean: Array(c).fill(0), std: Array(c).fill(1) }, c, path),
    resize: pre.resize ?? 'cover',
    blocks: [],
    suggestedCut,
    head: { kind: 'linear', dropout: 0.2, pool: 'avg' },
    provenance: `ONNX model ${path} (${model.producerName || 'unknown producer'}, opset ${model.opsetImport.map((o) => Number(o.version)).join('/')}), frozen, on ONNX Runtime`,
  };
}

// ONNX Runtime as graft's inference engine for frozen trunks: a frozen trunk is pure inference,
// and onnxruntime-node runs MobileNetV2 about 8x faster per image than TF.js's wasm backend here.
// The trainable part stays in TF.js; tensors cross over as Float32Arrays.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { InferenceSession } from 'onnxruntime-node';
import { GraftError } from '../core/errors.js';

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use so commands that never need it do not pay for it. */
async function ort(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((e: Error) => {
    ortModule = undefined;
    throw new GraftError(`ONNX Runtime is not available (${e.message.split('\n')[0]})`);
  });
  return ortModule;
}

/** True when onnxruntime-node loads on this machine. */
export async function onnxRuntimeAvailable(): Promise<boolean> {
  return ort().then(
    () => true,
    () => false,
  );
}

export interface OnnxSessionOptions {
  /** Intra-op threads (default: GRAFT_THREADS if set, else every core). */
  threads?: number;
}

/** Layout of a model's image input: graft's tensors are NHWC, PyTorch exports take NCHW. */
export type Layout = 'nhwc' | 'nchw';

export interface OnnxRunner {
  readonly inputName: string;
  readonly outputNames: readonly string[];
  /** Run one batch; `outputs` picks graph outputs by name (default: all). */
  run(
    input: Float32Array,
    dims: readonly number[],
    outputs?: readonly string[],
  ): Promise<Map<string, { data: Float32Array; dims: number[] }>>;
  release(): Promise<void>;
}

let threadsChosen: number | undefined;

/** Threads for sessions created from now on (the CLI's --threads); undefined: the default. */
export function setOnnxThreads(threads: number | undefined): void {
  threadsChosen = threads;
}

/** --threads, else GRAFT_THREADS, else every core: inference parallelises well, unlike wasm training. */
export function defaultOnnxThreads(): number {
  const env = Number(process.env.GRAFT_THREADS);
  return threadsChosen ?? (Number.isInteger(env) && env > 0 ? env : availableParallelism());
}

/** An input fed as it is: token ids, masks, or floats. */
export type OnnxFeed =
  | { type: 'int64'; data: BigInt64Array; dims: number[] }
  | { type: 'int32'; data: Int32Array; dims: number[] }
  | { type: 'float32'; data: Float32Array; dims: number[] };

/** A model with any number of inputs (a text transformer's ids and mask); float outputs come back. */
export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OnnxFeed>, outputs?: readonly string[]): Promise<Map<string, { data: Float32Array; dims: number[] }>>;
  release(): Promise<void>;
}

export async function createOnnxSession(model: Uint8Array | string, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
  const o = await ort();
  let session: InferenceSession;
  try {
    session = await o.InferenceSession.create(model as Uint8Array, {
      intraOpNumThreads: options.threads ?? defaultOnnxThreads(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new GraftError(`ONNX Runtime could not load the model: ${(e as Error).message.split('\n')[0]}`);
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      const tensors = Object.fromEntries(Object.entries(feeds).map(([name, f]) => [name, new o.Tensor(f.type, f.data, f.dims)]));
      const result = outputs ? await session.run(tensors, outputs as string[]) : await session.run(tensors);
      const out = new Map<string, { data: Float32Array; dims: number[] }>();
      // Only float outputs are features; others (shapes, indices) are left out of the result.
      for (const [name, t] of Object.entries(result))
        if (t.type === 'float32') out.set(name, { data: t.data as Float32Array, dims: [...t.dims] });
      return out;
    },
    release: () => session.release(),
  };
}

export async function createOnnxRunner(model: Uint8Array | string, options: OnnxSessionOptions = {}): Promise<OnnxRunner> {
  const session = await createOnnxSession(model, options);
  if (session.inputNames.length !== 1) {
    await session.release();
    throw new GraftError(
      `ONNX model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); graft needs exactly one image input`,
    );
  }
  const inputName = session.inputNames[0];
  return {
    inputName,
    outputNames: session.outputNames,
    run: (input, dims, outputs) => session.run({ [inputName]: { type: 'float32', data: input, dims: [...dims] } }, outputs),
    release: () => session.release(),
  };
}

/** NHWC ⇄ NCHW for a batch of images held as a plain array. */
export function transposeImages(data: Float32Array, [n, a, b, c]: number[], toChannelsFirst: boolean): Float32Array {
  // toChannelsFirst: [n, h, w, c] → [n, c, h, w]; otherwise [n, c, h, w] → [n, h, w, c].
  const out = new Float32Array(data.length);
  const plane = toChannelsFirst ? a * b : b * c;
  const channels = toChannelsFirst ? c : a;
  for (let i = 0; i < n; i++) {
    const base = i * plane * channels;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < channels; ch++) {
        if (toChannelsFirst) out[base + ch * plane + p] = data[base + p * channels + ch];
        else out[base + p * channels + ch] = data[base + ch * plane + p];
      }
    }
  }
  return out;
}

/**
 * A frozen trunk on ONNX Runtime: NHWC batches in, the named output back, 4-D outputs of an NCHW
 * model turned back to NHWC. `predictRaw` takes and gives plain arrays (no TF.js tensors at all).
 */
export interface OnnxTrunk {
  predict(x: tf.Tensor): Promise<tf.Tensor>;
  predictRaw(x: Float32Array, dims: number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release(): Promise<void>;
}

export function onnxTrunk(runner: OnnxRunner, output: string, layout: Layout): OnnxTrunk {
  const predictRaw = async (x: Float32Array, dims: number[]) => {
    const [n, h, w, c] = dims;
    const input = layout === 'nchw' ? transposeImages(x, dims, true) : x;
    const out = (await runner.run(input, layout === 'nchw' ? [n, c, h, w] : dims, [output])).get(output);
    if (!out) throw new GraftError(`ONNX tensor ${output} is not a float tensor: it cannot be a cut`);
    if (layout !== 'nchw' || out.dims.length !== 4) return out;
    const [on, oc, oh, ow] = out.dims;
    return { data: transposeImages(out.data, out.dims, false), dims: [on, oh, ow, oc] };
  };
  return {
    predictRaw,
    async predict(x) {
      const out = await predictRaw((await x.data()) as Float32Array, x.shape);
      return tf.tensor(out.data, out.dims);
    },
    release: () => runner.release(),
  };
}

// A trained model as the server runs it: each instance of a request prepared on its own (an image
// decoded and resized; a bad one is that request's 400, not the batch's failure), then a batch of
// them run at once. Image classifiers run as one ONNX graph on ONNX Runtime (graft's own export,
// trunk and head joined); text classifiers run through their kind's predict.
import { extname } from 'node:path';
import { createOnnxRunner, transposeImages, type OnnxRunner } from '../backend/onnx-runtime.js';
import { GraftError } from '../core/errors.js';
import { decodeImageBuffer } from '../data/images.js';
import type { ImageSet, ImageSize } from '../data/types.js';
import { batchToArray } from '../engine/tensors.js';
import type { OnnxSidecar } from '../kinds/image.js';
import { loadModel, type AnyModel } from '../kinds/index.js';

/** A request's input the server could not use: the request's 400. */
export class BadInput extends GraftError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** One instance as a request gives it: image bytes, or a text. */
export type Instance = { kind: 'image'; bytes: Uint8Array } | { kind: 'text'; text: string };

export interface Prediction {
  /** Probabilities in the order of `labels`. */
  probabilities: number[];
}

export interface ServedModel {
  name: string;
  kind: 'image' | 'text';
  labels: string[];
  /** What GET /v1/models/NAME says besides its status: the input and its preprocessing. */
  metadata: Record<string, unknown>;
  prepare(instance: Instance): Promise<unknown>;
  run(batch: unknown[]): Promise<Prediction[]>;
  close(): Promise<void>;
}

export async function loadServedModel(name: string, dir: string): Promise<ServedModel> {
  const model = await loadModel(dir);
  if (model.kind === 'image' && !model.meta.medium) return imageModel(name, model);
  if (model.kind === 'text') return textModel(name, model);
  await model.dispose();
  throw new GraftError(
    `${dir}: graft serve runs image and text classifiers; this is a ${model.kind === 'image' ? 'audio' : model.kind} model`,
    2,
  );
}

async function imageModel(name: string, model: Extract<AnyModel, { kind: 'image' }>): Promise<ServedModel> {
  const exported = await model.export('onnx');
  await model.dispose();
  const sidecar = exported.sidecar as OnnxSidecar;
  const runner: OnnxRunner = await createOnnxRunner(exported.bytes);
  const { height, width, channels, layout } = sidecar.input;
  const size: ImageSize = { height, width, channels: channels === 1 ? 1 : 3 };
  const per = height * width * channels;
  return {
    name,
    kind: 'image',
    labels: sidecar.labels,
    metadata: { input: sidecar.input, normalize: sidecar.normalize, resize: sidecar.resize, base: sidecar.graft.base },
    async prepare(instance) {
      if (instance.kind !== 'image') throw new BadInput('this model takes images');
      try {
        return await decodeImageBuffer(instance.bytes, size, sidecar.resize ?? 'cover', 'image');
      } catch (e) {
        throw new BadInput((e as Error).message);
      }
    },
    async run(batch) {
      const n = batch.length;
      const pixels = new Uint8Array(n * per);
      batch.forEach((p, i) => pixels.set(p as Uint8Array, i * per));
      const set: ImageSet = { classes: sidecar.labels, size, pixels, labels: new Int32Array(n), ids: [] };
      const nhwc = await batchToArray(set, sidecar.normalize, [...Array(n).keys()]);
      const nchw = layout === 'nchw';
      const x = nchw ? transposeImages(nhwc, [n, height, width, channels], true) : nhwc;
      const out = await runner.run(x, nchw ? [n, channels, height, width] : [n, height, width, channels], [sidecar.output]);
      const { data } = out.get(sidecar.output)!;
      const k = sidecar.labels.length;
      return Array.from({ length: n }, (_, i) => ({ probabilities: Array.from(data.subarray(i * k, (i + 1) * k)) }));
    },
    close: () => runner.release(),
  };
}

async function textModel(name: string, model: Extract<AnyModel, { kind: 'text' }>): Promise<ServedModel> {
  const labels = model.classes;
  return {
    name,
    kind: 'text',
    labels,
    metadata: { input: 'text', base: model.describe().base },
    async prepare(instance) {
      if (instance.kind !== 'text') throw new BadInput('this model takes texts');
      return instance.text;
    },
    async run(batch) {
      const predictions = await model.predict(batch as string[], { top: labels.length });
      return predictions.map((p) => ({ probabilities: labels.map((l) => p.top.find((t) => t.label === l)!.probability) }));
    },
    close: () => model.dispose(),
  };
}

/** The content types an image instance may come as (raw bodies and multipart parts). */
export const isImageType = (type: string | undefined, filename?: string): boolean =>
  !!type?.startsWith('image/') ||
  (!!filename && ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp'].includes(extname(filename).toLowerCase()));

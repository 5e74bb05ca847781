// A trained model as the server runs it: each instance of a request decoded on its own by the
// model's kind (`decode`, as `graft predict` decodes a file: an image resized, a recording drawn as
// its spectrogram; a bad one is that request's 400 before it joins a batch), then a batch of what
// the kind decoded answered at once. Image classifiers run as one ONNX graph on ONNX Runtime
// (graft's own export, trunk and head joined) on the pixels their kind decoded; every other kind
// (texts, recordings, several tasks, boxes) answers through its own `predictDecoded` (a detector's
// runs its own export, one ONNX graph, on ONNX Runtime: kinds/detection.ts). Nothing is
// written to disk, and no message names a server path: a client's bytes are "the instance".
import { createOnnxRunner, transposeImages, type OnnxRunner } from '../backend/onnx-runtime.js';
import { GraftError } from '../core/errors.js';
import { DecodeError, isImagePath } from '../data/images.js';
import type { ImageSet, ImageSize } from '../data/types.js';
import { batchToArray } from '../engine/tensors.js';
import type { ImageClassifier, OnnxSidecar } from '../kinds/image.js';
import type { DecodedPixels } from '../kinds/inputs.js';
import { loadModel, type AnyModel, type ModelInput, type ModelKindName, type TrainedModel } from '../kinds/index.js';

/** A request's input the server could not use: the request's 400. */
export class BadInput extends GraftError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** One instance as a request gives it: a file's bytes (an image, a recording), or a text. */
export type Instance = { kind: 'file'; bytes: Uint8Array } | { kind: 'text'; text: string };

/** Probabilities in the order of `labels` (classifiers), or the kind's own answer (boxes, one answer per task). */
export type Prediction = number[] | Record<string, unknown>;

export interface ServedModel {
  name: string;
  /** The model's kind (a recording model is an image classifier whose input is audio). */
  kind: ModelKindName;
  labels: string[];
  /** What GET /v1/models/NAME says besides its status: the input and its preprocessing. */
  metadata: Record<string, unknown>;
  /** An instance decoded by the model's kind; a BadInput (the request's 400) when it cannot be used. */
  prepare(instance: Instance): Promise<unknown>;
  run(batch: unknown[]): Promise<Prediction[]>;
  close(): Promise<void>;
}

/** What a kind's messages call a client's bytes (never a path of the server's). */
const INSTANCE = 'the instance';

/** A kind's refusal as the client's one line: a decoder's reason, or the first line of the message. */
const badInput = (e: unknown): unknown =>
  e instanceof GraftError ? new BadInput(e instanceof DecodeError ? e.reason : e.message.split('\n')[0]) : e;

export async function loadServedModel(name: string, dir: string): Promise<ServedModel> {
  const model = await loadModel(dir);
  try {
    if (model.kind === 'image' && !model.meta.medium) {
      // A frozen TF.js graph trunk does not export to ONNX: such a classifier runs on TF.js, through its kind.
      const exported = await model.export('onnx').catch((e: unknown) => {
        if (e instanceof GraftError && e.exitCode === 2) return undefined;
        throw e;
      });
      if (exported) return await onnxClassifier(name, model, exported.bytes, exported.sidecar as OnnxSidecar);
    }
    return kindModel(name, model);
  } catch (e) {
    await model.dispose();
    throw e;
  }
}

/** The instance as the kind's input: a text, or bytes (their type sniffed by the kind's decoder). */
function prepareWith(model: TrainedModel, takes: 'texts' | 'images' | 'recordings') {
  return async (instance: Instance): Promise<unknown> => {
    if ((instance.kind === 'text') !== (takes === 'texts')) throw new BadInput(`this model takes ${takes}`);
    const input: ModelInput = instance.kind === 'text' ? instance.text : { bytes: instance.bytes, name: INSTANCE };
    try {
      return await model.decode(input, 0);
    } catch (e) {
      throw badInput(e);
    }
  };
}

/** An image classifier as one ONNX graph, fed the pixels its kind decodes and normalised as the kind normalises them. */
async function onnxClassifier(name: string, model: ImageClassifier, onnx: Uint8Array, sidecar: OnnxSidecar): Promise<ServedModel> {
  const input = sidecar.input;
  // Recordings are served through their kind (loadServedModel): an export taking samples never comes here.
  if ('samples' in input) throw new GraftError(`${name}: an export taking samples is served through its kind`);
  const runner: OnnxRunner = await createOnnxRunner(onnx);
  const { height, width, channels, layout } = input;
  const size: ImageSize = { height, width, channels: channels === 1 ? 1 : 3 };
  const per = height * width * channels;
  return {
    name,
    kind: 'image',
    labels: sidecar.labels,
    metadata: { input: sidecar.input, normalize: sidecar.normalize, resize: sidecar.resize, base: sidecar.graft.base },
    prepare: prepareWith(model, 'images'),
    async run(batch) {
      const n = batch.length;
      const pixels = new Uint8Array(n * per);
      batch.forEach((d, i) => pixels.set((d as DecodedPixels).pixels, i * per));
      const set: ImageSet = { classes: sidecar.labels, size, pixels, labels: new Int32Array(n), ids: [] };
      const nhwc = await batchToArray(set, sidecar.normalize, [...Array(n).keys()]);
      const nchw = layout === 'nchw';
      const x = nchw ? transposeImages(nhwc, [n, height, width, channels], true) : nhwc;
      const out = await runner.run(x, nchw ? [n, channels, height, width] : [n, height, width, channels], [sidecar.output]);
      const { data } = out.get(sidecar.output)!;
      const k = sidecar.labels.length;
      return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * k, (i + 1) * k)));
    },
    close: async () => {
      await runner.release();
      await model.dispose();
    },
  };
}

/**
 * Any model through its kind: a batch is one predictDecoded call. Classifiers of texts (and of
 * images with a TF.js graph trunk) answer probabilities in label order; recordings, several tasks
 * and detectors answer the kind's prediction without its `file`.
 */
function kindModel(name: string, model: AnyModel): ServedModel {
  const m: TrainedModel = model;
  const description = m.describe();
  const { input } = description;
  const labels = description.outputs.flatMap((o) => o.labels ?? []);
  const takes = input.type === 'text' ? 'texts' : input.type === 'audio' ? 'recordings' : 'images';
  const probabilities = model.kind === 'text' || (model.kind === 'image' && input.type === 'image');
  const metadata =
    model.kind === 'text'
      ? { input: 'text', base: description.base }
      : model.kind === 'image' && probabilities
        ? { input: model.meta.input, normalize: model.meta.normalize, resize: model.meta.resize, base: description.base }
        : { input, outputs: description.outputs, base: description.base };
  return {
    name,
    kind: model.kind,
    labels,
    metadata,
    prepare: prepareWith(m, takes),
    async run(batch) {
      let predictions: unknown[];
      try {
        predictions = await m.predictDecoded(batch, { top: probabilities ? labels.length : 5 });
      } catch (e) {
        // Whatever the kind refuses is the instance's fault: one line, a 400 (the batcher runs a
        // failed batch again one instance at a time, so it is that instance's request alone).
        throw badInput(e);
      }
      if (probabilities)
        return (predictions as { top: { label: string; probability: number }[] }[]).map((p) =>
          labels.map((l) => p.top.find((t) => t.label === l)!.probability),
        );
      return predictions.map((p) => {
        const { file: _file, ...rest } = p as Record<string, unknown>;
        return rest;
      });
    },
    close: () => model.dispose(),
  };
}

/** The content types an image instance may come as (raw bodies and multipart parts). */
export const isImageType = (type: string | undefined, filename?: string): boolean =>
  !!type?.startsWith('image/') || (!!filename && isImagePath(filename));

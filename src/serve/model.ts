// A trained model as the server runs it: each instance of a request prepared on its own (an image
// decoded and resized, a recording decoded and checked; a bad one is that request's 400 before it
// joins a batch), then a batch of them run at once. Image classifiers run as one ONNX graph on ONNX
// Runtime (graft's own export, trunk and head joined); text classifiers run through their kind's
// predict. No message names a server path: a client sees "the instance", never a temporary file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { createOnnxRunner, transposeImages, type OnnxRunner } from '../backend/onnx-runtime.js';
import { GraftError } from '../core/errors.js';
import { AUDIO_EXTENSIONS, decodeAudio } from '../data/audio/read.js';
import { DecodeError, decodeImageBuffer, isImagePath } from '../data/images.js';
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

/** One instance as a request gives it: a file's bytes (an image, a recording), or a text. */
export type Instance = { kind: 'file'; bytes: Uint8Array } | { kind: 'text'; text: string };

/** Probabilities in the order of `labels` (classifiers), or the kind's own answer (boxes, one answer per task). */
export type Prediction = number[] | Record<string, unknown>;

export interface ServedModel {
  name: string;
  kind: string;
  labels: string[];
  /** What GET /v1/models/NAME says besides its status: the input and its preprocessing. */
  metadata: Record<string, unknown>;
  prepare(instance: Instance): Promise<unknown>;
  run(batch: unknown[]): Promise<Prediction[]>;
  /** What `prepare` made for a request, once its answer is out (a temporary file removed). */
  release?(prepared: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export async function loadServedModel(name: string, dir: string): Promise<ServedModel> {
  const model = await loadModel(dir);
  if (model.kind === 'image' && !model.meta.medium) return imageModel(name, model);
  if (model.kind === 'text') return textModel(name, model);
  return fileModel(name, model);
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
      if (instance.kind !== 'file') throw new BadInput('this model takes images');
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
      return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * k, (i + 1) * k)));
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
      return predictions.map((p) => labels.map((l) => p.top.find((t) => t.label === l)!.probability));
    },
    close: () => model.dispose(),
  };
}

/** A file's type from its first bytes: what the kinds that read files need as its extension. */
export function sniffExtension(bytes: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return '.jpg';
  if (ascii(1, 4) === 'PNG') return '.png';
  if (ascii(0, 3) === 'GIF') return '.gif';
  if (ascii(0, 4) === 'RIFF') return ascii(8, 12) === 'WEBP' ? '.webp' : '.wav';
  if (ascii(0, 2) === 'BM') return '.bmp';
  if (ascii(0, 4) === 'fLaC') return '.flac';
  if (ascii(0, 4) === 'OggS') return '.ogg';
  if (ascii(0, 3) === 'ID3' || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0)) return '.mp3';
  return undefined;
}

/**
 * Any other kind (recordings, several tasks, detection) through its own predict, which reads
 * files: each instance is first decoded as the kind will decode it, so a bad one is its request's
 * 400 before it shares a batch (the kind decodes it again from the file: the price of that), then
 * goes to a temporary file named for its type, removed once answered; a batch is one predict call.
 */
async function fileModel(name: string, model: AnyModel): Promise<ServedModel> {
  const description = model.describe();
  const { input } = description;
  const medium = model.kind === 'image' ? model.meta.medium : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'graft-serve-'));
  // A message from the kind names the file it read: the client is told "the instance" instead.
  const named = new RegExp(`${escapeRegExp(dir + sep)}[\\w.-]*|${escapeRegExp(dir)}`, 'g');
  const reason = (e: GraftError) => (e instanceof DecodeError ? e.reason : e.message.split('\n')[0]).replace(named, 'the instance');
  let next = 0;
  return {
    name,
    kind: input.type === 'audio' ? 'audio' : model.kind,
    labels: description.outputs.flatMap((o) => o.labels ?? []),
    metadata: { input, outputs: description.outputs, base: description.base },
    async prepare(instance) {
      const noun = input.type === 'audio' ? 'recordings' : 'images';
      if (instance.kind !== 'file') throw new BadInput(`this model takes ${noun}`);
      const ext = sniffExtension(instance.bytes);
      if (!ext) throw new BadInput('not an image or a recording graft can read');
      const audio = AUDIO_EXTENSIONS.includes(ext);
      if (audio !== (input.type === 'audio')) throw new BadInput(`this model takes ${noun}, not ${audio ? 'a recording' : 'an image'}`);
      try {
        if (medium?.kind === 'audio') await decodeAudio(instance.bytes, medium.spec, `recording${ext}`);
        else if (input.type === 'image')
          await decodeImageBuffer(instance.bytes, { height: input.height, width: input.width, channels: input.channels === 1 ? 1 : 3 });
      } catch (e) {
        if (e instanceof GraftError) throw new BadInput(reason(e));
        throw e;
      }
      const file = join(dir, `${next++}${ext}`);
      await writeFile(file, instance.bytes);
      return file;
    },
    async run(batch) {
      try {
        const predictions = await model.predict(batch as string[], { top: 5 });
        return predictions.map((p) => {
          const { file: _file, ...rest } = p as unknown as Record<string, unknown>;
          return rest;
        });
      } catch (e) {
        // A file its decoder refused is the request's fault: one line, a 400 (the batcher runs a
        // failed batch again one instance at a time, so it is that instance's request alone).
        if (e instanceof GraftError) throw new BadInput(reason(e));
        throw e;
      }
    },
    release: async (files) => {
      await Promise.all((files as string[]).map((f) => rm(f, { force: true })));
    },
    close: async () => {
      await model.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The content types an image instance may come as (raw bodies and multipart parts). */
export const isImageType = (type: string | undefined, filename?: string): boolean =>
  !!type?.startsWith('image/') || (!!filename && isImagePath(filename));

// The object detector: a base grafted with a CenterNet head (src/graft/detect.ts), trained in
// stages on boxes from COCO JSON, Pascal VOC or YOLO files. On a LayersModel base its directory is
// a plain TF.js LayersModel (letterboxed images in, the output grid out) and graft.json saying how
// to letterbox, normalise and decode, so a page with @tensorflow/tfjs alone can draw its boxes. On
// a frozen ONNX base (nanodet) the LayersModel is the head alone and the trunk is kept beside it
// in trunk/model.onnx, as an image classifier keeps one: exported joined. Either way predict and
// evaluate run the export, one ONNX graph, in one ONNX Runtime session (TF.js where it does not load).
import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { createOnnxRunner, onnxRuntimeAvailable, transposeImages, type Layout } from '../backend/onnx-runtime.js';
import { makeDirs } from '../io/destination.js';
import { loadImageBase } from '../bases/index.js';
import type { ImageBase, Normalize } from '../bases/types.js';
import type { Callback } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { imageSize, orientedSize } from '../data/detection/clean.js';
import { letterbox, type Placement } from '../data/detection/geometry.js';
import { loadDetectionData, splitDetection, firstImages, type DetectionSplitOptions } from '../data/detection/index.js';
import { placedImages, placeSet, type PlacedSet } from '../data/detection/placed.js';
import { drawBoxes, renderPlaced, type DrawnBox } from '../data/detection/render.js';
import type { Box, DetectionSample, DetectionSet, DetectionSplits, GroundTruth } from '../data/detection/types.js';
import { open as openImage } from '../data/images.js';
import { batchToArray } from '../engine/tensors.js';
import type { FeatureCache } from '../engine/feature-cache.js';
import type { Engine } from '../engine/frozen.js';
import { decodeGrids, DEFAULT_NMS_IOU, toOriginal } from '../evaluate/detection-decode.js';
import { detectionReport, evaluateDetections, type Detection, type DetectionMetrics } from '../evaluate/detection.js';
import { DETECTION_LAYOUT, disposeDetector, graftDetector, type GraftedDetector, type HeadStart } from '../graft/detect.js';
import { pipeline } from '../graft/graft.js';
import { fileHandler } from '../io/layers-files.js';
import { layersModelToOnnx } from '../onnx/from-layers.js';
import { joinTrunkAndHead } from '../onnx/join.js';
import { decodeModel } from '../onnx/prune.js';
import { DETECTION_DEFAULTS, trainDetectorStages, type DetectionTrainOptions } from '../train/detection.js';
import type { TrainResult } from '../train/driver.js';
import { skipCounter, trainSeeded } from './one-call.js';
import {
  checkGraftJson,
  IMAGE_SIZE_JSON,
  LABELS_JSON,
  META_JSON,
  NORMALIZE_JSON,
  normalizeFitsInput,
  readGraftJson,
  requireFiles,
  trainingSeed,
  versions,
  writeModelDir,
} from './files.js';
import { inputName } from './inputs.js';
import { savedTrunk, TRUNK_JSON, trunkFromDir, trunkFromGraft, type SavedTrunk, type TrunkSource } from './trunk.js';
import type {
  EvaluateOptions,
  ModelDescription,
  ModelInput,
  ModelKind,
  ModelMeta,
  OnnxExport,
  SaveOptions,
  TrainedModel,
} from './types.js';

/** How the output grid becomes boxes: what a client needs besides the model. */
export interface DetectionDecoding {
  /** What each cell holds along the last axis. */
  layout: string;
  /** Input pixels per output cell. */
  stride: number;
  /** A detection is a cell whose class score is the maximum of its 3x3 neighbourhood and at least the threshold. */
  peak: '3x3 max';
  /** At most this many per image, best first. */
  topK: number;
  /** Class-wise non-maximum suppression at this IoU after decoding. */
  nmsIou: number;
}

/** What a detector's graft.json must hold before any of it is read. */
const DETECTION_GRAFT_JSON = z
  .looseObject({
    kind: z.literal('detection'),
    ...META_JSON,
    labels: LABELS_JSON,
    input: IMAGE_SIZE_JSON,
    normalize: NORMALIZE_JSON,
    resize: z.literal('letterbox'),
    cut: z.string(),
    trunk: TRUNK_JSON,
    scratch: z.boolean().default(false),
    scoreThreshold: z.number().min(0).max(1),
    decoding: z.looseObject({
      layout: z.string(),
      stride: z.number().int().positive(),
      peak: z.literal('3x3 max'),
      topK: z.number().int().positive(),
      nmsIou: z.number().min(0).max(1),
    }),
  })
  .superRefine(normalizeFitsInput);

/** graft.json of a detector. */
export interface DetectionGraftJson extends ModelMeta {
  kind: 'detection';
  labels: string[];
  input: { height: number; width: number; channels: 1 | 3 };
  normalize: Normalize;
  /** Images are scaled to fit the input with their aspect kept, centred, padded with black. */
  resize: 'letterbox';
  cut: string;
  /** A frozen ONNX base's trunk, saved beside the head (which then takes the cut's map); null when model.json is the whole detector. */
  trunk: SavedTrunk | null;
  scratch: boolean;
  /** Default score threshold for predictions. */
  scoreThreshold: number;
  decoding: DetectionDecoding;
}

export interface DetectedBox {
  label: string;
  score: number;
  /** [x, y, w, h] in pixels of the original image. */
  box: Box;
}

export interface DetectionPrediction {
  file: string;
  boxes: DetectedBox[];
}

/** One evaluated image: what is there and what the detector found (every score, for AP). */
export interface EvaluatedImage {
  file: string;
  truth: GroundTruth[];
  detections: Detection[];
}

export interface DetectionEvaluation {
  split: NonNullable<EvaluateOptions['split']>;
  metrics: DetectionMetrics;
  images: EvaluatedImage[];
}

export const DEFAULT_SCORE_THRESHOLD = 0.3;
/** Evaluation keeps nearly every peak: AP integrates over the whole ranking. */
const EVAL_THRESHOLD = 0.01;
const DECODING = { peak: '3x3 max', topK: 100, nmsIou: DEFAULT_NMS_IOU } as const;

/** An input as decoded for a detector: the image's size as seen, and its pixels letterboxed onto the model's input. */
export interface DecodedDetectionImage {
  name: string;
  width: number;
  height: number;
  placement: Placement;
  pixels: Uint8Array;
}

/** Where a detector's grids are computed: its own ONNX export in one ONNX Runtime session, or TF.js (trunk then head). */
interface GridEngine {
  name: 'ONNX Runtime' | 'TF.js';
  /** Why not ONNX Runtime. */
  reason?: string;
  /** n normalised NHWC images in, their grids out, flat. */
  grids(x: Float32Array, n: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/**
 * Each detector's engine, started on first use; kept by the graft for a detector fresh from
 * training (the one evaluated and the one returned share it), else by the loaded detector.
 */
const ENGINES = new WeakMap<object, { started: Promise<GridEngine>; ready?: GridEngine }>();

/** Release an owner's engine (a detector's, or a graft's), if it was started. */
async function releaseEngine(owner: object): Promise<void> {
  const slot = ENGINES.get(owner);
  ENGINES.delete(owner);
  if (slot) await (await slot.started.catch(() => undefined))?.release();
}

export class Detector implements TrainedModel<DetectionPrediction, DetectionEvaluation, DecodedDetectionImage> {
  readonly kind = 'detection';
  readonly dataOptions = ['strict'] as const;

  private constructor(
    /** The whole detector, or on a frozen base the head its trunk feeds. */
    readonly model: tf.LayersModel,
    readonly meta: DetectionGraftJson,
    private readonly trunk: TrunkSource | undefined,
    /** The graft it was trained as, when fresh from training. */
    readonly grafted?: GraftedDetector,
  ) {}

  static fromGrafted(g: GraftedDetector, o: Pick<SaveOptions, 'metrics' | 'training'> = {}): Detector {
    const meta: DetectionGraftJson = {
      kind: 'detection',
      labels: g.classes,
      input: g.input,
      normalize: g.base.normalize,
      resize: 'letterbox',
      base: g.base.name,
      cut: g.cut,
      trunk: savedTrunk(g.base, g.cut),
      scratch: g.scratch,
      scoreThreshold: DEFAULT_SCORE_THRESHOLD,
      decoding: { layout: DETECTION_LAYOUT, stride: g.stride, ...DECODING },
      metrics: o.metrics ?? {},
      training: o.training ?? {},
      versions: versions(),
    };
    return new Detector(g.model, meta, g.trunk ? trunkFromGraft(g) : undefined, g);
  }

  static async load(dir: string, json: DetectionGraftJson): Promise<Detector> {
    requireFiles(dir, ['model.json']);
    const meta = checkGraftJson<DetectionGraftJson>(dir, json, DETECTION_GRAFT_JSON, 'a detector');
    const model = await tf.loadLayersModel(fileHandler(join(dir, 'model.json')));
    return new Detector(model, meta, meta.trunk ? trunkFromDir(dir, meta.trunk) : undefined);
  }

  describe(): ModelDescription {
    const { meta } = this;
    const ran = ENGINES.get(this.grafted ?? this)?.ready;
    const engine = !ran
      ? 'predicts as one ONNX graph on ONNX Runtime (TF.js where it does not load)'
      : ran.name === 'ONNX Runtime'
        ? 'predicts as one ONNX graph on ONNX Runtime'
        : `predicts on TF.js (${ran.reason})`;
    return {
      kind: 'detection',
      base: meta.base,
      input: { type: 'image', ...meta.input, resize: 'letterbox' },
      outputs: [{ name: 'boxes', kind: 'detection', labels: meta.labels }],
      summary: `CenterNet head at stride ${meta.decoding.stride} on ${meta.cut}${meta.scratch ? ' (trained from scratch)' : ''}${meta.trunk ? `, frozen trunk in ${meta.trunk.path}` : ''}; ${engine}`,
      metrics: meta.metrics,
    };
  }

  /** The engine computing grids, started on first use and kept until dispose. */
  private gridEngine(): Promise<GridEngine> {
    const owner = this.grafted ?? this;
    let slot = ENGINES.get(owner);
    if (!slot) {
      const started = this.startEngine();
      const s: { started: Promise<GridEngine>; ready?: GridEngine } = { started };
      ENGINES.set(owner, (slot = s));
      void started.then(
        (e) => void (s.ready = e),
        () => ENGINES.get(owner) === s && ENGINES.delete(owner),
      );
    }
    return slot.started;
  }

  /**
   * The detector's export (what `graft export` writes: the layers model, or trunk and head joined)
   * in one ONNX Runtime session; TF.js, trunk then head, where ONNX Runtime does not load or the
   * model does not export.
   */
  private async startEngine(): Promise<GridEngine> {
    const { height, width, channels } = this.meta.input;
    const tfjs = async (reason: string): Promise<GridEngine> => {
      const detector = pipeline({ model: this.model, trunk: await this.trunk?.predictor() });
      return {
        name: 'TF.js',
        reason,
        async grids(data, n) {
          const x = tf.tensor4d(data, [n, height, width, channels]);
          const y = await Promise.resolve(detector.predict(x)).finally(() => x.dispose());
          return (await y.data().finally(() => y.dispose())) as Float32Array;
        },
        release: async () => undefined, // the trunk is released with the detector
      };
    };
    if (!(await onnxRuntimeAvailable())) return tfjs('ONNX Runtime does not load here');
    let exported: OnnxExport;
    try {
      exported = await this.export('onnx');
    } catch (e) {
      if (e instanceof GraftError && e.exitCode === 2) return tfjs(`no ONNX export: ${e.message}`);
      throw e;
    }
    const { input, output } = exported.sidecar as { input: { layout: Layout }; output: string };
    const runner = await createOnnxRunner(exported.bytes);
    const nchw = input.layout === 'nchw';
    return {
      name: 'ONNX Runtime',
      async grids(data, n) {
        const x = nchw ? transposeImages(data, [n, height, width, channels], true) : data;
        const out = await runner.run(x, nchw ? [n, channels, height, width] : [n, height, width, channels], [output]);
        return out.get(output)!.data;
      },
      release: () => runner.release(),
    };
  }

  /** Detections on placed images (canvas pixels), one list per image, in batches of `batchSize`. */
  async detectPlaced(set: PlacedSet, threshold: number, batchSize = 16): Promise<Detection[][]> {
    const { input, labels, decoding, normalize } = this.meta;
    const gridH = input.height / decoding.stride;
    const gridW = input.width / decoding.stride;
    const images = placedImages(set);
    const out: Detection[][] = [];
    const engine = await this.gridEngine();
    for (let s = 0; s < set.placed.length; s += batchSize) {
      const idx = Array.from({ length: Math.min(batchSize, set.placed.length - s) }, (_, k) => s + k);
      const data = await engine.grids(await batchToArray(images, normalize, idx), idx.length);
      const o = { classes: labels.length, stride: decoding.stride, threshold, topK: decoding.topK, nmsIou: decoding.nmsIou };
      out.push(...decodeGrids(data, idx.length, gridH, gridW, o));
    }
    return out;
  }

  /** Detections in pixels of each original image. */
  async detectSet(set: PlacedSet, threshold: number): Promise<Detection[][]> {
    return (await this.detectPlaced(set, threshold)).map((dets, i) => toOriginal(dets, set.placed[i].placement, set.placed[i].sample));
  }

  /** Boxes in each image (a file or its bytes), one at a time: each decoded, then answered. */
  async predict(inputs: readonly ModelInput[], o: { threshold?: number } = {}): Promise<DetectionPrediction[]> {
    const out: DetectionPrediction[] = [];
    for (const [i, input] of inputs.entries()) out.push(...(await this.predictDecoded([await this.decode(input, i)], o)));
    return out;
  }

  /** An image letterboxed onto the model's input, as evaluation places it (render.ts, from the file or the bytes). */
  async decode(input: ModelInput, index: number): Promise<DecodedDetectionImage> {
    const name = inputName(input, index);
    let size: { width: number; height: number } | string;
    if (typeof input === 'string') {
      if (!existsSync(input)) throw usageError(`${input}: no such file`);
      size = await imageSize(input);
    } else size = await bytesSize(input.bytes);
    if (typeof size === 'string') throw new GraftError(`cannot read ${name}: ${size}`);
    const placement = letterbox(size, this.meta.input);
    const pixels = await renderPlaced(typeof input === 'string' ? input : input.bytes, placement, this.meta.input.channels);
    return { name, ...size, placement, pixels };
  }

  /** Boxes in decoded images, all in one set (a server's batch runs together). */
  async predictDecoded(decoded: readonly DecodedDetectionImage[], o: { threshold?: number } = {}): Promise<DetectionPrediction[]> {
    const threshold = o.threshold ?? this.meta.scoreThreshold;
    const detections = await this.detectSet(decodedSet(decoded, this.meta), threshold);
    return decoded.map((d, i) => ({
      file: d.name,
      boxes: detections[i].map((b) => ({ label: this.meta.labels[b.label], score: b.score, box: roundBox(b.box) })),
    }));
  }

  /** COCO AP on the split training made with the same seed (or all of the data). */
  async evaluate(data: string, o: EvaluateOptions = {}): Promise<DetectionEvaluation> {
    const { meta } = this;
    const split = o.split ?? 'test';
    const set = inLabelOrder(await loadDetectionData(data, { strict: o.strict, callbacks: o.callbacks }), meta.labels);
    const splits = splitDetection(set, { seed: trainingSeed(meta.training, o.seed), ...splitCounts(meta.training) });
    const part: DetectionSet = split === 'all' ? set : splits[split];
    return this.evaluateSet(part, split, o);
  }

  async evaluateSet(part: DetectionSet, split: DetectionEvaluation['split'], o: Pick<EvaluateOptions, 'strict' | 'callbacks'> = {}) {
    return this.evaluatePlaced(await placeSet(part, this.meta.input, { strict: o.strict, callbacks: o.callbacks }), split);
  }

  /** COCO AP on images already letterboxed onto the input (as training placed its validation images). */
  async evaluatePlaced(placed: PlacedSet, split: DetectionEvaluation['split']): Promise<DetectionEvaluation> {
    const detections = await this.detectSet(placed, EVAL_THRESHOLD);
    const truth = placed.placed.map((p) => ({ objects: p.sample.objects }));
    const metrics = evaluateDetections(truth, detections, this.meta.labels);
    const images = placed.placed.map((p, i) => ({ file: p.sample.file, truth: p.sample.objects, detections: detections[i] }));
    return { split, metrics, images };
  }

  /**
   * The detector as one ONNX file: letterboxed images in (NHWC `input`; on an ONNX base, its trunk
   * and the head joined into one graph taking the trunk's input in its layout), the output grid out.
   */
  async export(format: 'onnx'): Promise<OnnxExport> {
    if (format !== 'onnx') throw usageError(`detectors export to onnx, not ${String(format)}`);
    const { meta } = this;
    let bytes = layersModelToOnnx(this.model, { inputName: 'input' });
    let input = { name: 'input', layout: 'nhwc' as Layout };
    if (meta.trunk) {
      const trunkBytes = await this.trunk?.onnxBytes();
      if (!trunkBytes) throw usageError(`${meta.base} is a TF.js graph model: its frozen trunk cannot be exported to ONNX`);
      const layout = meta.trunk.layout ?? 'nhwc';
      bytes = joinTrunkAndHead(trunkBytes, meta.trunk.output, layout, bytes);
      input = { name: decodeModel(bytes).view.graph!.input[0].name, layout };
    }
    const output = decodeModel(bytes).view.graph!.output[0].name;
    const sidecar = {
      kind: 'detection',
      labels: meta.labels,
      input: { ...input, ...meta.input },
      output,
      normalize: meta.normalize,
      resize: meta.resize,
      scoreThreshold: meta.scoreThreshold,
      decoding: meta.decoding,
      graft: { base: meta.base, cut: meta.cut },
    };
    const grid = `${meta.input.height / meta.decoding.stride}x${meta.input.width / meta.decoding.stride}x${meta.labels.length + 4}`;
    return {
      bytes,
      sidecar,
      summary: `input ${input.name} ${input.layout.toUpperCase()} ${meta.input.height}x${meta.input.width}x${meta.input.channels} (letterboxed), output ${output}: a ${grid} grid (${meta.decoding.layout})`,
      json: { input: sidecar.input, output, labels: meta.labels, decoding: meta.decoding },
    };
  }

  async save(dir: string, o: SaveOptions = {}): Promise<void> {
    const meta = { ...this.meta, metrics: o.metrics ?? this.meta.metrics, training: o.training ?? this.meta.training };
    await writeModelDir(dir, !!o.force, meta, async (tmp) => {
      await this.model.save(fileHandler(join(tmp, 'model.json')));
      await this.trunk?.write(tmp);
    });
  }

  formatPrediction(p: DetectionPrediction): string[] {
    if (!p.boxes.length) return [`${p.file}: nothing found`];
    return [
      `${p.file}: ${p.boxes.length} found`,
      ...p.boxes.map((b) => `  ${b.label} ${(100 * b.score).toFixed(1)}% at [${b.box.join(', ')}] (x, y, w, h)`),
    ];
  }

  formatEvaluation(e: DetectionEvaluation, what: string): string {
    return detectionReport(`${what} (${e.split} split)`, e.metrics);
  }

  evaluationJson(e: DetectionEvaluation): Record<string, unknown> {
    return { metrics: e.metrics };
  }

  /**
   * Each evaluated image drawn with what it holds (dashed) and what was found (solid, above the
   * score threshold), into `dir`; a file of the same name there is replaced only with `force`.
   */
  async drawEvaluation(
    e: DetectionEvaluation,
    dir: string,
    threshold = this.meta.scoreThreshold,
    o: { force?: boolean } = {},
  ): Promise<string[]> {
    const labels = this.meta.labels;
    const written: string[] = [];
    for (const [i, image] of e.images.entries()) {
      const boxes: DrawnBox[] = [
        ...image.truth.map((t) => ({ box: t.box, label: labels[t.label], kind: 'truth' as const })),
        ...image.detections
          .filter((d) => d.score >= threshold)
          .map((d) => ({ box: d.box, label: labels[d.label], score: d.score, kind: 'prediction' as const })),
      ];
      written.push(await drawInto(dir, image.file, i, boxes, o.force ?? false));
    }
    return written;
  }

  /**
   * Each prediction drawn on its image (predictions of files: the file is read again), into `dir`;
   * a file of the same name there is replaced only with `force`.
   */
  async drawPredictions(predictions: DetectionPrediction[], dir: string, o: { force?: boolean } = {}): Promise<string[]> {
    const written: string[] = [];
    for (const [i, p] of predictions.entries())
      written.push(
        await drawInto(
          dir,
          p.file,
          i,
          p.boxes.map((b) => ({ ...b, kind: 'prediction' as const })),
          o.force ?? false,
        ),
      );
    return written;
  }

  async dispose(): Promise<void> {
    await releaseEngine(this.grafted ?? this);
    if (this.grafted) await disposeDetector(this.grafted);
    else this.model.dispose();
    await this.trunk?.release();
  }
}

/** Decoded images as one placed set (no boxes known), in the detector's classes and input size. */
export function decodedSet(decoded: readonly DecodedDetectionImage[], meta: Pick<DetectionGraftJson, 'labels' | 'input'>): PlacedSet {
  const per = meta.input.height * meta.input.width * meta.input.channels;
  const pixels = new Uint8Array(decoded.length * per);
  decoded.forEach((d, i) => pixels.set(d.pixels, i * per));
  return {
    classes: meta.labels,
    size: meta.input,
    pixels,
    placed: decoded.map((d) => ({
      sample: { file: d.name, width: d.width, height: d.height, objects: [] },
      placement: d.placement,
      objects: [],
    })),
  };
}

async function drawInto(dir: string, file: string, index: number, boxes: DrawnBox[], force: boolean): Promise<string> {
  await makeDirs(dir);
  const ext = extname(file).toLowerCase();
  const name = basename(file, extname(file));
  // Numbered: two inputs may share a name in different folders.
  const out = join(dir, `${String(index + 1).padStart(3, '0')}-${name}${['.png', '.webp'].includes(ext) ? ext : '.jpg'}`);
  await drawBoxes(file, boxes, out, force);
  return out;
}

/** An image's size as seen (EXIF orientation applied) from its bytes, or why it cannot be read, as imageSize says it of a file. */
async function bytesSize(bytes: Uint8Array): Promise<{ width: number; height: number } | string> {
  try {
    const meta = await openImage(bytes).metadata();
    if (meta.width && meta.height) return orientedSize(meta.width, meta.height, meta.orientation);
  } catch {
    // Reported below.
  }
  return 'not a decodable image';
}

const roundBox = (b: Box): Box => b.map((v) => Math.round(v * 10) / 10) as Box;

/** The data's class indices in the model's order; a class the model does not know is a usage error. */
function inLabelOrder(set: DetectionSet, labels: string[]): DetectionSet {
  const unknown = set.classes.filter((c) => !labels.includes(c));
  if (unknown.length) throw usageError(`classes not known to the model: ${unknown.join(', ')} (model labels: ${labels.join(', ')})`);
  const map = set.classes.map((c) => labels.indexOf(c));
  const samples: DetectionSample[] = set.samples.map((s) => ({ ...s, objects: s.objects.map((o) => ({ ...o, label: map[o.label] })) }));
  return { ...set, classes: labels, samples };
}

/** The split counts a model was trained with, when fixed (so evaluation finds the same test images). */
function splitCounts(training: Record<string, unknown>): Pick<DetectionSplitOptions, 'counts'> {
  const c = training.splitCounts as DetectionSplitOptions['counts'] | undefined;
  return c ? { counts: { val: c.val, test: c.test } } : {};
}

export const detectionKind: ModelKind<Detector, DetectorOptions, DetectorTrainingResult> = {
  name: 'detection',
  matches: (meta) => meta.kind === 'detection',
  load: (dir, meta) => Detector.load(dir, meta as DetectionGraftJson),
  training: {
    title: 'detection (--head detect)',
    claims: (r) => r.head === 'detect',
    base: 'image',
    defaults: DETECTION_DEFAULTS,
    // The head is `detect`.
    accepts: ['head', 'cut', 'scratch', 'headStart', 'augment', 'strict', 'engine'],
    train: (o) => trainDetector(o),
  },
};

export async function loadDetector(dir: string): Promise<Detector> {
  const meta = await readGraftJson<DetectionGraftJson>(dir, ['model.json']);
  if (!detectionKind.matches(meta)) throw usageError(`${dir} holds a ${String(meta.kind ?? 'image')} model, not a detector`);
  return Detector.load(dir, meta);
}

// ---------------------------------------------------------------------------------------------
// Training in one call

export interface DetectorOptions extends DetectionTrainOptions {
  /** A TF.js LayersModel base (fine-tunable) or a frozen ONNX one (nanodet: the head on its map at its own input size). */
  base: string | ImageBase;
  /** COCO JSON, a folder of Pascal VOC XML, a YOLO folder, or splits already loaded. */
  data: string | DetectionSplits;
  cut?: string | number;
  /** Input size, multiples of 32 (default 320x320). */
  inputSize?: { height: number; width: number };
  scratch?: boolean;
  /** Classes whose heatmap starts from a detector base's classifier (graftDetector's `headStart`). */
  headStart?: HeadStart;
  /** Keep only the first N training images (a seeded random subset; smaller N nested in larger). */
  trainImages?: number;
  /** Fixed split sizes instead of the 70/15/15 fractions. */
  splitCounts?: { val: number; test: number };
  strict?: boolean;
  engine?: Engine;
  cache?: FeatureCache;
  callbacks?: readonly Callback[];
}

export interface DetectorTrainingResult {
  model: Detector;
  training: TrainResult;
  metrics: { val: DetectionMetrics; test: DetectionMetrics };
  counts: { train: number; val: number; test: number };
}

/**
 * A detector in one call: base and boxes in, a trained, evaluated detector out. Built from the
 * mid-level pieces (loadDetectionData, splitDetection, placeSet, graftDetector, trainDetectorStages,
 * evaluateDetections).
 */
export async function trainDetector(o: DetectorOptions): Promise<DetectorTrainingResult> {
  const seed = o.seed ?? 0;
  const base = typeof o.base === 'string' ? await loadImageBase(o.base) : o.base;
  const skips = skipCounter(o.callbacks);
  const callbacks = skips.callbacks;
  let splits: DetectionSplits;
  if (typeof o.data === 'string') {
    const set = await loadDetectionData(o.data, { strict: o.strict, callbacks });
    splits = splitDetection(set, { seed, counts: o.splitCounts });
  } else splits = o.data;
  if (o.trainImages !== undefined) splits = { ...splits, train: firstImages(splits.train, o.trainImages) };
  return trainSeeded(
    seed,
    () =>
      graftDetector(base, {
        classes: splits.train.classes,
        cut: o.cut,
        inputSize: o.inputSize,
        scratch: o.scratch,
        headStart: o.headStart,
      }),
    async (g) => {
      await releaseEngine(g);
      await disposeDetector(g);
    },
    async (g) => {
      const place = { strict: o.strict, callbacks, seed };
      const train = await placeSet(splits.train, g.input, { ...place, augment: o.augment ?? DETECTION_DEFAULTS.augment });
      const val = await placeSet(splits.val, g.input, place);
      const training = await trainDetectorStages(g, { train, val }, { ...o, seed });
      const counts = { train: splits.train.samples.length, val: splits.val.samples.length, test: splits.test.samples.length };
      const fresh = Detector.fromGrafted(g);
      // Validation was letterboxed for training already: placing it again would decode it twice and report its skipped files twice.
      const valEval = await fresh.evaluatePlaced(val, 'val');
      const testEval = await fresh.evaluateSet(splits.test, 'test', { strict: o.strict, callbacks });
      const metrics = { val: valEval.metrics, test: testEval.metrics };
      const model = Detector.fromGrafted(g, {
        metrics: { val: summary(metrics.val), test: summary(metrics.test) },
        training: {
          ...training,
          counts,
          seed,
          trainImages: o.trainImages ?? null,
          splitCounts: o.splitCounts ?? null,
          headStart: o.headStart ?? null,
          augment: o.augment ?? DETECTION_DEFAULTS.augment,
          skipped: skips.skipped(),
        },
      });
      return { model, training, metrics, counts };
    },
  );
}

const summary = (m: DetectionMetrics) => ({ ap: m.ap, ap50: m.ap50, ap75: m.ap75 });

// Which cut of which base transfers best to a data set, measured before any fine-tuning: every
// candidate cut's features are computed in one pass over the images (all cuts are outputs of
// one ONNX Runtime session), pooled by global average and scored.
import * as tf from '@tensorflow/tfjs';
import { tell, type Callback } from '../core/callbacks.js';
import { createOnnxRunner, onnxRuntimeAvailable, transposeImages } from '../backend/onnx-runtime.js';
import { pruneToCut } from '../onnx/prune.js';
import type { ImageBase, LayersBase } from '../bases/types.js';
import { poolTokens } from '../onnx/tokens.js';
import type { ImageSet } from '../data/types.js';
import { usageError } from '../core/errors.js';
import { layersModelToOnnx } from '../onnx/from-layers.js';
import { cutCandidates } from '../graft/cut.js';
import { ownOutput } from '../graft/split.js';
import { cutPoints } from '../bases/structure.js';
import { batchToArray, range } from '../engine/tensors.js';
import type { FeatureMatrix } from './matrix.js';
import { linearProbe } from './probe.js';
import { hScore, leep, logme } from './scores.js';
import type { Engine } from '../engine/frozen.js';

export type CutSet = 'blocks' | 'all';

export interface CutScore {
  base: string;
  cut: string;
  /** Feature dimensions after pooling. */
  dims: number;
  logme: number;
  /** H-score with Ledoit-Wolf shrinkage (the plain score is k-1 for any features once dims ≥ samples). */
  hScore: number;
  /** Cross-validated linear-probe accuracy (with `probe`). */
  probe?: number;
  /** Seconds spent scoring this cut (its share of the extraction pass included). */
  seconds: number;
}

export interface BaseRanking {
  base: string;
  /** LEEP of the base's own classifier on the target labels, when it has one. */
  leep?: number;
  extractSeconds: number;
  rows: CutScore[];
  /** With `baseline`: the probe at the best cut against the same probe on the images' own pixels. */
  baseline?: TransferCheck;
}

/**
 * Does the base help at all? A linear probe on its features at the best cut, against the same
 * probe on the images themselves shrunk to a coarse grid (what a model with no pre-training can
 * read off linearly). Features no better than pixels mean the transfer is not paying off.
 */
export interface TransferCheck {
  cut: string;
  probe: number;
  pixelsProbe: number;
  /** The features' probe beats the pixels' by less than `NEGATIVE_TRANSFER_MARGIN`. */
  negative: boolean;
}

/** Accuracy points the base's features must add over raw pixels before transfer counts as helping. */
export const NEGATIVE_TRANSFER_MARGIN = 0.02;
const PIXEL_GRID = 8;

export interface RankOptions {
  cuts?: CutSet;
  probe?: boolean;
  /** Also compare the best cut's probe with a probe on raw pixels (TransferCheck). */
  baseline?: boolean;
  /** Where LayersModel bases run (default auto: ONNX Runtime, TF.js when it cannot). */
  engine?: Engine;
  seed?: number;
  batchSize?: number;
  /** Progress of the pass over the images (onProgress, 'features at every cut'). */
  callbacks?: readonly Callback[];
}

/**
 * Cuts worth scoring: `blocks` = the last cut point of each block (the block's output), or the
 * base's suggested cut for a frozen base without blocks; `all` = every cut candidate.
 */
export function rankCandidates(base: ImageBase, which: CutSet = 'blocks'): string[] {
  if (which === 'all') return cutCandidates(base);
  if (base.kind === 'onnx') return base.onnx.blockCuts;
  if (base.kind !== 'layers' || !base.blocks.length) return [base.suggestedCut];
  const ends = blockEnds(base);
  return ends.length ? ends : [base.suggestedCut];
}

function blockEnds(base: LayersBase): string[] {
  const model = base.model;
  const points = cutPoints(model);
  const suggested = model.layers.findIndex((l) => l.name === base.suggestedCut);
  const ends: string[] = [];
  for (const block of base.blocks) {
    let i = Math.min(block.end, suggested);
    while (i >= block.start && !points.has(i)) i--;
    if (i >= block.start && !ends.includes(model.layers[i].name)) ends.push(model.layers[i].name);
  }
  return ends;
}

/**
 * Global average over the spatial axes of a batch (NHWC or NCHW 4-D) or the tokens of a sequence
 * (3-D), or all values flattened for a base whose head flattens (what that head reads); 2-D as it
 * is; other ranks are no features.
 */
function pool(
  data: Float32Array,
  dims: number[],
  layout: 'nhwc' | 'nchw',
  flatten: boolean,
): { data: Float32Array; channels: number } | undefined {
  if (dims.length === 2) return { data, channels: dims[1] };
  if (dims.length === 3)
    return flatten ? { data, channels: dims[1] * dims[2] } : { data: poolTokens(data, dims, 'mean').data, channels: dims[2] };
  if (dims.length !== 4) return undefined;
  if (flatten) return { data, channels: dims[1] * dims[2] * dims[3] };
  const [n, a, b, c] = dims;
  const [channels, plane] = layout === 'nhwc' ? [c, a * b] : [a, b * c];
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    const base = i * channels * plane;
    for (let ch = 0; ch < channels; ch++) {
      let sum = 0;
      for (let p = 0; p < plane; p++) sum += layout === 'nhwc' ? data[base + p * channels + ch] : data[base + ch * plane + p];
      out[i * channels + ch] = sum / plane;
    }
  }
  return { data: out, channels };
}

type BatchRunner = (input: Float32Array, dims: number[]) => Promise<Map<string, { data: Float32Array; dims: number[] }>>;

/** One batch in, every requested tensor out, on the fastest engine the base allows. */
async function batchRunner(
  base: ImageBase,
  outputs: string[],
  engine: Engine = 'auto',
): Promise<{ run: BatchRunner; layout: 'nhwc' | 'nchw'; release: () => Promise<void> }> {
  if (base.kind === 'onnx') {
    const runner = await createOnnxRunner(pruneToCut(base.onnx.bytes, outputs));
    const layout = base.onnx.layout;
    return {
      layout,
      run: (x, [n, h, w, c]) =>
        layout === 'nchw' ? runner.run(transposeImages(x, [n, h, w, c], true), [n, c, h, w]) : runner.run(x, [n, h, w, c]),
      release: () => runner.release(),
    };
  }
  if (base.kind === 'layers' && engine !== 'tfjs' && (await onnxRuntimeAvailable())) {
    try {
      const runner = await createOnnxRunner(layersModelToOnnx(base.model, { outputs }));
      return { layout: 'nhwc', run: (x, dims) => runner.run(x, dims), release: () => runner.release() };
    } catch (e) {
      // As for training's frozen parts: a layer the exporter does not know, or a model ONNX Runtime refuses, runs in TF.js.
      if (engine === 'onnx') throw e;
    }
  }
  let execute: (x: tf.Tensor) => tf.Tensor[];
  if (base.kind === 'layers') {
    const model = tf.model({ inputs: base.model.inputs, outputs: outputs.map((o) => ownOutput(base.model.getLayer(o))) });
    execute = (x) => [model.predict(x)].flat();
  } else {
    const graph = base.graph;
    execute = (x) => [graph.execute(x, outputs)].flat();
  }
  return {
    layout: 'nhwc',
    run: async (x, dims) => {
      const input = tf.tensor(x, dims);
      let ys: tf.Tensor[] = [];
      try {
        ys = execute(input);
        return new Map(
          await Promise.all(ys.map(async (y, i) => [outputs[i], { data: (await y.data()) as Float32Array, dims: y.shape }] as const)),
        );
      } finally {
        tf.dispose([input, ...ys]);
      }
    },
    release: async () => undefined,
  };
}

/** The name of the base's own output (its source classifier), when it ends in class probabilities. */
function sourceOutput(base: ImageBase): string | undefined {
  if (base.kind === 'layers') {
    const last = base.model.outputLayers[0];
    return (last.getConfig() as { activation?: string }).activation === 'softmax' ? last.name : undefined;
  }
  return undefined;
}

/** Pooled features of every image of `set` at each cut (plus the source classifier's output), in one pass. */
export async function pooledFeatures(
  base: ImageBase,
  set: ImageSet,
  cuts: string[],
  o: Pick<RankOptions, 'batchSize' | 'callbacks' | 'engine'> & { source?: string } = {},
): Promise<Map<string, FeatureMatrix>> {
  const outputs = [...new Set(o.source ? [...cuts, o.source] : cuts)];
  const engine = await batchRunner(base, outputs, o.engine);
  const flatten = base.head.pool === 'flatten';
  const n = set.labels.length;
  const batchSize = o.batchSize ?? 32;
  const parts = new Map<string, Float32Array[]>(outputs.map((c) => [c, []]));
  const channels = new Map<string, number>();
  const { height, width, channels: c } = set.size;
  try {
    for (let i = 0; i < n; i += batchSize) {
      const idx = range(i, Math.min(n, i + batchSize));
      const out = await engine.run(await batchToArray(set, base.normalize, idx), [idx.length, height, width, c]);
      for (const name of outputs) {
        const t = out.get(name);
        const pooled = t && pool(t.data, t.dims, engine.layout, flatten && name !== o.source);
        // Shapes, indices and other tensors that are not image features are left out.
        if (!pooled) parts.delete(name);
        else if (parts.has(name)) {
          parts.get(name)!.push(pooled.data);
          channels.set(name, pooled.channels);
        }
      }
      tell(o.callbacks, 'onProgress', 'features at every cut', idx[idx.length - 1] + 1, n);
    }
  } finally {
    await engine.release();
  }
  const result = new Map<string, FeatureMatrix>();
  for (const name of parts.keys()) {
    const cols = channels.get(name) ?? 0;
    const data = new Float32Array(n * cols);
    let at = 0;
    for (const p of parts.get(name)!) {
      data.set(p, at);
      at += p.length;
    }
    result.set(name, { data, rows: n, cols });
  }
  return result;
}

/** Every candidate cut of `base` scored on `set` (LogME, H-score, optionally a linear probe), best LogME first. */
export async function rankCuts(base: ImageBase, set: ImageSet, o: RankOptions = {}): Promise<BaseRanking> {
  const source = sourceOutput(base);
  const t0 = performance.now();
  const features = await pooledFeatures(base, set, rankCandidates(base, o.cuts), { ...o, source });
  const cuts = rankCandidates(base, o.cuts).filter((c) => features.has(c));
  if (!cuts.length) throw usageError(`${base.name} has no cut whose output is an image feature map or vector to score`);
  const extractSeconds = (performance.now() - t0) / 1000;
  const k = set.classes.length;
  const rows: CutScore[] = cuts.map((cut) => {
    const started = performance.now();
    // The scores read the pooled features as they are: LogME's evidence depends on their spectrum,
    // which standardising flattens (on the ants/bees images Kendall's tau against the accuracy a
    // head reaches fell from 0.55 to 0.02). The probe standardises them itself.
    const f = features.get(cut)!;
    const row: CutScore = {
      base: base.name,
      cut,
      dims: f.cols,
      logme: logme(f, set.labels, k),
      hScore: hScore(f, set.labels, k, { shrinkage: 'ledoit-wolf' }),
      seconds: 0,
    };
    if (o.probe) row.probe = linearProbe(f, set.labels, k, { seed: o.seed }).accuracy;
    row.seconds = (performance.now() - started) / 1000 + extractSeconds / cuts.length;
    return row;
  });
  rows.sort((a, b) => b.logme - a.logme);
  const leepScore = source ? leep(features.get(source)!, set.labels, k) : undefined;
  const baseline = o.baseline ? await transferCheck(rows[0], features.get(rows[0].cut)!, base, set, o.seed) : undefined;
  return { base: base.name, leep: leepScore, extractSeconds, rows, baseline };
}

/** Each image as the mean of each channel over a PIXEL_GRID x PIXEL_GRID grid of cells (fewer where it has fewer pixels). */
async function pixelFeatures(base: ImageBase, set: ImageSet): Promise<FeatureMatrix> {
  const { height, width, channels } = set.size;
  // An input narrower than the grid (a waveform's samples x 1) has as many cells as it has pixels across: no cell is empty.
  const [rows, across] = [Math.min(PIXEL_GRID, height), Math.min(PIXEL_GRID, width)];
  const cols = rows * across * channels;
  const n = set.labels.length;
  const data = new Float32Array(n * cols);
  for (let i = 0; i < n; i += 32) {
    const idx = range(i, Math.min(n, i + 32));
    const x = await batchToArray(set, base.normalize, idx);
    idx.forEach((row, j) => {
      const counts = new Float32Array(cols);
      for (let y = 0; y < height; y++) {
        for (let xx = 0; xx < width; xx++) {
          const cell = (Math.floor((y * rows) / height) * across + Math.floor((xx * across) / width)) * channels;
          for (let c = 0; c < channels; c++) {
            data[row * cols + cell + c] += x[((j * height + y) * width + xx) * channels + c];
            counts[cell + c]++;
          }
        }
      }
      for (let c = 0; c < cols; c++) data[row * cols + c] /= counts[c];
    });
  }
  return { data, rows: n, cols };
}

async function transferCheck(
  best: CutScore,
  features: FeatureMatrix,
  base: ImageBase,
  set: ImageSet,
  seed?: number,
): Promise<TransferCheck> {
  const k = set.classes.length;
  const probe = best.probe ?? linearProbe(features, set.labels, k, { seed }).accuracy;
  const pixelsProbe = linearProbe(await pixelFeatures(base, set), set.labels, k, { seed }).accuracy;
  return { cut: best.cut, probe, pixelsProbe, negative: probe < pixelsProbe + NEGATIVE_TRANSFER_MARGIN };
}

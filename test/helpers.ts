// Small bases and data sets that tests build themselves, in memory or in a temp dir.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { layersBase } from '../src/bases/image/tfjs.js';
import type { LayersBase } from '../src/bases/types.js';
import type { DetectionSample, DetectionSplits, GroundTruth } from '../src/data/detection/types.js';
import type { MultiTaskSet, TaskSpec } from '../src/data/multitask/types.js';
import type { ImageSet } from '../src/data/types.js';
import type { FeatureMatrix } from '../src/evaluate/matrix.js';
import { writeRgb } from './fixtures.js';
import { mulberry32 } from '../src/math/random.js';
import { fileHandler } from '../src/io/layers-files.js';
import wavefile from 'wavefile';

// Every CLI a test spawns (bin/graft.js, here and in the test files that import this module) runs
// src/ through tsx, not a dist/ that may predate the code under test: bin/graft.js reads
// GRAFT_SOURCE, and child processes inherit this process's environment.
process.env.GRAFT_SOURCE = '1';

export const tempDir = (prefix = 'graft-test-') => mkdtempSync(join(tmpdir(), prefix));

export const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(root, 'bin/graft.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line, parsed, when it is a JSON object (--json). */
  json?: Record<string, unknown>;
}

// CLI runs keep their feature cache in a temp dir, not the user's ~/.cache.
const CACHE_DIR = tempDir('graft-cli-cache-');

/** The CLI, run as a user would, in its own process. */
export function graft(...args: string[]): Run {
  const env = { ...process.env, GRAFT_CACHE_DIR: CACHE_DIR };
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: root, timeout: 120_000, env });
  const lastLine = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | undefined;
  try {
    json = lastLine.startsWith('{') ? JSON.parse(lastLine) : undefined;
  } catch {
    json = undefined;
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

/**
 * A tiny MobileNet-like base: conv + BN + ReLU, a residual block, global pooling and a 3-class
 * classifier, 16x16x3 input, with deterministic "pre-trained" weights (set after building, so
 * its config keeps unseeded initialisers, like a real base's).
 */
export function tinyModel(): tf.LayersModel {
  const m = buildTiny();
  const rand = mulberry32(42);
  m.setWeights(
    m.weights.map((w) => {
      const shape = w.shape as number[];
      const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rand() - 0.5);
      // Variances must stay positive.
      return tf.tensor(w.name.includes('variance') ? values.map((v) => 1 + v) : values, shape);
    }),
  );
  return m;
}

function buildTiny(): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', name: 'stem_conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers
    .batchNormalization({
      name: 'stem_bn',
      movingMeanInitializer: tf.initializers.constant({ value: 0.1 }),
      movingVarianceInitializer: tf.initializers.constant({ value: 2 }),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;
  let y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'block_1_depthwise' }).apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ name: 'block_1_bn' }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'block_1_project' }).apply(y) as tf.SymbolicTensor;
  x = tf.layers.add({ name: 'block_1_add' }).apply([x, y]) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: 'relu', name: 'top_conv' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'classifier' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'tiny' });
}

export const tinyBase = (): LayersBase => layersBase('tiny', tinyModel());

/** Save the tiny model as a model.json a CLI run can load as --base. */
export async function saveTinyBase(dir: string): Promise<string> {
  const path = join(dir, 'model.json');
  await tinyModel().save(fileHandler(path));
  return path;
}

/** Two or more classes of 16x16x3 images told apart by colour, with noise. */
export function colourSet(perClass: number, classes = ['red', 'blue'], seed = 1): ImageSet {
  const rand = mulberry32(seed);
  const size = { height: 16, width: 16, channels: 3 as const };
  const per = 16 * 16 * 3;
  const n = perClass * classes.length;
  const pixels = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes.length;
    labels[i] = c;
    for (let p = 0; p < per; p++) {
      const channelOn = p % 3 === (c * 2) % 3;
      pixels[i * per + p] = Math.round((channelOn ? 180 : 40) + 60 * (rand() - 0.5));
    }
  }
  return { classes, size, pixels, labels, ids: Array.from({ length: n }, (_, i) => `colour:${i}`) };
}

/**
 * A small classification base with stride-16 and stride-32 feature maps (four and five stride-2
 * convolutions), 32x32x3 input, deterministic weights: what a detection head grafts onto in tests.
 */
export function stridedModel(): tf.LayersModel {
  const input = tf.input({ shape: [32, 32, 3], name: 'image' });
  let x = input;
  for (const [i, filters] of [8, 12, 16, 16, 24].entries()) {
    const name = `s${2 ** (i + 1)}`;
    x = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', name: `${name}_conv` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `${name}_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `${name}_relu` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'classifier' }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out, name: 'strided' });
  const rand = mulberry32(7);
  m.setWeights(
    m.weights.map((w) => {
      const shape = w.shape as number[];
      const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() - 0.5) * 0.6);
      return tf.tensor(w.name.includes('variance') ? values.map((v) => 1 + v) : values, shape);
    }),
  );
  return m;
}

// ---------------------------------------------------------------------------------------------
// Tiny multi-task and detection data

export const COLOUR_TASKS: TaskSpec[] = [
  { name: 'colour', kind: 'classification', classes: ['red', 'blue'] },
  { name: 'shade', kind: 'regression' },
];

/** colourSet's images labelled for two tasks: the colour, and the mean pixel value (0-1). */
export function colourTaskSet(perClass: number, seed: number): MultiTaskSet {
  const s = colourSet(perClass, ['red', 'blue'], seed);
  const per = 16 * 16 * 3;
  const shade = Float32Array.from(s.ids, (_, i) => s.pixels.subarray(i * per, (i + 1) * per).reduce((a, v) => a + v, 0) / per / 255);
  return {
    size: s.size,
    pixels: s.pixels,
    ids: s.ids,
    tasks: {
      colour: { kind: 'classification', classes: s.classes, labels: s.labels },
      shade: { kind: 'regression', outputs: 1, targets: shade },
    },
  };
}

/** Black 64x48 images with one white square each, written to `dir`: 2 to train on, 1 to validate, 1 to test. */
export async function squareDetectionSplits(dir: string): Promise<DetectionSplits> {
  const rand = mulberry32(9);
  const [width, height] = [64, 48];
  const samples: DetectionSample[] = [];
  for (let i = 0; i < 4; i++) {
    const s = 16 + Math.floor(rand() * 8);
    const [x, y] = [Math.floor(rand() * (width - s)), Math.floor(rand() * (height - s))];
    const px = new Uint8Array(width * height * 3);
    for (let r = y; r < y + s; r++) px.fill(255, (r * width + x) * 3, (r * width + x + s) * 3);
    const file = join(dir, `square${i}.png`);
    await writeRgb(file, px, width, height);
    const objects: GroundTruth[] = [{ label: 0, box: [x, y, s, s], ignore: false }];
    samples.push({ file, width, height, objects });
  }
  const set = (from: number, to: number) => ({ format: 'coco' as const, classes: ['square'], samples: samples.slice(from, to) });
  return { train: set(0, 2), val: set(2, 3), test: set(3, 4) };
}

// ---------------------------------------------------------------------------------------------
// Seeded feature matrices for the scores and the probe

/** Seeded standard normal samples (Box-Muller). */
export function normals(seed: number): () => number {
  const rand = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function randomLabels(n: number, k: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  return Int32Array.from({ length: n }, (_, i) => (i < k ? i : Math.floor(rand() * k)));
}

/** Noise features; the first `signal` columns are shifted by `shift` x the class index. */
export function noiseFeatures(labels: Int32Array, d: number, seed: number, shift = 0, signal = 3): FeatureMatrix {
  const gauss = normals(seed);
  const data = new Float32Array(labels.length * d);
  labels.forEach((y, i) => {
    for (let j = 0; j < d; j++) data[i * d + j] = gauss() + (j < signal ? shift * (j === y % signal ? 1 : -0.5) * (1 + y) : 0);
  });
  return { data, rows: labels.length, cols: d };
}

/** A vowel-like clip: a few harmonics of `f0` under a smooth envelope, floats in [-1, 1]. */
export function voiced(f0: number, seconds: number, rate = 16000): Float32Array {
  const n = Math.round(seconds * rate);
  return Float32Array.from({ length: n }, (_, i) => {
    const t = i / rate;
    const env = Math.sin((Math.PI * i) / n);
    return 0.3 * env * (Math.sin(2 * Math.PI * f0 * t) + 0.5 * Math.sin(4 * Math.PI * f0 * t) + 0.25 * Math.sin(6 * Math.PI * f0 * t));
  });
}

/** 16-bit WAV bytes of `samples` at `rate`. */
export function wav(samples: Float32Array, rate: number): Uint8Array {
  const w = new wavefile.WaveFile();
  w.fromScratch(
    1,
    rate,
    '16',
    Array.from(samples, (v) => Math.round(v * 32767)),
  );
  return w.toBuffer();
}

/** A tone sliding from `from` to `to` Hz over `seconds` at `rate` (default 8 kHz, speech-cnn's), under a half-sine envelope, as 16-bit WAV bytes. */
export function sweep(from: number, to: number, seconds: number, rate = 8000): Uint8Array {
  const n = Math.round(seconds * rate);
  let phase = 0;
  const samples = Array.from({ length: n }, (_, i) => {
    phase += (2 * Math.PI * (from + ((to - from) * i) / n)) / rate;
    return Math.round(12000 * Math.sin(phase) * Math.sin((Math.PI * i) / n));
  });
  const w = new wavefile.WaveFile();
  w.fromScratch(1, rate, '16', samples);
  return w.toBuffer();
}

/** graft train --unfreeze 0 on `data` with the feature cache in `cacheDir`: the frozen features its head stage computed (not cached). */
export function featuresComputedByTrain(data: string, cacheDir: string, out: string): number {
  const head = '--base digits-cnn --epochs 1 --unfreeze 0 --json'.split(' ');
  const t = graft('train', ...head, '--data', data, '--cache-dir', cacheDir, '--out', out);
  if (t.code !== 0) throw new Error(`graft train failed: ${t.stderr}`);
  return (t.json?.stages as { features: { computed: number } }[])[0].features.computed;
}

/** graft extract of digits-cnn's features of `data`, with more flags. */
export const extractDigits = (data: string, ...flags: string[]) => graft('extract', '--base', 'digits-cnn', '--data', data, ...flags);

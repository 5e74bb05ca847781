// detect-train: training images per second of a detector trained as `graft train --head detect`
// trains it (the one-call trainDetector: the head on the frozen trunk's cached outputs, then one
// block unfrozen), on a synthetic set the workload draws (32 training images of 1-3 light squares
// on a noisy background, 8 validation, 8 test), mobilenet_v2 at 320x320 and nanodet at its own
// 416x416 (the head alone: a frozen base has no fine-tuning stage). Each base is trained with
// trainEngine 'tfjs' and 'auto' in the same run; every stage reports the engine its steps ran on
// (and why not ONNX Runtime), which this workload prints as it finds it. Training images per second
// are placed training images x epochs / the stage's seconds (its steps and each epoch's validation,
// not the frozen pass, reported apart as featureSeconds). The PyTorch peer has no detection
// workload, so it is not compared.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { loadImageBase } from '../../src/bases/index.js';
import type { ImageBase } from '../../src/bases/types.js';
import type { Box, DetectionSample, DetectionSet, DetectionSplits } from '../../src/data/detection/types.js';
import type { TrainEngine } from '../../src/engine/onnx-train.js';
import { trainDetector } from '../../src/kinds/detection.js';
import { mulberry32 } from '../../src/math/random.js';
import type { StageReport } from '../../src/train/driver.js';
import { type BenchOptions, median, round, type Side, type Workload, type WorkloadResult } from '../lib.js';

const [WIDTH, HEIGHT] = [320, 240];
const COUNTS = { train: 32, val: 8, test: 8 };

/** `n` images of 1-3 light squares (24-64 px) on noise, written as PNG into `dir`. */
async function drawSet(dir: string, name: string, n: number, seed: number): Promise<DetectionSet> {
  const rand = mulberry32(seed);
  const samples: DetectionSample[] = [];
  for (let i = 0; i < n; i++) {
    const px = Uint8Array.from({ length: WIDTH * HEIGHT * 3 }, () => 30 + Math.floor(rand() * 40));
    const objects = Array.from({ length: 1 + (i % 3) }, () => {
      const s = 24 + Math.floor(rand() * 40);
      const box: Box = [Math.floor(rand() * (WIDTH - s)), Math.floor(rand() * (HEIGHT - s)), s, s];
      for (let r = box[1]; r < box[1] + s; r++) for (let c = box[0]; c < box[0] + s; c++) px.set([225, 225, 210], (r * WIDTH + c) * 3);
      return { label: 0, box, ignore: false };
    });
    const file = join(dir, `${name}-${i}.png`);
    await sharp(px, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
      .png()
      .toFile(file);
    samples.push({ file, width: WIDTH, height: HEIGHT, objects });
  }
  return { format: 'coco', classes: ['square'], samples };
}

interface Run {
  /** Per stage: its engine, images x epochs / seconds. */
  stages: { stage: string; engine: string; reason?: string; epochs: number; seconds: number; imagesPerS: number; featureSeconds: number }[];
  /** Every training stage together: placed images x epochs over their seconds. */
  imagesPerS: number;
  trainSeconds: number;
  featureSeconds: number;
}

function summarise(stages: StageReport[], images: number): Run {
  const rows = stages.map((s) => ({
    stage: s.stage,
    engine: s.trainEngine.engine,
    ...('reason' in s.trainEngine ? { reason: s.trainEngine.reason } : {}),
    epochs: s.epochsRun,
    seconds: s.seconds,
    imagesPerS: (images * s.epochsRun) / s.seconds,
    featureSeconds: s.featureSeconds,
  }));
  const trainSeconds = rows.reduce((a, r) => a + r.seconds, 0);
  return {
    stages: rows,
    imagesPerS: (images * rows.reduce((a, r) => a + r.epochs, 0)) / trainSeconds,
    trainSeconds,
    featureSeconds: rows.reduce((a, r) => a + r.featureSeconds, 0),
  };
}

/** A run's line: each stage's engine and speed. */
const runLine = (run: Run) =>
  `${run.stages.map((s) => `${s.stage} on ${s.engine} ${round(s.imagesPerS)} images/s (${s.epochs} epochs, ${round(s.seconds)} s)`).join('; ')}; frozen pass ${round(run.featureSeconds)} s`;

/** Runs of one engine choice as one side: medians per stage and overall. */
function toSide(runs: Run[], trainEngine: TrainEngine): Side {
  const stages = runs[0].stages.map((s, i) => ({
    stage: s.stage,
    engine: s.engine,
    ...(s.reason ? { reason: s.reason } : {}),
    epochs: s.epochs,
    imagesPerS: round(median(runs.map((r) => r.stages[i].imagesPerS))),
    seconds: round(median(runs.map((r) => r.stages[i].seconds))),
  }));
  return {
    imagesPerS: round(median(runs.map((r) => r.imagesPerS))),
    engine: [...new Set(stages.map((s) => `${s.stage} ${s.engine}`))].join(', '),
    trainEngine,
    stages,
    trainSeconds: round(median(runs.map((r) => r.trainSeconds))),
    featureSeconds: round(median(runs.map((r) => r.featureSeconds))),
    images: COUNTS.train,
    runs: runs.map((r) => round(r.imagesPerS)),
  };
}

/** trainEngine tfjs and auto on one base, alternating (neither always runs first), `repeats` times each. */
async function measure(
  base: ImageBase,
  splits: DetectionSplits,
  o: { epochs: number; unfreeze: number; repeats: number },
  log: (m: string) => void,
): Promise<{ tfjs: Side; auto: Side }> {
  const runs: Record<'tfjs' | 'auto', Run[]> = { tfjs: [], auto: [] };
  for (let r = 0; r < o.repeats; r++) {
    for (const trainEngine of r % 2 ? (['auto', 'tfjs'] as const) : (['tfjs', 'auto'] as const)) {
      const result = await trainDetector({
        base,
        data: splits,
        epochs: o.epochs,
        patience: o.epochs,
        unfreeze: o.unfreeze,
        augment: 0,
        trainEngine,
        seed: r,
      });
      await result.model.dispose();
      const run = summarise(result.training.stages, COUNTS.train);
      runs[trainEngine].push(run);
      log(`  ${base.name} trainEngine ${trainEngine} run ${r + 1}/${o.repeats}: ${runLine(run)}`);
    }
  }
  return { tfjs: toSide(runs.tfjs, 'tfjs'), auto: toSide(runs.auto, 'auto') };
}

/** Each stage of a side in words: where it ran and how fast. */
const stagesLine = (side: Side) =>
  (side.stages as { stage: string; engine: string; reason?: string; imagesPerS: number }[])
    .map(
      (s) =>
        `${s.stage} on ${s.engine === 'onnx' ? 'ONNX Runtime' : 'TF.js'} ${s.imagesPerS} images/s${s.reason && side.trainEngine !== 'tfjs' ? ` (${s.reason})` : ''}`,
    )
    .join('; ');

export const detectTrain: Workload = {
  name: 'detect-train',
  metric: 'imagesPerS',
  describe: `detector training as graft train --head detect: ${COUNTS.train} images of 1-3 boxes, mobilenet_v2 320x320 (head, then one block) and nanodet 416x416 (head), trainEngine tfjs and auto (training images/s, higher is better)`,
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-detect-'));
    try {
      const splits: DetectionSplits = {
        train: await drawSet(dir, 'train', COUNTS.train, 1),
        val: await drawSet(dir, 'val', COUNTS.val, 2),
        test: await drawSet(dir, 'test', COUNTS.test, 3),
      };
      const o = { epochs: quick ? 1 : 3, repeats: quick ? 1 : 3 };
      const mobilenet = await loadImageBase('mobilenet_v2');
      log('detect-train: mobilenet_v2, head then one block unfrozen, trainEngine tfjs and auto');
      const { tfjs, auto } = await measure(mobilenet, splits, { ...o, unfreeze: 1 }, log);
      if (mobilenet.kind === 'layers') mobilenet.model.dispose();
      const nanodet = await loadImageBase('nanodet');
      log('detect-train: nanodet, the head on its frozen stride-16 map, trainEngine tfjs and auto');
      const { tfjs: nanodetTfjs, auto: nanodetAuto } = await measure(nanodet, splits, { ...o, unfreeze: 0 }, log);
      const ratio = (a: Side, b: Side) => round((a.imagesPerS as number) / (b.imagesPerS as number));
      return {
        name: 'detect-train',
        metric: 'imagesPerS',
        graft: auto,
        cpu: null,
        pytorch: null,
        others: { tfjs, nanodetAuto, nanodetTfjs },
        ratio: { autoVsTfjs: ratio(auto, tfjs), nanodetAutoVsTfjs: ratio(nanodetAuto, nanodetTfjs) },
        notes: [
          `graft = mobilenet_v2 with trainEngine auto: ${stagesLine(auto)}; others.tfjs = trainEngine tfjs: ${stagesLine(tfjs)}`,
          `nanodet (head only): auto ${stagesLine(nanodetAuto)}; tfjs ${stagesLine(nanodetTfjs)}`,
          `images/s = ${COUNTS.train} training images (no augmented copies) x epochs / the stages' seconds (steps and each epoch's validation on ${COUNTS.val} images); the frozen pass apart (featureSeconds: mobilenet_v2 ${auto.featureSeconds} s, nanodet ${nanodetAuto.featureSeconds} s); ${o.epochs} epochs per stage, medians of ${o.repeats}`,
          'the PyTorch peer has no detection workload: not compared',
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

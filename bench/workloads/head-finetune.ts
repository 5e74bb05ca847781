// head-finetune-10-epochs: a linear head on the frozen MobileNetV2 trunk (cut out_relu), 10
// epochs over 256 images (5 classes, batch 32). graft computes the trunk's outputs once (ONNX
// Runtime) and keeps them in the feature cache; the naive loops recompute the trunk every epoch,
// as a plain Keras/TF.js `fit` on a model with a frozen trunk does, and as the PyTorch peer does.
// Each graft run reports where its time went (graft.phases in --json, a line per run on stderr):
// the warm runs, other seeds on a warm cache, are what a user rerunning an experiment waits for.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { loadImageBase } from '../../src/bases/index.js';
import type { ImageBase } from '../../src/bases/types.js';
import type { Callback } from '../../src/core/callbacks.js';
import type { ImageSet } from '../../src/data/types.js';
import { mulberry32 } from '../../src/math/random.js';
import { disposeGrafted, graft, type Grafted } from '../../src/graft/graft.js';
import { FeatureCache } from '../../src/engine/feature-cache.js';
import { extractFeatures } from '../../src/engine/features.js';
import { onnxTrainerFor } from '../../src/engine/onnx-train.js';
import { fitStage } from '../../src/train/fit.js';
import { frozenPart, headBoundary, trainablePart, type Engine } from '../../src/engine/frozen.js';
import { oneHot } from '../../src/engine/tensors.js';
import { trainGrafted } from '../../src/train/stages.js';
import { type BenchOptions, CORES, median, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';

const CLASSES = ['a', 'b', 'c', 'd', 'e'];

function randomSet(n: number, seed: number): ImageSet {
  const rand = mulberry32(seed);
  const size = { height: 224, width: 224, channels: 3 as const };
  const pixels = Uint8Array.from({ length: n * 224 * 224 * 3 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, () => Math.floor(rand() * CLASSES.length));
  return { classes: CLASSES, size, pixels, labels, ids: Array.from({ length: n }, (_, i) => `random:${i}`) };
}

const fitOptions = (epochs: number) => ({ stage: 'head', epochs, learningRate: 1e-3, batchSize: 32, patience: epochs });

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/**
 * Where one trainGrafted run's time went (seconds). features, probe and fit are the run's own
 * report; the fit stage's parts come from the times of the fit loop's hooks. features + probe +
 * fitSetup + fitSteps + fitValidation + fitEnd + remainder = the run's seconds.
 */
interface Phases {
  /** graft(): the model cut and the head added (apart from the run's seconds). */
  graft: number;
  /** The frozen part's outputs: computed, or read from the feature cache (stageFeatures). */
  features: number;
  /** The linear probe that starts the head (initHeadByProbe), of which `probeSolve` in the L-BFGS fits. */
  probe: number;
  probeSolve: number;
  /** The fit stage as it reports itself (fitStage's seconds: setup, steps and validation). */
  fit: number;
  /** From the probe's end to the first epoch: the head model, the ONNX Runtime trainer's session, the starting weights' validation. */
  fitSetup: number;
  /** Of fitSetup, a trainer for the same head created and released apart, after the run. */
  trainerSession: number;
  /** The epochs' steps. */
  fitSteps: number;
  /** After each epoch's last step: the weights back to TF.js and the validation set's evaluation. */
  fitValidation: number;
  /** From the last epoch to the stage's end: the trainer released. */
  fitEnd: number;
  /** Before the stage and after it: targets, disposal. */
  remainder: number;
  /** CPU seconds of the whole process (every thread) over the run: near its seconds on a free machine, below them when others compete for the cores. */
  cpu: number;
}

const now = () => performance.now() / 1000;

/** Times of the hooks a run calls: enough to split its fit stage. */
function hookClock() {
  const t = { stageBegin: 0, stageEnd: 0, trainBegin: 0, trainEnd: 0, lastStep: 0, validation: 0 };
  const callback: Callback = {
    onStageBegin: () => void (t.stageBegin = now()),
    onTrainBegin: () => void (t.trainBegin = now()),
    onBatchEnd: () => void (t.lastStep = now()),
    onEpochEnd: () => void (t.validation += now() - t.lastStep),
    onTrainEnd: () => void (t.trainEnd = now()),
    onStageEnd: () => void (t.stageEnd = now()),
  };
  return { t, callback };
}

/** Seconds to create (and release) an ONNX Runtime trainer for g's head: the fit stage's fixed cost before its first step. */
async function trainerSeconds(g: Grafted, seed: number): Promise<number> {
  const above = trainablePart(g, headBoundary(g));
  try {
    const [{ trainer }, seconds] = await timed(() => onnxTrainerFor(above, 'auto', { optimizer: { kind: 'adam' }, seed }));
    const [, release] = await timed(async () => trainer?.release());
    return trainer ? seconds + release : 0;
  } finally {
    if (above !== g.model) above.dispose();
  }
}

/**
 * graft's path: trainGrafted with the feature cache, head only, no early stop. Timed from the
 * grafted model to the trained head; building the graft (the same for every setup) is reported apart.
 */
async function graftRun(base: ImageBase, data: { train: ImageSet; val: ImageSet }, epochs: number, cache: FeatureCache, seed: number) {
  const [g, graftSeconds] = await timed(() => graft(base, { classes: CLASSES }));
  const clock = hookClock();
  const [started, cpuStarted] = [now(), process.cpuUsage()];
  const result = await trainGrafted(g, data, { epochs, patience: epochs, unfreeze: 0, cache, seed, callbacks: [clock.callback] });
  const seconds = now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  const trainerSession = await trainerSeconds(g, seed);
  await disposeGrafted(g);
  const s = result.stages[0];
  const { t } = clock;
  const probe = s.probe?.seconds ?? 0;
  const phases: Phases = {
    graft: graftSeconds,
    features: s.featureSeconds,
    probe,
    probeSolve: s.probe?.solveSeconds ?? 0,
    fit: s.seconds,
    fitSetup: t.trainBegin - (t.stageBegin + s.featureSeconds + probe),
    trainerSession,
    fitSteps: t.trainEnd - t.trainBegin - t.validation,
    fitValidation: t.validation,
    fitEnd: t.stageEnd - t.trainEnd,
    remainder: seconds - (t.stageEnd - t.stageBegin),
    cpu: (cpu.user + cpu.system) / 1e6,
  };
  return {
    seconds,
    graftSeconds,
    featureSeconds: s.featureSeconds,
    probeSeconds: probe,
    probeCached: s.probe?.cached ?? false,
    fitSeconds: s.seconds,
    computed: s.features.computed,
    cached: s.features.cached,
    engine: s.engine,
    phases,
  };
}

type GraftRun = Awaited<ReturnType<typeof graftRun>>;

const roundAll = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v as number)])) as T;

/** Runs summarised field by field: each number the median over the runs (so the phases need not add up to the median seconds). */
function medianRun(runs: GraftRun[]): GraftRun {
  const med = (f: (r: GraftRun) => number) => median(runs.map(f));
  const phases = Object.fromEntries(
    Object.keys(runs[0].phases).map((k) => [k, med((r) => r.phases[k as keyof Phases])]),
  ) as unknown as Phases;
  return {
    ...runs[0],
    seconds: med((r) => r.seconds),
    graftSeconds: med((r) => r.graftSeconds),
    featureSeconds: med((r) => r.featureSeconds),
    probeSeconds: med((r) => r.probeSeconds),
    fitSeconds: med((r) => r.fitSeconds),
    computed: Math.max(...runs.map((r) => r.computed)),
    phases,
  };
}

/** Where a run's time went, in one line. */
function phasesLine(p: Phases): string {
  const r = roundAll(p);
  return (
    `features ${r.features} | probe ${r.probe} (L-BFGS ${r.probeSolve}) | fit ${r.fit}: setup ${r.fitSetup} (trainer session ${r.trainerSession}, measured apart), ` +
    `steps ${r.fitSteps}, validation ${r.fitValidation}, end ${r.fitEnd} | remainder ${r.remainder} | graft() ${r.graft} (s); CPU ${r.cpu} s`
  );
}

/** Recompute the frozen trunk's outputs every epoch on `engine`, then one epoch of the head. */
async function naiveRecompute(g: Grafted, data: { train: ImageSet; val: ImageSet }, epochs: number, engine: Engine): Promise<number> {
  const [, seconds] = await timed(async () => {
    const boundary = headBoundary(g);
    const part = await frozenPart(g, boundary, engine);
    const above = trainablePart(g, boundary);
    const [y, yVal] = [oneHot(data.train.labels, CLASSES.length), oneHot(data.val.labels, CLASSES.length)];
    for (let e = 0; e < epochs; e++) {
      const x = (await extractFeatures(part, data.train, { normalize: g.base.normalize })).features;
      const xVal = (await extractFeatures(part, data.val, { normalize: g.base.normalize })).features;
      await fitStage(above, x, y, [xVal, yVal], fitOptions(1));
      tf.dispose([x, xVal]);
    }
    tf.dispose([y, yVal]);
    above.dispose();
    await part.release?.();
  });
  return seconds;
}

export const headFinetune: Workload = {
  name: 'head-finetune-10-epochs',
  metric: 'seconds',
  describe: 'linear head on frozen MobileNetV2 (out_relu), 10 epochs over 256 images, batch 32 (seconds, lower is better)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const [n, epochs] = quick ? [64, 3] : [256, 10];
    const data = { train: randomSet(n, 1), val: randomSet(32, 2) };
    const base = await loadImageBase('mobilenet_v2');
    const dir = mkdtempSync(join(tmpdir(), 'graft-bench-cache-'));
    try {
      const cache = new FeatureCache({ dir });
      log('head-finetune: graft, first run (cold cache)');
      const cold = await graftRun(base, data, epochs, cache, 1);
      log(
        `  ${round(cold.seconds)} s: features ${round(cold.featureSeconds)} s (${cold.computed} computed on ${cold.engine}, ${cold.cached} cached), probe ${round(cold.probeSeconds)} s, fit ${round(cold.fitSeconds)} s; graft() ${round(cold.graftSeconds)} s`,
      );
      log(`    ${phasesLine(cold.phases)}`);
      // Another seed misses the cached probe: the realistic rerun. Three of them (seeds 2, 3, 4), their medians reported.
      const warmRuns: GraftRun[] = [];
      for (const seed of quick ? [2] : [2, 3, 4]) {
        log(`head-finetune: graft, warm cache, another seed (${seed}): the probe is solved again`);
        const warm = await graftRun(base, data, epochs, cache, seed);
        log(
          `  ${round(warm.seconds)} s: features ${round(warm.featureSeconds)} s (${warm.computed} computed, ${warm.cached} cached), probe ${round(warm.probeSeconds)} s, fit ${round(warm.fitSeconds)} s; graft() ${round(warm.graftSeconds)} s`,
        );
        log(`    ${phasesLine(warm.phases)}`);
        warmRuns.push(warm);
      }
      const warm = medianRun(warmRuns);
      log('head-finetune: graft, the first run again (warm cache, same seed: the solved probe is cached too)');
      const rerun = await graftRun(base, data, epochs, cache, 1);
      log(
        `  ${round(rerun.seconds)} s: features ${round(rerun.featureSeconds)} s, probe ${round(rerun.probeSeconds)} s (${rerun.probeCached ? 'cached' : 'solved'}), fit ${round(rerun.fitSeconds)} s; graft() ${round(rerun.graftSeconds)} s`,
      );
      log(`    ${phasesLine(rerun.phases)}`);
      const g = await graft(base, { classes: CLASSES });
      log('head-finetune: naive, trunk recomputed every epoch on the same engine');
      const sameEngine = await naiveRecompute(g, data, epochs, 'auto');
      log(`  ${round(sameEngine)} s`);
      log('head-finetune: naive, trunk recomputed every epoch in TF.js (wasm), as a Keras-style fit on the frozen model does');
      const tfjsFit = await naiveRecompute(g, data, epochs, 'tfjs');
      log(`  ${round(tfjsFit)} s`);
      await disposeGrafted(g);
      log('head-finetune: pytorch peer (head-finetune-naive)');
      const pytorch = runPeer('head-finetune-naive', 'seconds', CORES, 1, ['--n', String(n), '--epochs', String(epochs)], log);
      const graftSide: Side = {
        seconds: round(cold.seconds),
        warmSeconds: round(warm.seconds),
        warmRuns: warmRuns.map((r) => round(r.seconds)),
        rerunSeconds: round(rerun.seconds),
        // Where a run's time goes: the frozen part's outputs, the cross-validated probe that starts a linear head, the epochs.
        featureSeconds: { cold: round(cold.featureSeconds), warm: round(warm.featureSeconds), rerun: round(rerun.featureSeconds) },
        probeSeconds: { cold: round(cold.probeSeconds), warm: round(warm.probeSeconds), rerun: round(rerun.probeSeconds) },
        fitSeconds: { cold: round(cold.fitSeconds), warm: round(warm.fitSeconds), rerun: round(rerun.fitSeconds) },
        graftSeconds: round(cold.graftSeconds),
        // Every phase of each run (seconds): warm (medians over the other seeds) is the realistic rerun, the probe's cache missing.
        phases: { cold: roundAll(cold.phases), warm: roundAll(warm.phases), rerun: roundAll(rerun.phases) },
        engine: cold.engine,
        images: n,
        epochs,
        featuresComputed: { cold: cold.computed, warm: warm.computed },
      };
      const ratio: Record<string, number | null> = {
        vsNaive: round(tfjsFit / cold.seconds),
        vsNaiveSameEngine: round(sameEngine / cold.seconds),
        warmVsCold: round(cold.seconds / warm.seconds),
        warmVsColdFeatures: round(cold.featureSeconds / warm.featureSeconds),
        vsPytorch: pytorch ? round((pytorch.seconds as number) / cold.seconds) : null,
      };
      const notes = [
        `graft: ${cold.engine} trunk once + cached features, timed from the grafted model (graft() itself: ${round(cold.graftSeconds)} s, the same for every setup); the warm runs (other seeds) computed ${warm.computed} trunk outputs`,
        "naive: the trunk's forward pass recomputed every epoch in TF.js (wasm, 1 thread), what fit() on a model with a frozen trunk costs (fit() on the whole model itself ran out of wasm memory at batch 32); naiveSameEngine: recomputed on the engine graft uses",
        `pytorch: the peer's naive loop on ${CORES} threads (trunk recomputed every epoch, no validation)`,
        `where a warm run's ${round(warm.seconds)} s went (another seed, so the probe is solved again; medians over ${warmRuns.length}): ${phasesLine(warm.phases)}`,
        `with the same engine, recomputing costs at most ${epochs}x (epochs x extraction vs one extraction): a ${epochs}-epoch ratio above ${epochs}x needs a faster engine too`,
      ];
      return {
        name: 'head-finetune-10-epochs',
        metric: 'seconds',
        graft: graftSide,
        cpu: null,
        others: { naive: { seconds: round(tfjsFit) }, naiveSameEngine: { seconds: round(sameEngine) } },
        pytorch,
        ratio,
        notes,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (base.kind === 'layers') base.model.dispose();
    }
  },
};

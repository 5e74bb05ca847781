// Penn-Fudan pedestrians (the torchvision detection fine-tuning tutorial's data): a CenterNet
// head on mobilenet_v2's pre-trained trunk against the same detector trained from scratch, with
// 10, 30 and all training images of one seeded split, test AP50 and AP@[.5:.95]. The question of
// the seed's inductive example: does a classification base make a few hundred boxes enough?
// `--base nanodet` puts the head on a COCO detector's frozen maps instead (issue 31); a frozen
// base has no architecture to train from scratch, so there the second column is the same head
// with the pedestrian class started from the detector's own person classifier (`headStart`). Each
// training-set size and seed is a cell of its grid (transfer, then scratch on transfer's time),
// so `--workers` or `--queue` runs the cells as sweep trials.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadImageBase } from '../bases/index.js';
import { tell } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { loadDetectionData, splitDetection } from '../data/detection/index.js';
import { table as markdownTable } from '../evaluate/report.js';
import { trainDetector } from '../kinds/detection.js';
import { TimeStopping } from '../train/loop.js';
import { mean, sd } from '../math/stats.js';
import { gridExperiment, once } from './grid.js';
import type { ExperimentOptions, ExperimentResult } from './types.js';

/** Where the project's shared data sits beside a checkout (never copied into the repository). */
const DEFAULT_DATA = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/pennfudan/annotations.json');
/** The issue's split: 120 / 20 / 30 of the 170 images. */
const SPLIT = { val: 20, test: 30 };
const TRAIN_IMAGES = [10, 30, 120];
/** The split is the same for every run (seed 1); seeds vary initialisation, augmentation and order. */
const SPLIT_SEED = 1;
/** torchvision's tutorial (Mask R-CNN ResNet-50-FPN pre-trained on COCO, GPU), box AP after 10 epochs. */
const ANCHOR = { ap50: 0.98, ap: 0.7 };
/** The largest batch a from-scratch MobileNetV2 at 320x320 trains in on TF.js wasm here (4 overflows its heap). */
const SCRATCH_BATCH = 2;
/** What it runs on, the default first. */
const BASES = ['mobilenet_v2', 'nanodet'] as const;

interface Scores {
  ap50: number;
  ap: number;
  trainSeconds: number;
}

const summarise = (runs: Scores[]) => ({
  ap50: mean(runs.map((r) => r.ap50)),
  ap: mean(runs.map((r) => r.ap)),
  trainSeconds: mean(runs.map((r) => r.trainSeconds)),
  ap50Sd: sd(runs.map((r) => r.ap50)),
});

/** One cell: a training-set size and a seed. Transfer and scratch run in the same cell: scratch gets the wall-clock time transfer took. */
type PennCell = { trainImages: number; seed: number };
const MODE_NAMES = { transfer: 'transfer', scratch: 'scratch', headStart: 'head start' } as const;
interface PennResult {
  transfer: Scores;
  /** None on a frozen base. */
  scratch: Scores | null;
  /** On a detector base: the class started from the base's `person`. */
  headStart?: Scores;
}

/** The base and the seeded split, loaded once per process for every cell. */
const setup = once(async ({ path, base }: { path: string; base: string }) => {
  const b = await loadImageBase(base);
  const set = await loadDetectionData(path);
  return { base: b, all: splitDetection(set, { seed: SPLIT_SEED, counts: SPLIT }) };
});

function setupOf(opts: ExperimentOptions) {
  const path = opts.data ?? DEFAULT_DATA;
  if (!existsSync(path))
    throw new GraftError(`pennfudan: ${path} not found (the shared Penn-Fudan data set; pass --data PATH/annotations.json)`, 1);
  if (opts.variant) throw usageError('pennfudan has no variants');
  return setup({ path, base: opts.base ?? BASES[0] });
}

async function cells(opts: ExperimentOptions): Promise<PennCell[]> {
  const { all } = await setupOf(opts);
  const seeds = opts.seeds ?? [1, 2, 3];
  return TRAIN_IMAGES.filter((k) => k <= all.train.samples.length).flatMap((n) => seeds.map((seed) => ({ trainImages: n, seed })));
}

async function runCell({ trainImages: n, seed }: PennCell, opts: ExperimentOptions): Promise<PennResult> {
  const { base, all } = await setupOf(opts);
  // A frozen base (nanodet) trains its head only: no scratch detector to compare with, but a head
  // whose class starts from the base's person classifier, when it has one.
  const modes =
    base.kind === 'layers'
      ? (['transfer', 'scratch'] as const)
      : base.kind === 'onnx' && base.classifier?.classes.includes('person')
        ? (['transfer', 'headStart'] as const)
        : (['transfer'] as const);
  const result: PennResult = { transfer: { ap50: 0, ap: 0, trainSeconds: 0 }, scratch: null };
  let budget = Infinity;
  for (const mode of modes) {
    tell(opts.callbacks, 'onStep', `${n} training images, ${MODE_NAMES[mode]}, seed ${seed}`);
    // Scratch trains every layer on TF.js: about 2 s per 320x320 image step here (issue 20),
    // and batches above 2 run out of the wasm heap. So it gets the wall-clock time the
    // transfer run took (TimeStopping), in batches of 2.
    const limit = new TimeStopping(budget);
    const r = await trainDetector({
      base,
      data: all,
      trainImages: n,
      scratch: mode === 'scratch',
      // Penn-Fudan's one class, pedestrian, is COCO's person.
      headStart: mode === 'headStart' ? Object.fromEntries(all.train.classes.map((c) => [c, 'person'])) : undefined,
      ...(mode === 'scratch' ? { batchSize: SCRATCH_BATCH } : {}),
      seed,
      trainEngine: opts.trainEngine,
      callbacks: [...(opts.callbacks ?? []), ...(mode === 'scratch' ? [limit] : [])],
    });
    if (mode === 'transfer') budget = r.training.seconds;
    result[mode] = { ap50: r.metrics.test.ap50, ap: r.metrics.test.ap, trainSeconds: r.training.seconds };
    // Each run's numbers as it ends: a long experiment that fails later keeps what it measured.
    tell(
      opts.callbacks,
      'onStep',
      `${n} training images, ${MODE_NAMES[mode]}, seed ${seed}: test AP50 ${r.metrics.test.ap50.toFixed(3)}, AP ${r.metrics.test.ap.toFixed(3)}, ${r.training.seconds.toFixed(0)} s`,
    );
    await r.model.dispose();
  }
  return result;
}

async function table(cells: PennCell[], results: PennResult[], opts: ExperimentOptions): Promise<ExperimentResult> {
  const seeds = opts.seeds ?? [1, 2, 3];
  const { base, all } = await setupOf(opts);
  const rows = [...new Set(cells.map((c) => c.trainImages))].map((n) => {
    const of = results.filter((_, i) => cells[i].trainImages === n);
    const scratch = of.flatMap((r) => (r.scratch ? [r.scratch] : []));
    const started = of.flatMap((r) => (r.headStart ? [r.headStart] : []));
    const other = scratch.length ? summarise(scratch) : started.length ? summarise(started) : null;
    return { trainImages: n, transfer: summarise(of.map((r) => r.transfer)), other };
  });
  const f = (x: number) => x.toFixed(3);
  const hasStart = results.some((r) => r.headStart);
  const other = hasStart ? 'head start' : 'scratch';
  const trunk =
    base.kind === 'layers'
      ? `input 320x320 letterboxed) on ${base.name} cut at its last stride-16 map, head then 1 block fine-tuned, vs the same detector from scratch given the same wall-clock time as the transfer run (TimeStopping, batches of ${SCRATCH_BATCH})`
      : `input ${base.input.height}x${base.input.width} letterboxed) on ${base.name}'s frozen map at ${base.suggestedCut}, the head alone (a frozen base has no scratch run)${
          hasStart ? `, vs the same head with the class starting from ${base.name}'s own person classifier (head start)` : ''
        }`;
  const markdown = [
    `pennfudan: CenterNet head (stride 16, ${trunk}; ${all.val.samples.length} validation and ${all.test.samples.length} test images of one seeded split; test AP on the original pixels; mean over seeds ${seeds.join(', ')} (± sd of AP50).`,
    '',
    markdownTable(
      ['train images', 'transfer AP50', 'transfer AP', 'transfer train s', `${other} AP50`, `${other} AP`, `${other} train s`],
      rows.map((r) => [
        r.trainImages,
        `${f(r.transfer.ap50)} ± ${f(r.transfer.ap50Sd)}`,
        f(r.transfer.ap),
        r.transfer.trainSeconds.toFixed(0),
        r.other ? `${f(r.other.ap50)} ± ${f(r.other.ap50Sd)}` : '-',
        r.other ? f(r.other.ap) : '-',
        r.other ? r.other.trainSeconds.toFixed(0) : '-',
      ]),
    ),
    '',
    `anchor: torchvision's tutorial fine-tunes a COCO-pre-trained Mask R-CNN (ResNet-50-FPN, GPU) here to box AP50 ≈ ${ANCHOR.ap50}, AP ≈ ${ANCHOR.ap}.`,
  ].join('\n');
  return {
    json: {
      experiment: 'pennfudan',
      base: base.name,
      seeds,
      split: { train: all.train.samples.length, ...SPLIT, seed: SPLIT_SEED },
      rows: rows.map((r) => ({
        trainImages: r.trainImages,
        transfer: { ap50: r.transfer.ap50, ap: r.transfer.ap, trainSeconds: r.transfer.trainSeconds },
        [hasStart ? 'headStart' : 'scratch']: r.other && { ap50: r.other.ap50, ap: r.other.ap, trainSeconds: r.other.trainSeconds },
      })),
    },
    markdown,
  };
}

export const pennfudan = gridExperiment({
  name: 'pennfudan',
  description:
    'Penn-Fudan pedestrian detection: mobilenet_v2 trunk vs scratch (or the head on nanodet, frozen) with 10, 30 and all training images (AP50, AP)',
  takesData: true,
  bases: BASES,
  grid: { cells, runCell, table },
});

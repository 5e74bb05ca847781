// Inductive transfer to a new task in a new domain: a speech base (Google's speech_embedding, or
// speech-cnn, pre-trained on words, not digits, spoken by a synthesiser) learns the Free Spoken
// Digit Dataset's real recordings of 0-9 by six speakers from 1, 5, 20 and all labelled
// recordings per class, against speech-cnn's network from scratch; test accuracy on the dataset's
// own test split.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpeechCnn } from '../bases/audio/speech-cnn.js';
import { loadSpeechEmbedding } from '../bases/audio/speech-embedding.js';
import { GraftError, usageError } from '../core/errors.js';
import { loadManifest, parseWhere } from '../data/manifest.js';
import { splitDataset } from '../data/split.js';
import type { ImageSet, LoadOptions, Splits } from '../data/types.js';
import { gridExperiment, once } from './grid.js';
import { curveGrid, type LabelsPerClass, type TransferCurve } from './transfer-curve.js';
import type { ExperimentOptions } from './types.js';

/** The project's shared FSDD beside a checkout (never copied into the repository). */
export const FSDD_MANIFEST = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/data/fsdd/manifest.csv');

const LABELS_PER_CLASS: LabelsPerClass[] = [1, 5, 20, 'all'];
/**
 * The same budget for transfer and scratch; few labels need more passes (early stopping ends most
 * sooner). Ten recordings are one batch, so one label per class gets as many steps as five do.
 */
const budget = (n: LabelsPerClass) =>
  n === 'all'
    ? { epochs: 30, patience: 5, batchSize: 64 }
    : n === 1
      ? { epochs: 240, patience: 32, batchSize: 16 }
      : { epochs: 60, patience: 8, batchSize: 16 };

/** FSDD's training recordings (split=train) and its test recordings (split=test), as spectrograms for `o`'s medium. */
export async function loadFsdd(
  manifest: string,
  o: Omit<LoadOptions, 'where'>,
  where: string[] = [],
): Promise<{ train: ImageSet; test: ImageSet }> {
  if (!existsSync(manifest))
    throw new GraftError(`FSDD not found at ${manifest} (the shared Free Spoken Digit Dataset; pass --data PATH/manifest.csv)`, 1);
  const load = (split: string) =>
    loadManifest(manifest, { ...o, where: [parseWhere(`split=${split}`), ...where.map((w) => parseWhere(w))] });
  return { train: await load('train'), test: await load('test') };
}

/** The bases fsdd-transfer runs on, the stronger first. */
const BASES = ['speech-embedding', 'speech-cnn'] as const;

/** A tenth of each digit's training recordings stops training early; the test split is the dataset's own. */
const splitsOf =
  (fsdd: { train: ImageSet; test: ImageSet }) =>
  (n: LabelsPerClass, seed: number): Splits => ({
    ...splitDataset(fsdd.train, { valFraction: 0.1, testFraction: 0, seed, perClass: n === 'all' ? undefined : n }),
    test: fsdd.test,
  });

/** The networks and FSDD as each hears it, loaded once per process for every cell; the caption says what runs. */
const setup = once(async ({ manifest, base }: { manifest: string; base: string }) => {
  const cnn = await loadSpeechCnn();
  const cnnData = await loadFsdd(manifest, { size: cnn.input, medium: cnn.medium });
  // speech-cnn can fine-tune its top block once there are labels enough to move it.
  const cnnOptions = (n: LabelsPerClass) => ({ cut: cnn.suggestedCut, unfreeze: n === 'all' || n >= 20 ? 1 : 0, ...budget(n) });
  const scratch = { base: cnn, splits: splitsOf(cnnData), options: cnnOptions };
  const tests = cnnData.test.labels.length;
  if (base === 'speech-embedding') {
    const embedding = await loadSpeechEmbedding();
    const data = await loadFsdd(manifest, { size: embedding.input, medium: embedding.medium });
    // The same seed must draw the same recordings for both networks: the same files, in the same order.
    if (data.train.ids.join('\n') !== cnnData.train.ids.join('\n'))
      throw new GraftError('FSDD loaded as the two bases hear it holds different recordings (one skipped a file the other read)');
    const curve: TransferCurve = {
      base: embedding,
      splits: splitsOf(data),
      options: (n) => ({ cut: embedding.suggestedCut, unfreeze: 0, ...budget(n) }),
      scratch,
    };
    const caption = `speech-embedding (Google's speech_embedding, frozen; a linear head on its pooled windows) → FSDD's spoken digits by six real speakers, vs speech-cnn's network trained from scratch on the same recordings`;
    return { curve, caption, tests };
  }
  const caption = `speech-cnn (pre-trained on 35 synthetic English words, no digits) → FSDD's spoken digits by six real speakers, head on the pooled features (and one block fine-tuned from 20 labels per class) vs the same network from scratch`;
  return { curve: scratch as TransferCurve, caption, tests };
});

const setupOf = (opts: ExperimentOptions) => {
  if (opts.variant) throw usageError('fsdd-transfer has no variants');
  return setup({ manifest: opts.data ?? FSDD_MANIFEST, base: opts.base ?? BASES[0] });
};

export const fsddTransfer = gridExperiment({
  name: 'fsdd-transfer',
  description: 'speech-embedding or speech-cnn (synthetic words) → real spoken digits (FSDD) vs scratch at 1/5/20/all labels per class',
  bases: BASES,
  takesData: true,
  grid: curveGrid({
    name: 'fsdd-transfer',
    labels: () => LABELS_PER_CLASS,
    seeds: [1, 2, 3],
    curve: async (opts) => (await setupOf(opts)).curve,
    caption: async (opts) => {
      const { caption, tests } = await setupOf(opts);
      return `${caption}; labelled training recordings per class drawn across the speakers; accuracy on the dataset's test split (${tests} recordings)`;
    },
  }),
});

// The seed's domain-adaptation example on real voices: digits spoken by the two American speakers
// of the Free Spoken Digit Dataset (source, labelled) and by each speaker with another accent
// (Belgian French, German, Greek: target, unlabelled), speech-cnn trained end to end with each
// adaptation method; `target-oracle` trains on the target speaker's own labels, the ceiling.
import { loadSpeechCnn } from '../bases/audio/speech-cnn.js';
import { usageError } from '../core/errors.js';
import { splitDataset } from '../data/split.js';
import { pct } from '../evaluate/report.js';
import { adaptToEach, gapClosed, gridJson, gridTable } from './adaptation-grid.js';
import { FSDD_MANIFEST, loadFsdd } from './fsdd-transfer.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const SOURCE_SPEAKERS = ['jackson', 'theo'];
const TARGET_SPEAKERS = ['nicolas', 'yweweler', 'lucas', 'george'];
const EPOCHS = 15;
const SELF_TRAIN = { rounds: 2, threshold: 0.9 };
/** Measured here with a small log-mel CNN in PyTorch (one seed), as the issue reports it. */
const REFERENCE = { none: 0.26, adabn: 0.35, oracle: 0.75 };

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  if (opts.variant) throw usageError('fsdd-accents has no variants');
  const seeds = opts.seeds ?? [1, 2, 3];
  const manifest = opts.data ?? FSDD_MANIFEST;
  const base = await loadSpeechCnn();
  const load = { size: base.input, medium: base.medium, callbacks: opts.callbacks };
  const source = await loadFsdd(manifest, load, [`speaker=${SOURCE_SPEAKERS.join(',')}`]);
  // The source split is fixed (seed 1): seeds vary the adaptation training.
  const sourceSplits = { ...splitDataset(source.train, { valFraction: 0.1, testFraction: 0, seed: 1 }), test: source.test };
  const rows = await adaptToEach({
    base,
    domains: TARGET_SPEAKERS,
    dataFor: async (speaker) => {
      const target = await loadFsdd(manifest, load, [`speaker=${speaker}`]);
      return { source: sourceSplits, target: target.train, targetLabelled: target.train, evalTarget: target.test };
    },
    seeds,
    epochs: EPOCHS,
    selfTrain: SELF_TRAIN,
    callbacks: opts.callbacks,
  });
  const closed = gapClosed(rows);
  const best = rows.filter((r) => r.method !== 'none' && r.method !== 'target-oracle').reduce((a, b) => (b.mean > a.mean ? b : a));
  const markdown = [
    `fsdd-accents: source = FSDD's American speakers (${SOURCE_SPEAKERS.join(', ')}), labelled; target = each other speaker's training recordings, unlabelled; accuracy on that speaker's test recordings. speech-cnn trained end to end up to ${base.suggestedCut} with the adaptation network, ${EPOCHS} passes over the source; target-oracle trains on the target speaker's labels. Mean over seeds ${seeds.join(', ')}.`,
    '',
    gridTable(rows, TARGET_SPEAKERS),
    '',
    `gap closed = (method − none) / (target-oracle − none) on the mean; best: ${best.method} (${(closed(best.mean) * 100).toFixed(0)}%). Reference measured here with a small log-mel CNN in PyTorch (one seed): source-only ${pct(REFERENCE.none)}, AdaBN ${pct(REFERENCE.adabn)}, every speaker's labels ${pct(REFERENCE.oracle)} (means).`,
  ].join('\n');
  return { json: { experiment: 'fsdd-accents', seeds, sourceSpeakers: SOURCE_SPEAKERS, ...gridJson(rows) }, markdown };
}

export const fsddAccents: Experiment = {
  name: 'fsdd-accents',
  description: 'American → accented speakers of FSDD, unlabelled: none, AdaBN, CORAL, DANN, self-training and a target-trained oracle',
  takesData: true,
  run,
};

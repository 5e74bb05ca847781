// The seed's domain-adaptation example on real voices: digits spoken by the two American speakers
// of the Free Spoken Digit Dataset (source, labelled) and by each speaker with another accent
// (Belgian French, German, Greek: target, unlabelled), a speech base (speech-embedding frozen, or
// speech-cnn frozen or trained end to end) with each
// adaptation method; `target-oracle` trains on the source's and the target speaker's labels, the ceiling.
import { loadSpeechCnn } from '../bases/audio/speech-cnn.js';
import { loadSpeechEmbedding } from '../bases/audio/speech-embedding.js';
import type { ImageBase } from '../bases/types.js';
import { basename } from 'node:path';
import { usageError } from '../core/errors.js';
import { spectrogramPicture } from '../data/audio/picture.js';
import { loadManifest, parseWhere } from '../data/manifest.js';
import type { LoadOptions } from '../data/types.js';
import { splitDataset } from '../data/split.js';
import { pct } from '../evaluate/report.js';
import { adaptToEach, trunkPhrase, TRUNKS, type Trunk, gapClosed, gridJson, gridTable } from './adaptation-grid.js';
import { FSDD_MANIFEST, loadFsdd } from './fsdd-transfer.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const SOURCE_SPEAKERS = ['jackson', 'theo'];
/** FSDD's speakers.json. */
const SPEAKER_ACCENTS: Record<string, string> = {
  jackson: 'American',
  theo: 'American',
  nicolas: 'Belgian French',
  yweweler: 'German',
  lucas: 'German',
  george: 'Greek',
};
const TARGET_SPEAKERS = ['nicolas', 'yweweler', 'lucas', 'george'];
/** The bases it runs on, the stronger first. */
const BASES = ['speech-embedding', 'speech-cnn'] as const;
const EPOCHS = 15;
const SELF_TRAIN = { rounds: 2, threshold: 0.9 };
/** Measured here with a small log-mel CNN in PyTorch (one seed), as the issue reports it. */
const REFERENCE = { none: 0.26, adabn: 0.35, oracle: 0.75 };

/** Each speaker's first test recording of the digit 7 (files are DIGIT_SPEAKER_INDEX.wav), as the base's spectrograms. */
async function accentPicture(manifest: string, load: Omit<LoadOptions, 'where'>): Promise<Buffer> {
  const test = await loadManifest(manifest, { ...load, where: [parseWhere('split=test')] });
  const seven = test.classes.indexOf('7');
  const per = test.size.height * test.size.width;
  const clips = [...SOURCE_SPEAKERS, ...TARGET_SPEAKERS].flatMap((speaker) => {
    const i = test.ids.findIndex((id, k) => test.labels[k] === seven && basename(id).split('_')[1] === speaker);
    return i < 0 ? [] : [{ label: `${speaker} (${SPEAKER_ACCENTS[speaker]})`, pixels: test.pixels.subarray(i * per, (i + 1) * per) }];
  });
  return spectrogramPicture(clips, test.size);
}

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const trunk = (opts.variant ?? TRUNKS[0]) as Trunk;
  if (!TRUNKS.includes(trunk)) throw usageError(`fsdd-accents variants: ${TRUNKS.join(', ')}; got ${opts.variant}`);
  const seeds = opts.seeds ?? [1, 2, 3];
  const manifest = opts.data ?? FSDD_MANIFEST;
  const name = opts.base ?? BASES[0];
  // speech-embedding is frozen ONNX: only its features adapt (AdaBN then has the adaptation network's BatchNorm alone).
  if (name === 'speech-embedding' && trunk === 'trainable')
    throw usageError('speech-embedding is a frozen base: fsdd-accents runs it with --variant frozen only');
  const base: ImageBase = name === 'speech-embedding' ? await loadSpeechEmbedding() : await loadSpeechCnn();
  const load = { size: base.input, medium: base.medium, callbacks: opts.callbacks };
  const source = await loadFsdd(manifest, load, [`speaker=${SOURCE_SPEAKERS.join(',')}`]);
  // The source split is fixed (seed 1): seeds vary the adaptation training.
  const sourceSplits = { ...splitDataset(source.train, { valFraction: 0.1, testFraction: 0, seed: 1 }), test: source.test };
  const picture = await accentPicture(manifest, load);
  const rows = await adaptToEach({
    base,
    domains: TARGET_SPEAKERS,
    dataFor: async (speaker) => {
      const target = await loadFsdd(manifest, load, [`speaker=${speaker}`]);
      return { source: sourceSplits, target: target.train, targetLabelled: target.train, evalTarget: target.test };
    },
    seeds,
    trunk,
    epochs: EPOCHS,
    selfTrain: SELF_TRAIN,
    callbacks: opts.callbacks,
    trainEngine: opts.trainEngine,
  });
  const closed = gapClosed(rows);
  const best = rows.filter((r) => r.method !== 'none' && r.method !== 'target-oracle').reduce((a, b) => (b.mean > a.mean ? b : a));
  const markdown = [
    `fsdd-accents: source = FSDD's American speakers (${SOURCE_SPEAKERS.join(', ')}), labelled; target = each other speaker's training recordings, unlabelled; accuracy on that speaker's test recordings. ${trunkPhrase(trunk, base)}, ${EPOCHS} passes over the source; target-oracle trains on the source's and the target speaker's labels. Mean over seeds ${seeds.join(', ')}.`,
    '',
    gridTable(rows, TARGET_SPEAKERS),
    '',
    `gap closed = (method − none) / (target-oracle − none) on the mean; best: ${best.method} (${(closed(best.mean) * 100).toFixed(0)}%). Reference measured here with a small log-mel CNN in PyTorch (one seed): source-only ${pct(REFERENCE.none)}, AdaBN ${pct(REFERENCE.adabn)}, every speaker's labels ${pct(REFERENCE.oracle)} (means).`,
  ].join('\n');
  return {
    json: { experiment: 'fsdd-accents', base: base.name, variant: trunk, seeds, sourceSpeakers: SOURCE_SPEAKERS, ...gridJson(rows) },
    markdown,
    figures: [{ name: 'spectrograms', png: picture, caption: `the digit 7 by each FSDD speaker, as ${base.name} hears it` }],
  };
}

export const fsddAccents: Experiment = {
  name: 'fsdd-accents',
  variants: TRUNKS,
  bases: BASES,
  description: 'American → accented speakers of FSDD, unlabelled: none, AdaBN, CORAL, DANN, self-training and a target-trained oracle',
  takesData: true,
  run,
};

// The seed's literal domain-adaptation case, American → British English, made offline: the ten
// digits spoken by eSpeak NG's American voice (source, labelled) and by its British voices
// (standard southern, Scottish, Received Pronunciation: targets, unlabelled), a speech base
// (speech-embedding frozen, or speech-cnn frozen or trained end to end) with each adaptation method. Voice variants (timbre) differ between the training,
// validation and evaluation sets, so a method is judged on voices it never heard.
import { loadImageBase } from '../bases/index.js';
import { tell } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { speakSet } from '../pretrain/speech-cnn.js';
import { DIGIT_WORDS, voicesOf } from '../pretrain/speech/words.js';
import { adaptToEach, trunkPhrase, TRUNKS, type Trunk, gridJson, gridTable } from './adaptation-grid.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const SOURCE = 'en-us';
const TARGETS = ['en-gb', 'en-gb-scotland', 'en-gb-x-rp'];
/** The bases it runs on, the stronger first (the default: source-only 91.8% vs 80.8%, docs/audio.md). */
const BASES = ['speech-embedding', 'speech-cnn'] as const;
const EPOCHS = 15;
/** Augmented copies of each training utterance (source and target alike); evaluation sets are clean. */
const COPIES = 2;

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const trunk = (opts.variant ?? TRUNKS[0]) as Trunk;
  if (!TRUNKS.includes(trunk)) throw usageError(`espeak-accents variants: ${TRUNKS.join(', ')}; got ${opts.variant}`);
  if (opts.data) throw usageError('espeak-accents synthesises its data: it takes no --data');
  const seeds = opts.seeds ?? [1, 2, 3];
  const name = opts.base ?? BASES[0];
  if (name === 'speech-embedding' && trunk === 'trainable')
    throw usageError('speech-embedding is a frozen base: espeak-accents runs it with --variant frozen only');
  const base = await loadImageBase(name);
  if (base.medium?.kind !== 'audio') throw usageError(`espeak-accents runs on a speech base (${BASES.join(', ')}), not ${name}`);
  const spec = base.medium.spec;
  const say = (voice: string, split: 'train' | 'val' | 'test', copies: number) =>
    speakSet(DIGIT_WORDS, voicesOf(voice, split), { copies, seed: 1, spec, callbacks: opts.callbacks });
  tell(opts.callbacks, 'onStep', `${SOURCE}: speaking the digits`);
  const source = { train: await say(SOURCE, 'train', COPIES), val: await say(SOURCE, 'val', 0), test: await say(SOURCE, 'test', 0) };
  const rows = await adaptToEach({
    base,
    domains: TARGETS,
    dataFor: async (voice) => {
      tell(opts.callbacks, 'onStep', `${voice}: speaking the digits`);
      const target = await say(voice, 'train', COPIES);
      return { source, target, targetLabelled: target, evalTarget: await say(voice, 'test', 0) };
    },
    seeds,
    trunk,
    epochs: EPOCHS,
    selfTrain: { rounds: 2, threshold: 0.9 },
    callbacks: opts.callbacks,
    trainEngine: opts.trainEngine,
  });
  const markdown = [
    `espeak-accents: the digits spoken by eSpeak NG, source ${SOURCE} (labelled), targets ${TARGETS.join(', ')} (unlabelled); ${COPIES} augmented copies per training utterance; evaluation on voice variants no training set holds. ${trunkPhrase(trunk, base)}, ${EPOCHS} passes; target-oracle trains on the source's and the target's labels. Mean over seeds ${seeds.join(', ')}.`,
    '',
    gridTable(rows, TARGETS),
  ].join('\n');
  return { json: { experiment: 'espeak-accents', base: base.name, variant: trunk, seeds, source: SOURCE, ...gridJson(rows) }, markdown };
}

export const espeakAccents: Experiment = {
  name: 'espeak-accents',
  variants: TRUNKS,
  bases: BASES,
  description:
    'American → British English (eSpeak NG voices, synthetic): none, AdaBN, CORAL, DANN, self-training and a target-trained oracle',
  run,
};

// The seed's literal domain-adaptation case, American → British English, made offline: the ten
// digits spoken by eSpeak NG's American voice (source, labelled) and by its British voices
// (standard southern, Scottish, Received Pronunciation: targets, unlabelled), speech-cnn trained
// end to end with each adaptation method. Voice variants (timbre) differ between the training,
// validation and evaluation sets, so a method is judged on voices it never heard.
import { loadSpeechCnn } from '../bases/audio/speech-cnn.js';
import { tell } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { speakSet } from '../pretrain/speech-cnn.js';
import { DIGIT_WORDS, voicesOf } from '../pretrain/speech/words.js';
import { adaptToEach, trunkPhrase, TRUNKS, type Trunk, gridJson, gridTable } from './adaptation-grid.js';
import type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

const SOURCE = 'en-us';
const TARGETS = ['en-gb', 'en-gb-scotland', 'en-gb-x-rp'];
const EPOCHS = 15;
/** Augmented copies of each training utterance (source and target alike); evaluation sets are clean. */
const COPIES = 2;

async function run(opts: ExperimentOptions): Promise<ExperimentResult> {
  const trunk = (opts.variant ?? TRUNKS[0]) as Trunk;
  if (!TRUNKS.includes(trunk)) throw usageError(`espeak-accents variants: ${TRUNKS.join(', ')}; got ${opts.variant}`);
  if (opts.data) throw usageError('espeak-accents synthesises its data: it takes no --data');
  const seeds = opts.seeds ?? [1, 2, 3];
  const base = await loadSpeechCnn();
  const say = (voice: string, split: 'train' | 'val' | 'test', copies: number) =>
    speakSet(DIGIT_WORDS, voicesOf(voice, split), { copies, seed: 1, callbacks: opts.callbacks });
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
  return { json: { experiment: 'espeak-accents', variant: trunk, seeds, source: SOURCE, ...gridJson(rows) }, markdown };
}

export const espeakAccents: Experiment = {
  name: 'espeak-accents',
  variants: TRUNKS,
  description:
    'American → British English (eSpeak NG voices, synthetic): none, AdaBN, CORAL, DANN, self-training and a target-trained oracle',
  run,
};

// Pre-trainings graft can reproduce (`graft pretrain NAME`): each trains an embedded base from
// data it builds offline and writes it where the base registry loads it from. A new one is one
// module and one line here.
import type { Callback } from '../core/callbacks.js';
import { DIGITS_CNN_DIR } from '../bases/image/digits-cnn.js';
import { SPEECH_CNN_DIR } from '../bases/audio/speech-cnn.js';
import { saveBaseModel } from './classifier.js';
import { pretrainDigitsCnn, type PretrainResult } from './digits-cnn.js';
import { pretrainSpeechCnn } from './speech-cnn.js';

export interface PretrainOutcome {
  /** What was trained, in one sentence. */
  summary: string;
  testAccuracy: number;
  epochs: number;
  seconds: number;
  save(dir: string, force: boolean): Promise<void>;
}

export interface Pretraining {
  /** The embedded base it produces. */
  base: string;
  description: string;
  /** Where the base registry reads it from (the default output). */
  dir: string;
  run(o: { seed: number; epochs?: number; callbacks?: readonly Callback[] }): Promise<PretrainOutcome>;
}

/** What every pre-training of a LayersModel base reports: its result, in a sentence, and how to save it. */
const outcome = (r: PretrainResult, summary: string): PretrainOutcome => ({
  summary,
  testAccuracy: r.testAccuracy,
  epochs: r.epochsRun,
  seconds: r.seconds,
  save: (dir, force) => saveBaseModel(r.base.model, dir, force),
});

export const PRETRAININGS: Record<string, Pretraining> = {
  digits: {
    base: 'digits-cnn',
    description: 'digits-cnn (Keras mnist_transfer_cnn) trained on MNIST digits 0-4',
    dir: DIGITS_CNN_DIR,
    async run(o) {
      const r = await pretrainDigitsCnn(o);
      return outcome(r, `digits-cnn trained on MNIST 0-4 (${r.epochsRun} epochs)`);
    },
  },
  speech: {
    base: 'speech-cnn',
    description: 'speech-cnn (a keyword-spotting CNN) trained on 35 English words, not digits, spoken by eSpeak NG in American voices',
    dir: SPEECH_CNN_DIR,
    async run(o) {
      const r = await pretrainSpeechCnn(o);
      return outcome(
        r,
        `speech-cnn trained on ${r.words} synthetic words (${r.clips} clips, ${r.epochsRun} epochs), tested on voices it never heard`,
      );
    },
  },
};

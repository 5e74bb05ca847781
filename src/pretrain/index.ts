// Pre-trainings graft can reproduce (`graft pretrain NAME`): each trains an embedded base from
// data it builds offline and writes it where the base registry loads it from. A new one is one
// module and one line here.
import type { Callback } from '../core/callbacks.js';
import { DIGITS_CNN_DIR } from '../bases/image/digits-cnn.js';
import { pretrainDigitsCnn, saveDigitsCnn } from './digits-cnn.js';

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

export const PRETRAININGS: Record<string, Pretraining> = {
  digits: {
    base: 'digits-cnn',
    description: 'digits-cnn (Keras mnist_transfer_cnn) trained on MNIST digits 0-4',
    dir: DIGITS_CNN_DIR,
    async run(o) {
      const r = await pretrainDigitsCnn(o);
      return {
        summary: `digits-cnn trained on MNIST 0-4 (${r.epochsRun} epochs)`,
        testAccuracy: r.testAccuracy,
        epochs: r.epochsRun,
        seconds: r.seconds,
        save: (dir, force) => saveDigitsCnn(r.base.model, dir, force),
      };
    },
  },
};

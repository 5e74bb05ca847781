// Deep CORAL (Sun and Saenko 2016): the distance between the source and target bottleneck
// covariances added to the loss.
import * as tf from '@tensorflow/tfjs';
import { coralLoss } from '../losses.js';
import type { AdaptationMethod } from '../types.js';

export const coral: AdaptationMethod = {
  description: 'Deep CORAL (Sun and Saenko 2016): ‖C_s − C_t‖²_F / 4d² on the bottleneck',
  aligned: true,
  start: (o) => ({
    addLoss: (loss, { hs, ht }) => tf.add(loss, tf.mul(coralLoss(hs, ht), o.coralWeight)),
    step: { term: { kind: 'coral', weight: o.coralWeight } },
  }),
};

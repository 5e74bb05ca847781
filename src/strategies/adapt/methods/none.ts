// Source only: the adaptation network trained on the labelled source alone, the baseline every
// method is reported against.
import type { AdaptationMethod } from '../types.js';

export const none: AdaptationMethod = {
  description: 'source only: the baseline every method is reported against',
  aligned: false,
};

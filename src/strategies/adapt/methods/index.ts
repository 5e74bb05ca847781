// The adaptation methods, by name: each a module implementing AdaptationMethod. A new method is
// one module here and one line below; `graft adapt --method` and the experiments list them.
import type { AdaptationMethod } from '../types.js';
import { adabn } from './adabn.js';
import { coral } from './coral.js';
import { dann } from './dann.js';
import { none } from './none.js';
import { selfTrain } from './self-train.js';

export const ADAPTATION_METHODS = { none, adabn, coral, dann, 'self-train': selfTrain } satisfies Record<string, AdaptationMethod>;
export type AdaptMethod = keyof typeof ADAPTATION_METHODS;
export const ADAPT_METHODS = Object.keys(ADAPTATION_METHODS) as AdaptMethod[];

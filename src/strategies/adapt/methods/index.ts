// The adaptation methods, by name: each a module implementing AdaptationMethod. A new method is
// one module here and one line below; `graft adapt --method` and the experiments list them.
import type { AdaptationMethod } from '../types.js';
import { adabn } from './adabn.js';
import { coral } from './coral.js';
import { dann } from './dann.js';
import { none } from './none.js';
import { selfTrain } from './self-train.js';

/** A method's name: the registry below must hold exactly these (the compiler checks both ways). */
export type AdaptMethod = 'none' | 'adabn' | 'coral' | 'dann' | 'self-train';
export const ADAPTATION_METHODS = { none, adabn, coral, dann, 'self-train': selfTrain } satisfies Record<AdaptMethod, AdaptationMethod>;
export const ADAPT_METHODS = Object.keys(ADAPTATION_METHODS) as AdaptMethod[];

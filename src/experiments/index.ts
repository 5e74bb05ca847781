import { digitsTransfer } from './digits-transfer.js';
import type { Experiment } from './types.js';

export const EXPERIMENTS: Record<string, Experiment> = {
  [digitsTransfer.name]: digitsTransfer,
};

export type { Experiment, ExperimentOptions, ExperimentResult } from './types.js';

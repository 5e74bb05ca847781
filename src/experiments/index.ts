import { digitsInScenes } from './digits-in-scenes.js';
import { digitsTransfer } from './digits-transfer.js';
import { espeakAccents } from './espeak-accents.js';
import { fsddAccents } from './fsdd-accents.js';
import { fsddTransfer } from './fsdd-transfer.js';
import { mnistMnistm } from './mnist-mnistm.js';
import { pennfudan } from './pennfudan.js';
import { spamCurve } from './spam-curve.js';
import { spamShift } from './spam-shift.js';
import { transferLayers } from './transfer-layers.js';
import type { Experiment } from './types.js';

export const EXPERIMENTS: Record<string, Experiment> = {
  [digitsTransfer.name]: digitsTransfer,
  [transferLayers.name]: transferLayers,
  [mnistMnistm.name]: mnistMnistm,
  [spamCurve.name]: spamCurve,
  [spamShift.name]: spamShift,
  [digitsInScenes.name]: digitsInScenes,
  [pennfudan.name]: pennfudan,
  [fsddTransfer.name]: fsddTransfer,
  [fsddAccents.name]: fsddAccents,
  [espeakAccents.name]: espeakAccents,
};

export type { Experiment, ExperimentOptions, ExperimentResult, Grid, GridCell } from './types.js';

// How a sweep tells its caller what runs where: the callback protocol's `onProgress` for the
// count of trials finished, and `onTrial` for each trial starting or ending on a worker.
import type { Callback } from '../core/callbacks.js';
import type { Trial } from './grid.js';
import type { TrialResult } from './trial.js';

export type TrialEvent =
  { kind: 'start'; trial: Trial; worker: string } | { kind: 'end'; trial: Trial; result: TrialResult; reused: boolean };

export interface SweepCallback extends Callback {
  onTrial?(event: TrialEvent): void;
}

export function tellTrial(callbacks: readonly SweepCallback[] | undefined, event: TrialEvent): void {
  for (const c of callbacks ?? []) c.onTrial?.(event);
}

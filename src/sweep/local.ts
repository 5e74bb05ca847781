// A sweep on this machine: trials run in child processes, `workers` at a time. No scheduler of
// our own beyond taking the next trial when a slot frees: what runs on several machines goes
// through the queue (queue.ts).
import { availableParallelism } from 'node:os';
import { tell } from '../core/callbacks.js';
import { tellTrial, type SweepCallback } from './events.js';
import type { Trial } from './grid.js';
import { runTrial, TrialInterrupted, type TrialResult } from './trial.js';

export interface LocalSweepOptions {
  trialsDir: string;
  /** Trials at a time (default: the cores this process may use). */
  workers?: number;
  callbacks?: SweepCallback[];
  signal?: AbortSignal;
}

export const defaultWorkers = () => availableParallelism();

/** Every trial's result, in the grid's order. A trial whose process was killed is a failed row (and is run again next time). */
export async function runLocalSweep(trials: Trial[], o: LocalSweepOptions): Promise<TrialResult[]> {
  const workers = Math.max(1, Math.min(o.workers ?? defaultWorkers(), trials.length));
  const results: TrialResult[] = new Array(trials.length);
  let next = 0;
  let done = 0;
  tell(o.callbacks, 'onProgress', 'trials', 0, trials.length);
  const slot = async (n: number) => {
    const worker = `local-${n}`;
    while (next < trials.length && !o.signal?.aborted) {
      const i = next++;
      const trial = trials[i];
      tellTrial(o.callbacks, { kind: 'start', trial, worker });
      let result: TrialResult;
      let reused = false;
      try {
        ({ result, reused } = await runTrial(trial, { trialsDir: o.trialsDir, worker, signal: o.signal }));
      } catch (e) {
        if (!(e instanceof TrialInterrupted) || o.signal?.aborted) throw e;
        result = {
          id: trial.id,
          index: trial.index,
          values: trial.values,
          seconds: 0,
          worker,
          status: 'failed',
          error: e.message,
          exitCode: null,
        };
      }
      results[i] = result;
      tellTrial(o.callbacks, { kind: 'end', trial, result, reused });
      tell(o.callbacks, 'onProgress', 'trials', ++done, trials.length);
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, n) => slot(n + 1)));
  return results;
}

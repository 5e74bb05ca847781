// The sweep's table: a row per trial (its axis values, the metrics it reported, its seconds),
// the best trial by the spec's metric marked, and a failed trial's row saying why.
import { table } from '../evaluate/report.js';
import type { Trial } from './grid.js';
import { TRIAL_COMMANDS, type SweepSpec } from './spec.js';
import type { TrialDone, TrialResult } from './trial.js';

export interface SweepTable {
  /** The best trial by the spec's metric, if any trial reported it. */
  best?: TrialDone;
  failed: number;
  markdown: string;
  json: {
    command: string;
    metric: string;
    goal: 'max' | 'min';
    axes: Record<string, unknown[]>;
    best: string | null;
    failed: number;
    trials: TrialResult[];
    /** Where the best trial's model was kept (finish.ts), if the command saves models. */
    bestModel: string | null;
  };
}

/** The best finished trial: the spec's metric highest (or lowest), the earlier trial on a tie. */
export function bestTrial(results: TrialResult[], metric: string, goal: 'max' | 'min'): TrialDone | undefined {
  let best: TrialDone | undefined;
  for (const r of results) {
    if (r.status !== 'done' || r.metrics[metric] === undefined) continue;
    const better =
      goal === 'max' ? r.metrics[metric] > (best?.metrics[metric] ?? -Infinity) : r.metrics[metric] < (best?.metrics[metric] ?? Infinity);
    if (!best || better) best = r;
  }
  return best;
}

/** Counts as they are, scores to four places. */
const number = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(4));

export function sweepTable(spec: SweepSpec, trials: Trial[], results: TrialResult[]): SweepTable {
  const best = TRIAL_COMMANDS[spec.command].ranked ? bestTrial(results, spec.metric, spec.goal) : undefined;
  const axes = Object.keys(spec.axes);
  const reported = new Set(results.flatMap((r) => (r.status === 'done' ? Object.keys(r.metrics) : [])));
  // The metric that picks the best trial first, the others as the command reported them.
  const metrics = [...(reported.has(spec.metric) ? [spec.metric] : []), ...[...reported].filter((m) => m !== spec.metric)];
  const rows = results.map((r, i) => [
    trials[i].index,
    ...axes.map((a) => String(r.values[a])),
    ...metrics.map((m) => (r.status === 'done' && r.metrics[m] !== undefined ? number(r.metrics[m]) : '')),
    r.seconds.toFixed(1),
    r.status === 'failed' ? `failed: ${r.error}` : r === best ? `best (${spec.goal} ${spec.metric})` : '',
  ]);
  const failed = results.filter((r) => r.status === 'failed').length;
  return {
    best,
    failed,
    markdown: table(['#', ...axes, ...metrics, 'seconds', ''], rows),
    json: {
      command: spec.command,
      metric: spec.metric,
      goal: spec.goal,
      axes: spec.axes,
      best: best?.id ?? null,
      failed,
      trials: results,
      bestModel: null,
    },
  };
}

// A sweep's trials: every combination of its axes' values, each a graft command line. A trial's
// id is a hash of what it runs (graft's version, the command, its flags, the folder it runs in),
// so the same trial submitted twice, or delivered twice by a queue, is known as the same one:
// its result is found instead of computed again.
import { createHash } from 'node:crypto';
import { GRAFT_VERSION } from '../core/version.js';
import type { AxisValue, FlagValue, SweepSpec, TrialCommand } from './spec.js';

export interface Trial {
  /** Content hash: 20 hex digits of SHA-256 over what the trial runs. */
  id: string;
  /** 1-based, in the grid's order (the first axis varies slowest). */
  index: number;
  /** This trial's value on each axis. */
  values: Record<string, AxisValue>;
  command: TrialCommand;
  /** The command's flags, without the `--out` and `--json` the sweep adds. */
  args: string[];
  /** Where it runs (relative paths in its flags are from here). */
  cwd: string;
}

function flagArgs(key: string, value: FlagValue): string[] {
  if (value === true) return [`--${key}`];
  if (value === false) return [];
  if (Array.isArray(value)) return value.flatMap((v) => [`--${key}`, String(v)]);
  return [`--${key}`, String(value)];
}

/** The hash a trial is known by: the same inputs, the same id, on any machine. */
export function trialId(t: Pick<Trial, 'command' | 'args' | 'cwd'>): string {
  const what = JSON.stringify({ graft: GRAFT_VERSION, command: t.command, args: t.args, cwd: t.cwd });
  return createHash('sha256').update(what).digest('hex').slice(0, 20);
}

/** Every trial of the spec, the first axis varying slowest. */
export function sweepTrials(spec: SweepSpec): Trial[] {
  const fixed = Object.entries(spec.flags).flatMap(([k, v]) => flagArgs(k, v));
  let combos: Record<string, AxisValue>[] = [{}];
  for (const [axis, values] of Object.entries(spec.axes)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: v })));
  return combos.map((values, i) => {
    const args = [...fixed, ...Object.entries(values).flatMap(([k, v]) => flagArgs(k, v))];
    const base = { command: spec.command, args, cwd: spec.cwd };
    return { id: trialId(base), index: i + 1, values, ...base };
  });
}

/** The id of a whole sweep: its trials' ids, in order (a queue's parent job). */
export const sweepId = (trials: Trial[]) =>
  createHash('sha256')
    .update(trials.map((t) => t.id).join(','))
    .digest('hex')
    .slice(0, 20);

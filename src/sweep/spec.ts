// A sweep's spec: one graft command, the flags every trial shares, and the axes whose values
// the trials cross (`lr: [1e-3, 3e-4]`, `seed: [1, 2, 3]`). Written as YAML or JSON; checked
// with zod before any trial runs, so a typo in the spec fails in a second. A flag's value is not
// checked here: the trial's own command parses it, and a bad one becomes that trial's row.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { usageError } from '../core/errors.js';
import { MiB, readSmallText } from '../io/read.js';

/**
 * The commands a trial runs, whether one saves a model (its `--out`, which the sweep gives each
 * trial) and the metric it is judged by, if trials compete. A spec names train or adapt; `graft extract`'s shards are
 * trials of `extract --shard I/N`, an experiment's cells trials of `experiment NAME --cell JSON`.
 */
export const TRIAL_COMMANDS = {
  train: { savesModel: true, metric: 'val.accuracy', ranked: true },
  adapt: { savesModel: false, metric: 'target.accuracy', ranked: true },
  // Shards are pieces of one job, not competitors: no best one.
  extract: { savesModel: false, metric: 'computed', ranked: false },
  // An experiment's cells are its table's pieces, like shards: none is best.
  experiment: { savesModel: false, metric: 'cell', ranked: false },
} as const;

export type TrialCommand = keyof typeof TRIAL_COMMANDS;
const SWEEP_COMMANDS = ['train', 'adapt'] as const;
export type SweepCommand = (typeof SWEEP_COMMANDS)[number];

/** A flag's value as a trial's command line receives it: `true` is the bare flag, a list repeats it. */
export type FlagValue = string | number | boolean | (string | number)[];
export type AxisValue = string | number | boolean;

export interface SweepSpec {
  command: TrialCommand;
  /** Flags every trial takes, by their command-line names (`batch-size`). */
  flags: Record<string, FlagValue>;
  /** The axes, in the spec's order: every combination of their values is a trial. */
  axes: Record<string, AxisValue[]>;
  /** The metric the best trial is chosen by (e.g. `val.accuracy`), and whether higher is better. */
  metric: string;
  goal: 'max' | 'min';
  /** The folder relative paths in flags are read from: the spec file's own. */
  cwd: string;
}

/** Flags the sweep itself gives every trial (or that would break reading its result). */
const OWNED = ['out', 'json', 'force', 'config', 'help', 'version'];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const schema = z.strictObject({
  command: z.enum(SWEEP_COMMANDS),
  flags: z.record(z.string(), z.union([scalar, z.array(z.union([z.string(), z.number()]))])).default({}),
  axes: z.record(z.string(), z.array(scalar).min(1)).refine((a) => Object.keys(a).length > 0, 'give at least one axis'),
  metric: z.string().min(1).optional(),
  goal: z.enum(['max', 'min']).default('max'),
});

/** A spec from its text (`source` names it in messages; relative paths in it are from its folder). */
export async function parseSweepSpec(text: string, source: string): Promise<SweepSpec> {
  let raw: unknown;
  try {
    raw = source.toLowerCase().endsWith('.json') ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (e) {
    throw usageError(
      `sweep spec ${source} is not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw usageError(`sweep spec ${source}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  }
  const s = parsed.data;
  const flags = Object.fromEntries(Object.entries(s.flags).map(([k, v]) => [kebab(k), v]));
  const axes = Object.fromEntries(Object.entries(s.axes).map(([k, v]) => [kebab(k), v]));
  for (const key of [...Object.keys(flags), ...Object.keys(axes)]) {
    if (OWNED.includes(key)) throw usageError(`sweep spec ${source}: --${key} is the sweep's to give each trial, not the spec's`);
    if (!/^[a-z][a-z0-9-]*$/.test(key)) throw usageError(`sweep spec ${source}: "${key}" is not a flag name`);
  }
  const both = Object.keys(axes).find((k) => k in flags);
  if (both) throw usageError(`sweep spec ${source}: ${both} is both a flag and an axis`);
  for (const [key, values] of Object.entries(axes))
    if (new Set(values.map(String)).size !== values.length) throw usageError(`sweep spec ${source}: axis ${key} repeats a value`);
  return {
    command: s.command,
    flags,
    axes,
    metric: s.metric ?? TRIAL_COMMANDS[s.command].metric,
    goal: s.goal,
    cwd: dirname(resolve(source)),
  };
}

/** A spec file read (bounded: a spec is a page) and parsed. */
export async function readSweepSpec(file: string): Promise<SweepSpec> {
  return parseSweepSpec(await readSmallText(file, MiB, 'sweep spec', 'a spec is a page of flags and axes'), file);
}

// What every command shares, in one module: the common options and backend setup, option
// parsers, the base-preprocessing flags, and everything the CLI shows a person (tables, warnings,
// progress as a callback, the --json last line). Commands import this, never each other.
import { existsSync, readdirSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, useBackend, type BackendName } from '../backend/index.js';
import { setOnnxThreads } from '../backend/onnx-runtime.js';
import type { OnnxBaseOptions } from '../bases/image/onnx.js';
import type { Callback, EpochLogs, Skipped, TextWarning } from '../core/callbacks.js';
import { isTextBase } from '../bases/index.js';
import { TRAIN_ENGINES, type TrainEngine, type TrainEngineUsed } from '../engine/train-engines.js';
import { usageError } from '../core/errors.js';
import { checkDestination } from '../io/destination.js';
import { FeatureCache } from '../engine/feature-cache.js';
import { pct } from '../evaluate/report.js';
import { CONFIG_FLAG } from './config.js';
import { parseWhere } from '../data/manifest.js';
import type { RowFilter } from '../data/types.js';

export { pct, table } from '../evaluate/report.js';

// ---------------------------------------------------------------------------------------------
// Options every command takes

export interface GlobalOptions {
  backend: BackendName;
  threads?: number;
  trainEngine: TrainEngine;
  verbose: boolean;
  json: boolean;
}

/** Options every command takes. */
export function withCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'TF.js backend').choices(BACKENDS).default('wasm'))
    .addOption(
      new Option(
        '--threads <n>',
        'threads for the wasm backend (default: GRAFT_THREADS or 1) and ONNX Runtime (default: GRAFT_THREADS or every core)',
      ).argParser(intArg('--threads', 1)),
    )
    .addOption(
      new Option(
        '--train-engine <engine>',
        "where trainable layers train: auto (ONNX Runtime where graft's step generator covers the stage, else TF.js), onnx, tfjs",
      )
        .choices(TRAIN_ENGINES)
        .default('auto'),
    )
    .option('--json', 'print one JSON object as the last line of stdout', false)
    .option(
      `${CONFIG_FLAG} <file>`,
      "the command's flags from a JSON or YAML file (keys: the flags' names, e.g. batchSize or batch-size; flags on the command line win)",
    )
    .option('--verbose', 'show stack traces on errors', false);
}

/** The backend and thread counts the common options ask for. */
export async function prepare(opts: GlobalOptions): Promise<void> {
  await useBackend(opts.backend, { threads: opts.threads });
  setOnnxThreads(opts.threads);
}

// ---------------------------------------------------------------------------------------------
// Option parsers: a bad value is a usage error (exit 2) naming the option.

export const intArg =
  (name: string, min = 0, max?: number) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max))
      throw new InvalidArgumentError(`${name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}`);
    return n;
  };

/** A TCP port to listen on: 0 (any free one) to 65535. */
export const portArg = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('--port must be an integer from 0 (any free port) to 65535');
  return n;
};

/**
 * An address to listen on. An empty one would listen on every interface under the name "" (a
 * URL of http://:PORT/, and no Host header it answers): refused.
 */
export const hostArg = (v: string) => {
  if (v.trim() === '') throw new InvalidArgumentError('--host is empty: give an address, e.g. 127.0.0.1, or 0.0.0.0 for every interface');
  return v;
};

export const numArg = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

/** `--classes`: an empty value (an unset shell variable) would select nothing and so keep every class, silently. */
export const classesArg = (v: string) => {
  if (v.split(',').some((c) => c.trim() === ''))
    throw new InvalidArgumentError('--classes must name classes (a,b,c) or a range (5-9), with no empty item');
  return v;
};

/** `--head-start new=base,…`: which new classes start from which of a detector base's classes. */
export const headStartArg = (v: string): Record<string, string> => {
  const pairs = v.split(',').map((p) => p.split('='));
  if (pairs.some((p) => p.length !== 2 || !p[0].trim() || !p[1].trim()))
    throw new InvalidArgumentError(
      '--head-start takes new=base pairs (pedestrian=person,auto=car), or no value: the classes named as the base names them',
    );
  return Object.fromEntries(pairs.map(([a, b]) => [a.trim(), b.trim()]));
};

/** A repeatable flag's values, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--where COLUMN=VALUE[,VALUE…]`, repeatable: every filter applies. */
export const WHERE_HELP =
  'manifests: keep the rows whose COLUMN holds one of the VALUES (repeat for more columns), e.g. accent=USA/neutral';
export const collectWhere =
  (flag = '--where') =>
  (value: string, previous: RowFilter[] = []) => [...previous, parseWhere(value, flag)];

export const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A usage error naming the flags among `keys` the command line gave, which do not apply `why` (e.g. "to image bases, not to use-lite"). */
export function refuseFlags(cmd: Command, keys: readonly string[], why: string): void {
  const given = keys.filter((k) => cmd.getOptionValueSource(k) === 'cli');
  if (given.length) throw usageError(`${given.map(flagName).join(', ')} ${given.length > 1 ? 'apply' : 'applies'} ${why}`);
}

/**
 * Every output a command writes, checked before any work starts (a wrong --out fails in a second,
 * not after the training): `out` replaced whole (with --force), `into` directories written into.
 */
export function checkOutputs(o: {
  out?: { path: string; kind: 'dir' | 'file'; force: boolean; flag?: string }[];
  into?: { path: string | undefined; flag: string }[];
  /** Directories filled with files named after the inputs (--draw): new or empty, unless `force` lets those files be replaced. */
  filled?: { path: string | undefined; flag: string; force: boolean }[];
}): void {
  for (const d of o.out ?? []) checkDestination(d.path, { kind: d.kind, force: d.force, flag: d.flag ?? '--out' });
  for (const d of o.into ?? []) if (d.path !== undefined) checkDestination(d.path, { kind: 'dir', into: true, flag: d.flag });
  for (const d of o.filled ?? []) {
    if (d.path === undefined) continue;
    checkDestination(d.path, { kind: 'dir', into: true, flag: d.flag });
    // Which names the work will write is known only once it has run: any file there could be one.
    if (!d.force && existsSync(d.path) && readdirSync(d.path).length)
      throw usageError(`${d.flag} ${d.path} is not empty (use --force to replace the files of the same names in it)`);
  }
}

/** The feature cache's directory when the cache is on (--cache-dir or its default): written into during the work. */
export const cacheOutput = (f: { cache: boolean; cacheDir?: string }) => ({
  path: f.cache ? new FeatureCache({ dir: f.cacheDir }).dir : undefined,
  flag: f.cacheDir !== undefined ? '--cache-dir' : 'feature cache dir',
});

/** Whether `--base` is a text base (a Hub model is asked after --offline takes effect). */
export async function isTextBaseFlag(f: BaseFlags & { base: string }): Promise<boolean> {
  if (f.offline) process.env.HF_HUB_OFFLINE = '1';
  return isTextBase(f.base);
}

/** A line for each stage that trained in TF.js though ONNX Runtime was allowed, saying why. */
export function logTrainEngines(stages: { name: string; trainEngine: TrainEngineUsed }[]): void {
  for (const { name, trainEngine: t } of stages)
    if (t.engine === 'tfjs' && t.reason !== 'asked for') log(`${name} trained in TF.js, not on ONNX Runtime: ${t.reason}`);
}

/**
 * Options every command takes that a command running other graft processes (sweep, worker,
 * extract) does not use itself: given, they would silently not reach the trials.
 */
export const ENGINE_FLAG_KEYS = ['backend', 'threads', 'trainEngine'] as const;

/** Image-only flags given with a text base would silently do nothing: a usage error instead. */
export function refuseImageFlags(cmd: Command, keys: readonly string[]): void {
  refuseFlags(cmd, keys, `to image bases, not to ${cmd.getOptionValue('base')}`);
}

// ---------------------------------------------------------------------------------------------
// Preprocessing flags for bases whose files cannot say it (ONNX models): the same on every
// command that loads a base. A sidecar MODEL.onnx.json gives the same keys.

export interface BaseFlags {
  mean?: number[];
  std?: number[];
  inputSize?: { height: number; width: number };
  layout?: 'nhwc' | 'nchw';
  offline?: boolean;
}

const numbers = (name: string) => (v: string) => {
  const parts = v.split(',').map((x) => x.trim());
  // Number('') is 0: an empty item (`--std ''`, `1,,2`) is a mistake, not a zero.
  const xs = parts.map((x) => (x === '' ? NaN : Number(x)));
  if (xs.some((x) => !Number.isFinite(x)))
    throw new InvalidArgumentError(`${name} must be comma-separated numbers, e.g. 0.485,0.456,0.406`);
  return xs;
};

const size = (v: string) => {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2] ?? m[1]) < 1) throw new InvalidArgumentError('--input-size must be HxW or N, e.g. 224x224');
  return { height: Number(m[1]), width: Number(m[2] ?? m[1]) };
};

export function withBaseFlags(cmd: Command): Command {
  return cmd
    .option('--mean <list>', "per-channel mean of [0,1] pixels the base expects (default: the base's own, 0 for ONNX)", numbers('--mean'))
    .option('--std <list>', "per-channel std the base expects (default: the base's own, 1 for ONNX)", numbers('--std'))
    .option(
      '--input-size <HxW>',
      "input size when the ONNX model leaves it dynamic; with --head detect, the detector's input (default 320x320)",
      size,
    )
    .addOption(new Option('--layout <layout>', 'image layout of the ONNX input (default: from its shape)').choices(['nhwc', 'nchw']))
    .option('--offline', 'hf: bases from the download cache only (as HF_HUB_OFFLINE=1)');
}

/** The base-preprocessing flags every image command takes, by their keys (refused with a text base). */
export const BASE_FLAG_KEYS = ['mean', 'std', 'inputSize', 'layout', 'offline'] as const;

export function baseOptions(f: BaseFlags): OnnxBaseOptions {
  // One of the two alone keeps the other neutral, with as many channels as the given one.
  const normalize = f.mean || f.std ? { mean: f.mean ?? f.std!.map(() => 0), std: f.std ?? f.mean!.map(() => 1) } : undefined;
  // The Hub download code reads the variable, as Python's huggingface_hub does.
  if (f.offline) process.env.HF_HUB_OFFLINE = '1';
  return { normalize, size: f.inputSize, layout: f.layout };
}

// ---------------------------------------------------------------------------------------------
// What a person sees

export const log = (line = '') => process.stdout.write(line + '\n');
export const note = (line: string) => process.stderr.write(line + '\n');
export const warn = (line: string) => process.stderr.write(`warning: ${line}\n`);

/** The machine-readable result: one JSON object, the last line of stdout. */
export const printJson = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

const TEXT_WARNINGS: Record<TextWarning['kind'], (n: number) => string> = {
  empty: (n) => `skipped ${n} row${n > 1 ? 's' : ''} with no text`,
  'no-label': (n) => `skipped ${n} row${n > 1 ? 's' : ''} with no label`,
  'invalid-utf8': (n) => `replaced invalid UTF-8 bytes with U+FFFD in ${n} row${n > 1 ? 's' : ''}`,
  duplicate: (n) => `dropped ${n} exact duplicate${n > 1 ? 's' : ''} of earlier texts`,
  truncated: (n) => `truncated ${n} text${n > 1 ? 's' : ''} to the base's token limit`,
};

/**
 * The data's warnings as a callback: unusable files and text warnings gathered while work runs,
 * then shown in one warning line per kind, the way a person wants to read them.
 */
export class Warnings implements Callback {
  readonly skipped: Skipped[] = [];
  private readonly texts: TextWarning[] = [];

  onSkip(s: Skipped): void {
    // The same file met twice (two bases over one data set) is one unusable file.
    if (!this.skipped.some((t) => t.path === s.path)) this.skipped.push(s);
  }

  onTextWarning(w: TextWarning): void {
    // A text truncated by training and again by evaluation is one truncated text.
    if (!this.texts.some((t) => t.kind === w.kind && t.id === w.id)) this.texts.push(w);
  }

  report(): void {
    const { skipped } = this;
    if (skipped.length) {
      const shown = skipped.slice(0, 10).map((s) => `${s.path} (${s.reason})`);
      warn(
        `skipped ${skipped.length} unusable file${skipped.length > 1 ? 's' : ''}: ${shown.join(', ')}${skipped.length > 10 ? ', …' : ''}`,
      );
    }
    for (const kind of Object.keys(TEXT_WARNINGS) as TextWarning['kind'][]) {
      const ids = this.texts.filter((w) => w.kind === kind).map((w) => w.id);
      if (ids.length) warn(`${TEXT_WARNINGS[kind](ids.length)}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
    }
  }
}

/** An epoch's numbers in one line: loss, accuracy, validation, and each task's validation loss (named `tasks`). */
export function epochSummary(e: EpochLogs, tasks: string[] = []): string {
  const m = e.metrics;
  const parts = [`loss ${e.loss.toFixed(4)}`];
  if (m.accuracy !== undefined) parts.push(`acc ${pct(m.accuracy)}`);
  if (m.valLoss !== undefined) parts.push(`val_loss ${m.valLoss.toFixed(4)}`);
  if (m.valAccuracy !== undefined) parts.push(`val_acc ${Number.isNaN(m.valAccuracy) ? '-' : pct(m.valAccuracy)}`);
  if (m.valAP50 !== undefined) parts.push(`val_AP50 ${m.valAP50.toFixed(3)} val_AP ${m.valAP.toFixed(3)}`);
  const perTask = Object.keys(m).filter((k) => k.startsWith('valLoss:'));
  if (perTask.length) parts.push(`(${perTask.map((k) => `${tasks[Number(k.slice(8))] ?? k.slice(8)} ${m[k].toFixed(4)}`).join(', ')})`);
  return parts.join(' ');
}

/**
 * Progress on stderr as a callback: a bar with ETA on a terminal, one line per step elsewhere
 * (CI logs, pipes). Counted work (decoding, features, embedding) shows only on a terminal; epochs
 * show as lines off it unless `epochLines` is false; steps (an experiment's runs) always.
 */
export class Progress implements Callback {
  private bar?: cliProgress.SingleBar;
  private label = '';
  private readonly tty = !!process.stderr.isTTY;

  constructor(
    private readonly o: {
      /** Epoch lines off a terminal (default true). */
      epochLines?: boolean;
      /** Steps in words (default true). */
      steps?: boolean;
      /** Put before every step and bar label (e.g. the experiment's or the base's name). */
      prefix?: string;
      /** Task names, for a multi-task model's per-task losses. */
      tasks?: string[];
    } = {},
  ) {}

  onProgress(what: string, done: number, total: number): void {
    const label = `${this.o.prefix ?? ''}${what}`;
    if (label !== this.label || !this.bar) {
      this.start(label, total);
      this.label = label;
    }
    this.bar?.update(done, { info: '' });
    if (done >= total) this.stop();
  }

  onEpochEnd(e: EpochLogs): void {
    const info = epochSummary(e, this.o.tasks);
    if (this.tty) {
      if (e.epoch === 1) this.start(`${e.stage} epochs`, e.epochs);
      this.bar?.update(e.epoch, { info });
    } else if (this.o.epochLines !== false) {
      note(`${e.stage} epoch ${e.epoch}/${e.epochs} ${info} (${e.seconds.toFixed(1)} s)`);
    }
  }

  onStep(what: string): void {
    if (this.o.steps === false) return;
    this.stop();
    note(`${this.o.prefix ?? ''}${what}`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.label = '';
  }

  private start(label: string, total: number): void {
    this.stop();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { info: '' });
  }
}

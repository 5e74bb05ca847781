// One trial: its graft command run in a child process (the sandbox: a trial that crashes, leaks
// or hogs a core takes nothing else with it), its `--json` line read, and its result committed
// once. Delivery may be at least once (a queue redelivers a job whose worker died), so a trial
// is idempotent: each attempt works in its own folder, and the result is committed by a hard
// link, which fails if a result is already there; whoever commits first wins, and a trial whose
// result exists is not run again.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraftError } from '../core/errors.js';
import { TRIAL_COMMANDS } from './spec.js';
import type { AxisValue } from './spec.js';
import type { Trial } from './grid.js';

interface Outcome {
  id: string;
  index: number;
  values: Record<string, AxisValue>;
  /** Wall-clock seconds of the trial's process. */
  seconds: number;
  /** Who ran it (`host:pid` of the worker, or `local-N`). */
  worker: string;
}

/** A trial that ran to its end: its numbers, and its model's folder (relative to the trial's) when it saves one. */
export interface TrialDone extends Outcome {
  status: 'done';
  /** Every number the command reported under metrics (train) or target/source (adapt), by dotted path. */
  metrics: Record<string, number>;
  model?: string;
  /** The command's whole `--json` object (its stages, losses, cut…), for what the table leaves out. */
  report: Record<string, unknown>;
}

/** A trial its command refused or failed: the command's own `error:` line says why. */
export interface TrialFailed extends Outcome {
  status: 'failed';
  error: string;
  exitCode: number | null;
}

export type TrialResult = TrialDone | TrialFailed;

/** A trial's process was killed from outside (not by its own failure): worth another attempt. */
export class TrialInterrupted extends GraftError {}

/** The graft command trials run: this package's bin, which runs dist/ or, under GRAFT_SOURCE=1, src/. */
export const GRAFT_BIN = fileURLToPath(new URL('../../bin/graft.js', import.meta.url));

export const resultPath = (trialsDir: string, id: string) => join(trialsDir, id, 'result.json');

/** A trial's committed result, if there is one. */
export async function readResult(trialsDir: string, id: string): Promise<TrialResult | undefined> {
  const path = resultPath(trialsDir, id);
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, 'utf8')) as TrialResult;
}

/** Numbers under the keys a command reports its scores at, flattened to dotted paths. */
export function trialMetrics(json: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'number' && Number.isFinite(v)) out[path] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
  };
  for (const key of ['metrics', 'target', 'source']) if (key in json) walk(json[key], key);
  // train's scores sit under metrics: the path reads val.accuracy, as the spec names it.
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k.replace(/^metrics\./, ''), v]));
}

/** The tail of what a process wrote: enough to find its last line, bounded however much it prints. */
class Tail {
  private text = '';
  constructor(private readonly max = 64 * 1024) {}
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.max);
  }
  toString(): string {
    return this.text;
  }
}

export interface RunTrialOptions {
  /** The folder every trial's folder (named by its id) goes into. */
  trialsDir: string;
  worker: string;
  /** Aborting kills the trial's process; nothing is committed. */
  signal?: AbortSignal;
  /** Environment of the trial's process (default this process's, with GRAFT_THREADS 1 unless set). */
  env?: NodeJS.ProcessEnv;
}

/** Why a finished process failed, in one line: its `error:` line, or its exit. */
function failure(stderr: string, code: number | null): string {
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('error: '));
  return line ? line.slice('error: '.length) : `exited with code ${code}`;
}

/** Run `trial` unless its result is committed already; commit and return its result. */
export async function runTrial(trial: Trial, o: RunTrialOptions): Promise<{ result: TrialResult; reused: boolean }> {
  const found = await readResult(o.trialsDir, trial.id);
  if (found) return { result: found, reused: true };
  const dir = join(o.trialsDir, trial.id);
  await mkdir(dir, { recursive: true });
  const attempt = await mkdtemp(join(dir, 'attempt-'));
  const model = TRIAL_COMMANDS[trial.command].savesModel ? join(attempt, 'model') : undefined;
  const args = [GRAFT_BIN, trial.command, ...trial.args, ...(model ? ['--out', model] : []), '--json'];
  // One thread per trial unless asked otherwise: trials run side by side, and the same threads
  // everywhere keep a seeded trial's numbers the same on every worker.
  const env = o.env ?? { ...process.env, GRAFT_THREADS: process.env.GRAFT_THREADS ?? '1' };
  const started = performance.now();
  const stdout = new Tail();
  const stderr = new Tail();
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: trial.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const abort = () => child.kill('SIGKILL');
    o.signal?.addEventListener('abort', abort, { once: true });
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      o.signal?.removeEventListener('abort', abort);
      done({ code, signal });
    });
  });
  const seconds = (performance.now() - started) / 1000;
  await writeFile(join(attempt, 'stderr.log'), stderr.toString());
  if (o.signal?.aborted) throw new TrialInterrupted(`trial ${trial.id} was stopped`);
  if (signal) throw new TrialInterrupted(`trial ${trial.id}'s process was killed by ${signal}`);
  const outcome = { id: trial.id, index: trial.index, values: trial.values, seconds, worker: o.worker };
  const last = stdout.toString().trim().split('\n').pop() ?? '';
  let result: TrialResult;
  if (code === 0 && last.startsWith('{')) {
    const json = JSON.parse(last) as Record<string, unknown>;
    result = { ...outcome, status: 'done', metrics: trialMetrics(json), ...(model ? { model: relative(dir, model) } : {}), report: json };
  } else {
    result = { ...outcome, status: 'failed', error: failure(stderr.toString(), code), exitCode: code };
  }
  return { result: await commit(dir, attempt, result), reused: false };
}

/**
 * Commit `result` as the trial's, unless another attempt did first (then that one is the
 * trial's, and this attempt's folder goes). The link either creates result.json whole or fails.
 */
async function commit(dir: string, attempt: string, result: TrialResult): Promise<TrialResult> {
  const tmp = join(attempt, 'result.json');
  await writeFile(tmp, JSON.stringify(result, null, 2) + '\n');
  try {
    await link(tmp, join(dir, 'result.json'));
    await unlink(tmp);
    return result;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await rm(attempt, { recursive: true, force: true });
    return JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as TrialResult;
  }
}

/** This process as a worker's name: host and pid. */
export const workerName = () => `${hostname()}:${process.pid}`;

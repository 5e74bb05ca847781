// Sweeps on BullMQ (Redis): no scheduler of graft's own. A sweep is a flow: a parent job in
// `graft-sweeps` whose children are its trials in `graft-trials`; BullMQ runs the parent once
// every child is done, and the parent gathers their results and writes the table. Any
// `graft worker` takes jobs from both queues. Delivery is at least once (a worker that dies
// loses its lock and the job goes back to waiting), so a job's id is a content hash: the same
// trial submitted again is the same job, and a trial redelivered finds its committed result
// (trial.ts). A trial runs as a child process, so the worker's event loop stays free to renew
// its lock however long the trial computes: the sandbox BullMQ's docs ask of CPU-bound work.
// bullmq and ioredis are imported here, when a queue is used, not on the CLI's start path.
import { createHash } from 'node:crypto';
import type { Job, Queue, Worker } from 'bullmq';
import { tell } from '../core/callbacks.js';
import { GraftError, usageError } from '../core/errors.js';
import { tellTrial, type SweepCallback } from './events.js';
import { finishSweep, sweepPaths } from './finish.js';
import type { Trial } from './grid.js';
import type { SweepSpec } from './spec.js';
import type { SweepTable } from './table.js';
import { runTrial, TrialInterrupted, workerName, type TrialResult } from './trial.js';

export const TRIALS_QUEUE = 'graft-trials';
export const SWEEPS_QUEUE = 'graft-sweeps';

interface TrialJobData {
  trial: Trial;
  trialsDir: string;
}

interface SweepJobData {
  spec: SweepSpec;
  trials: Trial[];
  /** The sweep's --out, absolute: the workers' shared folder. */
  out: string;
}

/** A trial's job id: the trial's hash and where its result goes (the same trial in another --out is another job). */
export const trialJobId = (trial: Trial, trialsDir: string) =>
  `${trial.id}-${createHash('sha256').update(trialsDir).digest('hex').slice(0, 8)}`;

const sweepJobId = (trials: Trial[], out: string) =>
  createHash('sha256')
    .update(JSON.stringify([out, trials.map((t) => t.id)]))
    .digest('hex')
    .slice(0, 20);

/** BullMQ's connection: commands wait while Redis is away (a restart) rather than fail. */
const connection = (url: string) => ({ url, maxRetriesPerRequest: null });

/**
 * A queue URL checked and Redis asked once, with no retries, before any work: a URL pointing
 * nowhere is one error, not a client reconnecting forever.
 */
export async function checkQueue(url: string): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`--queue must be a Redis URL (redis://HOST:PORT), got "${url}"`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw usageError(`--queue must be a redis:// or rediss:// URL, got "${url}"`);
  const { Redis } = await import('ioredis');
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // The socket's error (ECONNREFUSED…) says more than the promise's "Connection is closed";
  // caught here, the client does not print it either.
  let cause: Error | undefined;
  probe.on('error', (e: Error) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw new GraftError(`cannot reach Redis at ${url}: ${(cause ?? (e as Error)).message}`);
  } finally {
    probe.disconnect();
  }
}

export interface QueueSweepOptions {
  url: string;
  /** The sweep's folder, absolute and shared with the workers. */
  out: string;
  callbacks?: SweepCallback[];
  /** How often the queue is asked how the trials stand (default 500 ms). */
  pollMs?: number;
}

/**
 * Submit the sweep as a flow and wait for its parent: the table the parent gathered. Submitting
 * the same sweep again joins it (its jobs keep their ids); a finished one answers at once.
 */
export async function runQueuedSweep(spec: SweepSpec, trials: Trial[], o: QueueSweepOptions): Promise<SweepTable> {
  const { FlowProducer, Queue } = await import('bullmq');
  const trialsDir = sweepPaths(o.out).trials;
  const flows = new FlowProducer({ connection: connection(o.url) });
  const trialQueue = new Queue(TRIALS_QUEUE, { connection: connection(o.url) });
  const sweepQueue = new Queue(SWEEPS_QUEUE, { connection: connection(o.url) });
  try {
    const parent: SweepJobData = { spec, trials, out: o.out };
    const { job } = await flows.add({
      name: 'sweep',
      queueName: SWEEPS_QUEUE,
      data: parent,
      opts: { jobId: sweepJobId(trials, o.out) },
      children: trials.map((trial) => ({
        name: 'trial',
        queueName: TRIALS_QUEUE,
        data: { trial, trialsDir } satisfies TrialJobData,
        opts: {
          jobId: trialJobId(trial, trialsDir),
          // Retries are for a trial's process killed from outside; a trial that fails on its
          // own returns its failure as a result, which no retry would change.
          attempts: 3,
          backoff: { type: 'exponential', delay: 1000 },
          // A trial that failed every attempt is the parent's row saying why, not a parent stuck.
          ignoreDependencyOnFailure: true,
        },
      })),
    });
    const id = job.id!;
    const watch = watcher(trialQueue, trials, trialsDir, o);
    // The parent's end is the sweep's: its trials are watched only to show progress.
    for (;;) {
      await watch();
      const state = await sweepQueue.getJobState(id);
      if (state === 'completed') return (await sweepQueue.getJob(id))!.returnvalue as SweepTable;
      if (state === 'failed') throw new GraftError(`the sweep's gathering job failed: ${(await sweepQueue.getJob(id))?.failedReason}`);
      if (state === 'unknown')
        throw new GraftError(
          `the sweep's jobs are gone from ${o.url} (was Redis emptied?): submit it again; trials done are not run again`,
        );
      await sleep(o.pollMs ?? 500);
    }
  } finally {
    await Promise.all([flows.close(), trialQueue.close(), sweepQueue.close()]);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A look at the trials, each call: each start and end told as it is first seen. */
function watcher(queue: Queue, trials: Trial[], trialsDir: string, o: QueueSweepOptions): () => Promise<void> {
  const seen = new Map<string, string>();
  let finished = 0;
  tell(o.callbacks, 'onProgress', 'trials', 0, trials.length);
  return async () => {
    for (const trial of trials) {
      const id = trialJobId(trial, trialsDir);
      if (seen.get(id) === 'end') continue;
      const job = await queue.getJob(id);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'active' && seen.get(id) !== `start:${job!.processedBy}`) {
        seen.set(id, `start:${job!.processedBy}`);
        tellTrial(o.callbacks, { kind: 'start', trial, worker: job!.processedBy ?? '?' });
      } else if (state === 'completed' || state === 'failed') {
        seen.set(id, 'end');
        const result = state === 'completed' ? (job!.returnvalue as TrialResult) : failedRow(trial, job!.failedReason);
        tellTrial(o.callbacks, { kind: 'end', trial, result, reused: false });
        tell(o.callbacks, 'onProgress', 'trials', ++finished, trials.length);
      }
    }
  };
}

const failedRow = (trial: Trial, why: string | undefined): TrialResult => ({
  id: trial.id,
  index: trial.index,
  values: trial.values,
  seconds: 0,
  worker: '',
  status: 'failed',
  error: `${why ?? 'failed'} (every attempt)`,
  exitCode: null,
});

/** The parent's work: its children's results in the grid's order, the table and best model written. */
async function gather(job: Job<SweepJobData>): Promise<SweepTable> {
  const { spec, trials, out } = job.data;
  const trialsDir = sweepPaths(out).trials;
  const values = await job.getChildrenValues<TrialResult>();
  const failures = await job.getIgnoredChildrenFailures();
  const byJob = (trial: Trial, from: Record<string, unknown>) =>
    Object.entries(from).find(([k]) => k.endsWith(`:${trialJobId(trial, trialsDir)}`))?.[1];
  const results = trials.map(
    (t) => (byJob(t, values) as TrialResult | undefined) ?? failedRow(t, byJob(t, failures) as string | undefined),
  );
  return finishSweep(out, spec, trials, results);
}

export interface WorkerOptions {
  url: string;
  /** Trials at a time in this worker (default 1). */
  concurrency?: number;
  /** Seconds a job's lock lasts unrenewed: a worker that dies gives its trial back after about this (default 30). */
  lockSeconds?: number;
  callbacks?: SweepCallback[];
}

export interface SweepWorker {
  /** Stop taking jobs; finish the running trials (or, `force`, kill them: their jobs go back to the queue). */
  close(force?: boolean): Promise<void>;
  name: string;
}

/** A worker taking trial jobs and sweeps' gathering jobs from the queue until closed. */
export async function startWorker(o: WorkerOptions): Promise<SweepWorker> {
  const { Worker } = await import('bullmq');
  const name = workerName();
  const stop = new AbortController();
  const lockDuration = (o.lockSeconds ?? 30) * 1000;
  const common = { connection: connection(o.url), name, lockDuration, stalledInterval: lockDuration, maxStalledCount: 5 };
  const trials: Worker<TrialJobData, TrialResult> = new Worker(
    TRIALS_QUEUE,
    async (job) => {
      const { trial, trialsDir } = job.data;
      tellTrial(o.callbacks, { kind: 'start', trial, worker: name });
      try {
        const { result, reused } = await runTrial(trial, { trialsDir, worker: name, signal: stop.signal });
        tellTrial(o.callbacks, { kind: 'end', trial, result, reused });
        return result;
      } catch (e) {
        // Thrown, the job is retried (with backoff) on whichever worker takes it next.
        if (e instanceof TrialInterrupted)
          tellTrial(o.callbacks, { kind: 'end', trial, result: failedRow(trial, e.message), reused: false });
        throw e;
      }
    },
    { ...common, concurrency: o.concurrency ?? 1 },
  );
  const sweeps: Worker<SweepJobData, SweepTable> = new Worker(SWEEPS_QUEUE, gather, common);
  // Redis going away is reconnected to; the error events say so, they are not failures of the worker.
  for (const w of [trials, sweeps]) w.on('error', () => undefined);
  await Promise.all([trials.waitUntilReady(), sweeps.waitUntilReady()]);
  return {
    name,
    async close(force = false) {
      if (force) stop.abort();
      await Promise.all([trials.close(force), sweeps.close(force)]);
    },
  };
}

export type TrialState = 'active' | 'waiting' | 'delayed' | 'failed' | 'completed';

export interface QueueStatus {
  counts: Record<TrialState, number>;
  /** Each listed trial job (at most `limit` per state): its trial, and who runs it or ran it. */
  jobs: { state: TrialState; id: string; trial: Trial; worker?: string; error?: string; result?: TrialResult }[];
}

/** How the queue's trials stand: running, waiting (and delayed for a retry), failed, done. */
export async function queueStatus(url: string, limit = 50): Promise<QueueStatus> {
  const { Queue } = await import('bullmq');
  const queue: Queue<TrialJobData, TrialResult> = new Queue(TRIALS_QUEUE, { connection: connection(url) });
  try {
    const states: TrialState[] = ['active', 'waiting', 'delayed', 'failed', 'completed'];
    const counts = (await queue.getJobCounts(...states)) as Record<TrialState, number>;
    const jobs: QueueStatus['jobs'] = [];
    for (const state of states)
      for (const job of await queue.getJobs(state, 0, limit - 1))
        if (job)
          jobs.push({
            state,
            id: job.id!,
            trial: job.data.trial,
            worker: job.processedBy,
            ...(state === 'failed' ? { error: job.failedReason } : {}),
            ...(state === 'completed' ? { result: job.returnvalue } : {}),
          });
    return { counts, jobs };
  } finally {
    await queue.close();
  }
}

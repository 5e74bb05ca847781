// `graft sweep SPEC`: a grid of trials of one graft command (train, adapt), run in local worker
// processes or, with --queue, as BullMQ jobs any `graft worker` takes; the table of trials printed and written as Markdown and JSON, the best trial's model kept.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { GraftError, partialFailure, usageError } from '../../core/errors.js';
import { finishSweep, sweepPaths } from '../../sweep/finish.js';
import { sweepTrials } from '../../sweep/grid.js';
import { defaultWorkers, runLocalSweep } from '../../sweep/local.js';
import { checkQueue, queueStatus, runQueuedSweep } from '../../sweep/queue.js';
import { readSweepSpec } from '../../sweep/spec.js';
import type { SweepTable } from '../../sweep/table.js';
import type { TrialResult } from '../../sweep/trial.js';
import { checkOutputs, ENGINE_FLAG_KEYS, intArg, log, printJson, refuseFlags, table, type GlobalOptions } from '../shared.js';
import { describeTrial, SweepProgress } from '../trial-progress.js';

interface SweepFlags extends GlobalOptions {
  out?: string;
  workers?: number;
  queue?: string;
  status: boolean;
  force: boolean;
}

export function sweepCommand(): Command {
  return new Command('sweep')
    .description(
      'run a grid of trials of a graft command (axes: lr, cut, seed, per-class, base…), locally or on a BullMQ queue; the table of trials, the best model kept',
    )
    .argument('[spec]', 'YAML or JSON: command (train, adapt), flags every trial takes, axes to cross, metric and goal to pick the best by')
    .option('--out <dir>', "where trials, the tables (sweep.md, sweep.json) and the best model (best/) go (default: sweeps/<spec's name>)")
    .option(
      '--workers <n>',
      `local trials at a time, each its own process (default: the cores, here ${defaultWorkers()})`,
      intArg('--workers', 1),
    )
    .option(
      '--queue <url>',
      'run the trials as jobs on this Redis (redis://HOST:PORT) for `graft worker` processes to take; --out must be a folder the workers share',
    )
    .option('--status', 'with --queue: list the trials running (and where), waiting, failed and done', false)
    .option(
      '--force',
      'write the tables and best model again over a finished sweep in --out (trials already done are not run again)',
      false,
    )
    .action(async (specFile: string | undefined, flags: SweepFlags, cmd: Command) => {
      refuseFlags(cmd, ENGINE_FLAG_KEYS, "to each trial's own command: give it in the spec's flags");
      if (flags.status) {
        if (!flags.queue) throw usageError('--status lists a queue: give --queue redis://HOST:PORT');
        return showStatus(flags.queue, flags.json);
      }
      if (!specFile) throw usageError('give a sweep spec (YAML or JSON), or --status --queue URL');
      if (flags.queue && flags.workers !== undefined)
        throw usageError('--workers counts local trial processes; with --queue, start `graft worker` processes instead');
      const spec = await readSweepSpec(specFile);
      const trials = sweepTrials(spec);
      // Workers elsewhere find the sweep's folder by its absolute path (a volume they share).
      const out = resolve(flags.out ?? `sweeps/${specFile.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '')}`);
      const paths = sweepPaths(out);
      checkOutputs({ into: [{ path: out, flag: '--out' }] });
      if (!flags.force && existsSync(paths.json))
        throw usageError(
          `--out ${out} holds a finished sweep (use --force to write its tables again; trials already done are not run again)`,
        );
      if (flags.queue) await checkQueue(flags.queue);
      const progress = new SweepProgress(spec.metric);
      const started = performance.now();
      let done: SweepTable;
      try {
        if (flags.queue) {
          // The parent job gathered the trials and wrote the table and best model.
          done = await runQueuedSweep(spec, trials, { url: flags.queue, out, callbacks: [progress] });
        } else {
          const results = await runLocalSweep(trials, { trialsDir: paths.trials, workers: flags.workers, callbacks: [progress] });
          done = await finishSweep(out, spec, trials, results);
        }
      } finally {
        progress.stop();
      }
      const seconds = (performance.now() - started) / 1000;
      const results = done.json.trials;
      log(done.markdown);
      log(
        `\n${trials.length} trials in ${seconds.toFixed(1)} s; table written to ${paths.markdown} and ${paths.json}${done.json.bestModel ? `, best model to ${done.json.bestModel}` : ''}`,
      );
      if (flags.json) printJson({ ...done.json, seconds });
      if (done.failed === trials.length) throw new GraftError(`every trial failed (the first: ${firstError(results)})`);
      if (done.failed) throw partialFailure(`${done.failed} of ${trials.length} trials failed (their rows say why); the others completed`);
    });
}

/** `--status`: the queue's trials by state, the running ones with their worker. */
async function showStatus(url: string, json: boolean): Promise<void> {
  await checkQueue(url);
  const status = await queueStatus(url);
  log(
    Object.entries(status.counts)
      .map(([state, n]) => `${n} ${state === 'completed' ? 'done' : state}`)
      .join(', '),
  );
  if (status.jobs.length)
    log(
      table(
        ['state', 'trial', 'job', 'worker', ''],
        status.jobs.map((j) => [
          j.state === 'completed' ? 'done' : j.state,
          describeTrial(j.trial),
          j.id,
          j.worker ?? '',
          j.error ?? (j.result?.status === 'failed' ? `failed: ${j.result.error}` : ''),
        ]),
      ),
    );
  if (json) printJson(status);
}

const firstError = (results: TrialResult[]) => results.find((r) => r.status === 'failed')?.error ?? '';

// `graft worker --queue URL`: take sweeps' trial jobs from a BullMQ queue on Redis and run each
// as a graft process, on any machine that shares the sweeps' folder. SIGTERM (or Ctrl-C) stops
// taking jobs and finishes the running trials; a second one kills them, and their jobs go back
// to the queue for another worker.
import { Command } from 'commander';
import type { TrialEvent } from '../../sweep/events.js';
import { checkQueue, startWorker } from '../../sweep/queue.js';
import { ENGINE_FLAG_KEYS, intArg, note, refuseFlags, type GlobalOptions } from '../shared.js';

interface WorkerFlags extends GlobalOptions {
  queue: string;
  concurrency: number;
  lock: number;
}

const trialLine = (e: TrialEvent) => {
  const values = Object.entries(e.trial.values)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  if (e.kind === 'start') return `trial ${e.trial.id} (${values}) started`;
  const r = e.result;
  return `trial ${e.trial.id} (${values}) ${r.status === 'done' ? 'done' : `failed: ${r.error}`}${e.reused ? ' (result already there)' : ` in ${r.seconds.toFixed(1)} s`}`;
};

export function workerCommand(): Command {
  return new Command('worker')
    .description("take sweeps' trials from a BullMQ queue on Redis and run them (each trial its own process), until SIGTERM")
    .requiredOption('--queue <url>', 'the Redis the sweeps were submitted to (redis://HOST:PORT)')
    .option('--concurrency <n>', 'trials at a time in this worker', intArg('--concurrency', 1), 1)
    .option(
      '--lock <seconds>',
      "how long a trial's lock lasts unrenewed: if this worker dies, its trials go to another worker after about this long",
      intArg('--lock', 1),
      30,
    )
    .action(async (flags: WorkerFlags, cmd: Command) => {
      refuseFlags(cmd, ENGINE_FLAG_KEYS, "to each trial's own command: give it in the sweep's spec");
      await checkQueue(flags.queue);
      const worker = await startWorker({
        url: flags.queue,
        concurrency: flags.concurrency,
        lockSeconds: flags.lock,
        callbacks: [{ onTrial: (e) => note(trialLine(e)) }],
      });
      note(`worker ${worker.name} taking trials from ${flags.queue} (${flags.concurrency} at a time)`);
      await new Promise<void>((done) => {
        let signals = 0;
        const stop = (signal: NodeJS.Signals) => {
          signals++;
          note(
            signals === 1
              ? `${signal}: finishing the running trials, taking no more (again to stop them now)`
              : `${signal}: stopping the running trials; their jobs go back to the queue`,
          );
          worker.close(signals > 1).then(done, done);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
      note(`worker ${worker.name} stopped`);
    });
}

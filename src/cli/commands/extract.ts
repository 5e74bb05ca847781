// `graft extract`: the frozen pass over a collection split into shards, each its own graft
// process (`--shard I/N`), in local worker processes or, with --queue, as BullMQ jobs `graft
// worker` takes; the features land in the feature cache, where a later `graft train` on the same
// data and cut finds every one.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { GraftError, partialFailure, usageError } from '../../core/errors.js';
import { MNIST_M_SPEC, MNIST_RGB_SPEC, MNIST_SPEC } from '../../data/index.js';
import { FeatureCache } from '../../engine/feature-cache.js';
import { ENGINES, type Engine } from '../../engine/frozen.js';
import { extractShard, parseShard } from '../../sweep/extract.js';
import { finishSweep, sweepPaths } from '../../sweep/finish.js';
import { sweepTrials } from '../../sweep/grid.js';
import { defaultWorkers, runLocalSweep } from '../../sweep/local.js';
import { checkQueue, runQueuedSweep } from '../../sweep/queue.js';
import type { SweepSpec } from '../../sweep/spec.js';
import { checkOutputs, ENGINE_FLAG_KEYS, intArg, log, prepare, printJson, Progress, refuseFlags, type GlobalOptions } from '../shared.js';

interface ExtractFlags extends GlobalOptions {
  base: string;
  data: string;
  cut: string;
  engine: Engine;
  cacheDir?: string;
  shards?: number;
  workers?: number;
  queue?: string;
  out?: string;
  shard?: string;
}

export function extractCommand(): Command {
  return new Command('extract')
    .description(
      "compute a base's frozen features for a data set into the feature cache, in shards run by local worker processes or a BullMQ queue",
    )
    .requiredOption('--base <base>', 'the base, as for train')
    .requiredOption('--data <data>', 'the data, as for train (every image of it, whatever its splits)')
    .option(
      '--cut <layer>',
      "where train will cut the base (auto: the base's usual cut; a base whose cuts train ranks needs the cut named)",
      'auto',
    )
    .addOption(new Option('--engine <engine>', 'where the frozen part runs').choices(ENGINES).default('auto'))
    .option(
      '--cache-dir <dir>',
      'feature cache directory, shared by the workers (default: GRAFT_CACHE_DIR, else XDG_CACHE_HOME/graft/features, else ~/.cache/graft/features)',
    )
    .option('--shards <n>', 'how many pieces the data is cut into (default: --workers locally, 8 with --queue)', intArg('--shards', 1))
    .option('--workers <n>', `local shard processes at a time (default: the cores, here ${defaultWorkers()})`, intArg('--workers', 1))
    .option('--queue <url>', 'run the shards as jobs on this Redis (redis://HOST:PORT) for `graft worker` processes to take')
    .option(
      '--out <dir>',
      "where the shards' records and table go (default: sweeps/extract-<time>); with --queue, a folder the workers share",
    )
    .addOption(new Option('--shard <i/n>', 'compute shard I of N here, in this process (what each worker runs)').hideHelp())
    .action(async (flags: ExtractFlags, cmd: Command) => {
      const cacheDir = resolve(new FeatureCache({ dir: flags.cacheDir }).dir);
      if (flags.shard) return runShard(flags, cacheDir);
      // Only --engine reaches the shards' processes.
      refuseFlags(cmd, ENGINE_FLAG_KEYS, 'to one shard (--shard I/N), not to the shards this runs');
      if (flags.queue && flags.workers !== undefined)
        throw usageError('--workers counts local shard processes; with --queue, start `graft worker` processes instead');
      const shards = flags.shards ?? (flags.queue ? 8 : (flags.workers ?? defaultWorkers()));
      // Each shard would fail on a missing path alone: one error now instead.
      if (![MNIST_SPEC, MNIST_RGB_SPEC, MNIST_M_SPEC].includes(flags.data) && !existsSync(flags.data))
        throw usageError(`data path not found: ${flags.data}`);
      const out = resolve(flags.out ?? `sweeps/extract-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      checkOutputs({
        into: [
          { path: out, flag: '--out' },
          { path: cacheDir, flag: flags.cacheDir !== undefined ? '--cache-dir' : 'feature cache dir' },
        ],
      });
      if (flags.queue) await checkQueue(flags.queue);
      const spec: SweepSpec = {
        command: 'extract',
        flags: {
          base: flags.base,
          data: existsSync(flags.data) ? resolve(flags.data) : flags.data,
          cut: flags.cut,
          engine: flags.engine,
          'cache-dir': cacheDir,
        },
        axes: { shard: Array.from({ length: shards }, (_, i) => `${i + 1}/${shards}`) },
        metric: 'computed',
        goal: 'max',
        cwd: process.cwd(),
      };
      const trials = sweepTrials(spec);
      const progress = new Progress({ prefix: 'extract: ' });
      const started = performance.now();
      const done = flags.queue
        ? await runQueuedSweep(spec, trials, { url: flags.queue, out, callbacks: [progress] })
        : await finishSweep(
            out,
            spec,
            trials,
            await runLocalSweep(trials, { trialsDir: sweepPaths(out).trials, workers: flags.workers, callbacks: [progress] }),
          );
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      const total = (key: string) => done.json.trials.reduce((n, r) => n + (r.status === 'done' ? (r.metrics[key] ?? 0) : 0), 0);
      log(done.markdown);
      log(
        `\n${total('images')} images in ${shards} shards, ${total('computed')} computed, ${total('cached')} already cached, in ${seconds.toFixed(1)} s; features in ${cacheDir}`,
      );
      if (flags.json)
        printJson({ ...done.json, images: total('images'), computed: total('computed'), cached: total('cached'), cacheDir, seconds });
      const failed = done.json.trials.find((r) => r.status === 'failed');
      if (failed?.status === 'failed' && done.failed === shards) throw new GraftError(`every shard failed (the first: ${failed.error})`);
      if (done.failed) throw partialFailure(`${done.failed} of ${shards} shards failed (their rows say why)`);
    });
}

/** One shard, here: what each shard's process runs. */
async function runShard(flags: ExtractFlags, cacheDir: string): Promise<void> {
  const shard = parseShard(flags.shard!);
  await prepare(flags);
  const progress = new Progress();
  const stats = await extractShard({
    base: flags.base,
    data: flags.data,
    cut: flags.cut,
    shard,
    cacheDir,
    engine: flags.engine,
    callbacks: [progress],
  });
  progress.stop();
  log(`shard ${shard.index}/${shard.of}: ${stats.images} images, ${stats.computed} computed, ${stats.cached} already cached`);
  if (flags.json) printJson({ metrics: stats });
}

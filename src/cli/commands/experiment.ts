import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import {
  EXPERIMENTS,
  type Experiment,
  type ExperimentOptions,
  type ExperimentResult,
  type Grid,
  type GridCell,
} from '../../experiments/index.js';
import { writeFileAtomically } from '../../io/atomic.js';
import { runExperimentCells } from '../../sweep/experiment.js';
import { checkQueue } from '../../sweep/queue.js';
import { checkOutputs, intArg, log, prepare, printJson, Progress, type GlobalOptions } from '../shared.js';
import { SweepProgress } from '../trial-progress.js';

interface ExperimentFlags extends GlobalOptions {
  seeds?: string;
  runs: string;
  data?: string;
  variant?: string;
  base?: string;
  workers?: number;
  queue?: string;
  cell?: string;
}

/** The experiments that are grids of cells, which --workers and --queue run as trials. */
const gridNames = () =>
  Object.entries(EXPERIMENTS)
    .flatMap(([name, e]) => (e.grid ? [name] : []))
    .join(', ');

/** One cell here, its result the `metrics` of the `--json` line: what each of the experiment's trials runs. */
async function runCell(experiment: Experiment, flags: ExperimentFlags, opts: ExperimentOptions): Promise<void> {
  if (!experiment.grid) throw usageError(`${experiment.name} is not a grid of cells: it takes no --cell`);
  let cell: unknown;
  try {
    cell = JSON.parse(flags.cell!);
  } catch {
    throw usageError(`--cell must be a JSON object, got ${flags.cell}`);
  }
  if (!cell || typeof cell !== 'object' || Array.isArray(cell)) throw usageError(`--cell must be a JSON object, got ${flags.cell}`);
  await prepare(flags);
  const progress = new Progress({ epochLines: false, prefix: `${experiment.name}: ` });
  const result = await experiment.grid.runCell(cell as GridCell, { ...opts, callbacks: [progress] });
  progress.stop();
  log(JSON.stringify(result));
  if (flags.json) printJson({ experiment: experiment.name, cell, metrics: result });
}

/**
 * The grid's cells as sweep trials (local processes or queue jobs), then its table here. Each
 * cell's process takes the options this one was given, so it runs what this process would.
 */
async function onCells(grid: Grid, name: string, flags: ExperimentFlags, opts: ExperimentOptions, out: string): Promise<ExperimentResult> {
  const cells = await grid.cells(opts);
  const cellFlags = [
    ...(flags.seeds !== undefined ? ['--seeds', flags.seeds] : []),
    // Workers may run elsewhere: a data path is given absolute.
    ...(flags.data !== undefined ? ['--data', existsSync(flags.data) ? resolve(flags.data) : flags.data] : []),
    ...(flags.variant !== undefined ? ['--variant', flags.variant] : []),
    ...(flags.base !== undefined ? ['--base', flags.base] : []),
    '--backend',
    flags.backend,
    '--train-engine',
    flags.trainEngine,
    ...(flags.threads !== undefined ? ['--threads', String(flags.threads)] : []),
  ];
  const progress = new SweepProgress();
  try {
    const results = await runExperimentCells(cells, {
      name,
      flags: cellFlags,
      out: resolve(out),
      cwd: process.cwd(),
      workers: flags.workers,
      queue: flags.queue,
      callbacks: [progress],
    });
    return await grid.table(cells, results, opts);
  } finally {
    progress.stop();
  }
}

export function experimentCommand(): Command {
  return new Command('experiment')
    .description(`reproduce a reference table offline (${Object.keys(EXPERIMENTS).join(', ')})`)
    .argument('<name>', 'experiment name')
    .option('--seeds <list>', "comma-separated seeds (default: the experiment's own; 1,2,3 for most, 1-10 for digits-transfer)")
    .option('--runs <dir>', 'where the Markdown and JSON reports go', 'runs')
    .option(
      '--data <data>',
      `run on this data set instead of the built-in one (${Object.entries(EXPERIMENTS)
        .flatMap(([name, e]) => (e.takesData ? [name] : []))
        .join(', ')})`,
    )
    .option(
      '--variant <name>',
      `a named variant of the experiment, the first its default (${Object.entries(EXPERIMENTS)
        .flatMap(([name, e]) => (e.variants ? [`${name}: ${e.variants.join(', ')}`] : []))
        .join('; ')})`,
    )
    .option(
      '--base <name>',
      `the base to transfer from, the first its default (${Object.entries(EXPERIMENTS)
        .flatMap(([name, e]) => (e.bases ? [`${name}: ${e.bases.join(', ')}`] : []))
        .join('; ')})`,
    )
    .option(
      '--workers <n>',
      `run a grid experiment's cells (${gridNames()}) as sweep trials, N local processes at a time`,
      intArg('--workers', 1),
    )
    .option('--queue <url>', "run a grid experiment's cells as jobs on this Redis (redis://HOST:PORT) for `graft worker` processes")
    .addOption(new Option('--cell <json>', "run one cell of the experiment's grid here (what each trial runs)").hideHelp())
    .action(async (name: string, flags: ExperimentFlags) => {
      // Own names only: `constructor` or `__proto__` is no experiment, not Object's.
      const experiment = Object.hasOwn(EXPERIMENTS, name) ? EXPERIMENTS[name] : undefined;
      if (!experiment) throw usageError(`unknown experiment "${name}" (known: ${Object.keys(EXPERIMENTS).join(', ')})`);
      if (flags.data && !experiment.takesData) throw usageError(`${name} runs on its own data; it does not take --data`);
      if (flags.variant && !experiment.variants?.includes(flags.variant))
        throw usageError(
          `${name} has ${experiment.variants ? `variants ${experiment.variants.join(', ')}` : 'no variants'}; got ${flags.variant}`,
        );
      if (flags.base && !experiment.bases?.includes(flags.base))
        throw usageError(
          `${name} ${experiment.bases ? `runs on ${experiment.bases.join(', ')}` : 'runs on its own base; it does not take --base'}; got ${flags.base}`,
        );
      const parts = flags.seeds?.split(',').map((s) => s.trim());
      // Number('') is 0: `--seeds ''` or `1,,2` is a mistake, not seed 0.
      if (parts?.some((s) => !/^\d+$/.test(s)))
        throw usageError(`--seeds must be a comma-separated list of integers, got "${flags.seeds}"`);
      const seeds = parts?.map(Number);
      const opts = { seeds, data: flags.data, variant: flags.variant, base: flags.base, trainEngine: flags.trainEngine };
      if (flags.cell !== undefined) return runCell(experiment, flags, opts);
      const onWorkers = flags.workers !== undefined || flags.queue !== undefined;
      if (onWorkers && !experiment.grid)
        throw usageError(`${name} runs in one process, not as a grid of cells; --workers and --queue take ${gridNames()}`);
      if (flags.workers !== undefined && flags.queue)
        throw usageError('--workers counts local cell processes; with --queue, start `graft worker` processes instead');
      // The reports are written after the runs: --runs is checked before them.
      checkOutputs({ into: [{ path: flags.runs, flag: '--runs' }] });
      if (flags.queue) await checkQueue(flags.queue);
      await prepare(flags);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const path = join(flags.runs, `${name}${flags.variant ? `-${flags.variant}` : ''}${flags.base ? `-${flags.base}` : ''}-${stamp}`);
      // Each run's step always; epochs only as a bar on a terminal (a line per epoch would drown the steps).
      const progress = new Progress({ epochLines: false, prefix: `${name}: ` });
      const started = performance.now();
      let result: ExperimentResult;
      try {
        result =
          onWorkers && experiment.grid
            ? await onCells(experiment.grid, name, flags, { ...opts, callbacks: [progress] }, `${path}-cells`)
            : await experiment.run({ ...opts, callbacks: [progress] });
      } finally {
        progress.stop();
      }
      const seconds = (performance.now() - started) / 1000;
      const json = { ...result.json, seconds, backend: flags.backend };
      const figures = [];
      for (const f of result.figures ?? []) {
        const file = `${path}-${f.name}.png`;
        await writeFileAtomically(file, f.png);
        figures.push(`![${f.caption}](${basename(file)})`);
      }
      await writeFileAtomically(
        `${path}.md`,
        `# ${name}\n\n${result.markdown}\n\n${figures.map((f) => `${f}\n\n`).join('')}Total ${seconds.toFixed(0)} s on backend ${flags.backend}.\n`,
      );
      await writeFileAtomically(`${path}.json`, JSON.stringify(json, null, 2) + '\n');
      log(result.markdown);
      log(
        `\n${seconds.toFixed(0)} s; report written to ${path}.md and .json${result.figures?.length ? `, pictures to ${path}-*.png` : ''}`,
      );
      if (flags.json) printJson(json);
    });
}

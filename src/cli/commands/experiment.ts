import { Command } from 'commander';
import { basename, join } from 'node:path';
import { usageError } from '../../core/errors.js';
import { EXPERIMENTS } from '../../experiments/index.js';
import { writeFileAtomically } from '../../io/atomic.js';
import { checkOutputs, log, prepare, printJson, Progress, type GlobalOptions } from '../shared.js';

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
    .action(
      async (name: string, flags: GlobalOptions & { seeds?: string; runs: string; data?: string; variant?: string; base?: string }) => {
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
        // The reports are written after the runs: --runs is checked before them.
        checkOutputs({ into: [{ path: flags.runs, flag: '--runs' }] });
        await prepare(flags);
        // Each run's step always; epochs only as a bar on a terminal (a line per epoch would drown the steps).
        const progress = new Progress({ epochLines: false, prefix: `${name}: ` });
        const started = performance.now();
        const result = await experiment.run({
          seeds,
          data: flags.data,
          variant: flags.variant,
          base: flags.base,
          trainEngine: flags.trainEngine,
          callbacks: [progress],
        });
        progress.stop();
        const seconds = (performance.now() - started) / 1000;
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const path = join(flags.runs, `${name}${flags.variant ? `-${flags.variant}` : ''}${flags.base ? `-${flags.base}` : ''}-${stamp}`);
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
      },
    );
}

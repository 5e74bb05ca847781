import { Command, Option } from 'commander';
import { loadImageBase, loadTextBase } from '../../bases/index.js';
import { loadText, splitText } from '../../data/text/index.js';
import { rankTextCuts } from '../../evaluate/rank-text.js';
import { loadDataSplits, parseClassFilter } from '../../data/index.js';
import { rankCuts, type BaseRanking, type CutSet } from '../../evaluate/rank.js';
import {
  baseOptions,
  classesArg,
  collect,
  intArg,
  log,
  pct,
  prepare,
  printJson,
  Progress,
  table,
  Warnings,
  withBaseFlags,
  isTextBaseFlag,
  type BaseFlags,
  type GlobalOptions,
  collectWhere,
  WHERE_HELP,
} from '../shared.js';
import type { RowFilter } from '../../data/types.js';

interface RankFlags extends GlobalOptions, BaseFlags {
  base: string[];
  data: string;
  cuts: CutSet;
  probe: boolean;
  seed: number;
  perClass?: number;
  classes?: string;
  where: RowFilter[];
  textColumn?: string;
  labelColumn?: string;
}

export function rankCommand(): Command {
  return withBaseFlags(new Command('rank'))
    .description('score every candidate cut of one or more bases on your data (LogME, H-score, LEEP, linear probe), before any fine-tuning')
    .requiredOption('--base <base>', 'a base (repeat for several)', collect)
    .requiredOption(
      '--data <data>',
      'image folder, CSV/JSONL manifest, or a built-in set (mnist, mnist-rgb, mnist-m; the training split is scored)',
    )
    .addOption(
      new Option('--cuts <set>', 'which cuts: the output of each block, or every cut point').choices(['blocks', 'all']).default('blocks'),
    )
    .option('--probe', 'also cross-validate a linear probe at each cut (slower; the reference the scores estimate)', false)
    .option('--seed <n>', 'random seed (split, probe folds)', intArg('--seed'), 0)
    .option('--per-class <n>', 'keep N training examples per class', intArg('--per-class', 1))
    .option('--classes <spec>', 'use only these classes', classesArg)
    .option('--where <column=values>', WHERE_HELP, collectWhere(), [])
    .option('--text-column <name>', 'text bases: the column (JSONL: key) holding the text (default: text)')
    .option('--label-column <name>', 'text bases: the column holding the label (default: label)')
    .action(async (flags: RankFlags) => {
      await prepare(flags);
      const rankings: BaseRanking[] = [];
      const warnings = new Warnings();
      let progress = new Progress();
      for (const spec of flags.base) {
        progress = new Progress({ prefix: `${spec}: ` });
        if (await isTextBaseFlag({ ...flags, base: spec })) {
          const texts = await loadText(flags.data, {
            textColumn: flags.textColumn,
            labelColumn: flags.labelColumn,
            where: flags.where,
            classes: flags.classes?.split(',').map((c) => c.trim()),
            callbacks: [warnings, progress],
          });
          const { train } = splitText(texts, { seed: flags.seed, perClass: flags.perClass });
          const base = await loadTextBase(spec);
          rankings.push(await rankTextCuts(base, train, { cuts: flags.cuts, probe: flags.probe, seed: flags.seed, callbacks: [progress] }));
          continue;
        }
        const base = await loadImageBase(spec, baseOptions(flags));
        const { train } = await loadDataSplits(flags.data, {
          size: base.input,
          resize: base.resize,
          medium: base.medium,
          where: flags.where,
          seed: flags.seed,
          perClass: flags.perClass,
          classes: flags.classes ? parseClassFilter(flags.classes) : undefined,
          callbacks: [warnings, progress],
        });
        rankings.push(
          await rankCuts(base, train, {
            cuts: flags.cuts,
            probe: flags.probe,
            baseline: true,
            seed: flags.seed,
            callbacks: [progress],
          }),
        );
      }
      progress.stop();
      warnings.report();
      const rows = rankings.flatMap((r) => r.rows).sort((a, b) => b.logme - a.logme);
      log(
        table(
          ['rank', 'base', 'cut', 'dims', 'LogME', 'H-score', ...(flags.probe ? ['probe acc'] : []), 'seconds'],
          rows.map((r, i) => [
            i + 1,
            r.base,
            r.cut,
            r.dims,
            r.logme.toFixed(4),
            r.hScore.toFixed(3),
            ...(flags.probe ? [pct(r.probe!)] : []),
            r.seconds.toFixed(2),
          ]),
        ),
      );
      for (const r of rankings) {
        const b = r.baseline;
        if (!b) {
          log(`${r.base}: vectors at ${r.rows.length} cut${r.rows.length === 1 ? '' : 's'} in ${r.extractSeconds.toFixed(1)} s`);
          continue;
        }
        const leepText = r.leep === undefined ? '' : `; LEEP of its own classifier ${r.leep.toFixed(4)}`;
        log(
          `${r.base}: features at ${r.rows.length} cut${r.rows.length === 1 ? '' : 's'} in ${r.extractSeconds.toFixed(1)} s${leepText}; linear probe at ${b.cut} ${pct(b.probe)} vs ${pct(b.pixelsProbe)} on the raw pixels${b.negative ? ' — it barely helps on this data' : ''}`,
        );
      }
      log(
        `best: ${rows[0].base} cut at ${rows[0].cut} (highest LogME: the evidence that a linear model on these features explains the labels)`,
      );
      if (flags.json)
        printJson({
          data: flags.data,
          bases: rankings.map(({ rows: _rows, ...r }) => r),
          rows,
          best: { base: rows[0].base, cut: rows[0].cut },
        });
    });
}

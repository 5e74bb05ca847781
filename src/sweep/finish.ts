// A sweep's outputs once its trials are in: the table as Markdown and JSON, and the best trial's
// model copied to `best/`, each written whole (temporary sibling, then rename).
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDirAtomically, writeFileAtomically } from '../io/atomic.js';
import type { Trial } from './grid.js';
import type { SweepSpec } from './spec.js';
import { sweepTable, type SweepTable } from './table.js';
import type { TrialResult } from './trial.js';

/** Where a sweep writes into `out`: the trials' folders, the tables, the best model. */
export const sweepPaths = (out: string) => ({
  trials: join(out, 'trials'),
  markdown: join(out, 'sweep.md'),
  json: join(out, 'sweep.json'),
  best: join(out, 'best'),
});

export async function finishSweep(out: string, spec: SweepSpec, trials: Trial[], results: TrialResult[]): Promise<SweepTable> {
  const t = sweepTable(spec, trials, results);
  const paths = sweepPaths(out);
  if (t.best?.model) {
    const from = join(paths.trials, t.best.id, t.best.model);
    await writeDirAtomically(paths.best, true, (dir) => cp(from, dir, { recursive: true }));
    t.json.bestModel = paths.best;
  }
  await writeFileAtomically(paths.markdown, `# graft sweep: ${spec.command}\n\n${t.markdown}\n`);
  await writeFileAtomically(paths.json, JSON.stringify(t.json, null, 2) + '\n');
  return t;
}

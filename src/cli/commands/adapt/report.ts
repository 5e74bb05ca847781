// What `graft adapt` shows, for images and texts alike: the method next to source-only training
// on the same features and seed, and a warning when adapting made things worse.
import type { AdaptData, DomainFeatures, LabelledSet } from '../../../strategies/adapt/pipeline.js';
import { runAdaptation } from '../../../strategies/adapt/pipeline.js';
import { log, logTrainEngines, pct, printJson, Progress, table, warn } from '../../shared.js';
import type { AdaptFlags } from './flags.js';

/** One method and its source-only baseline on the same features and seed, reported. */
export async function runAndReport(
  features: DomainFeatures,
  data: AdaptData<LabelledSet>,
  flags: Pick<AdaptFlags, 'method' | 'epochs' | 'seed' | 'json' | 'adversary' | 'trainEngine'>,
  header: string,
): Promise<void> {
  const result = await runAdaptation(features, data, flags.method, {
    epochs: flags.epochs,
    seed: flags.seed,
    adversary: flags.adversary,
    trainEngine: flags.trainEngine,
    callbacks: [new Progress()],
  });
  // Every method is compared with source-only training on the same features and seed.
  const baseline =
    flags.method === 'none'
      ? result
      : await runAdaptation(features, { ...data, targetLabelled: undefined }, 'none', {
          epochs: flags.epochs,
          seed: flags.seed,
          trainEngine: flags.trainEngine,
        });
  log(header);
  const rows = [result, ...(baseline === result ? [] : [baseline])].map((r) => [
    r.method + (r === baseline && r !== result ? ' (baseline)' : ''),
    r.target ? pct(r.target.accuracy) : '-',
    r.target ? r.target.macroF1.toFixed(3) : '-',
    pct(r.source.accuracy),
    r.seconds.toFixed(1),
  ]);
  log(table(['method', 'target accuracy', 'target macro-F1', 'source test accuracy', 'train s'], rows));
  log(`checkpoint: ${result.checkpoint}${data.targetLabelled ? '' : ' (no target label used)'}`);
  logTrainEngines([{ name: result.method, trainEngine: result.trainEngine }]);
  if (result !== baseline && result.target && baseline.target && result.target.accuracy < baseline.target.accuracy) {
    warn(
      `negative transfer: ${flags.method} ends below source-only training on the target (${pct(result.target.accuracy)} < ${pct(baseline.target.accuracy)})`,
    );
  }
  if (flags.json)
    printJson({
      method: result.method,
      cut: features.cut,
      target: result.target,
      source: result.source,
      checkpoint: result.checkpoint,
      trainEngine: result.trainEngine,
      baseline: { target: baseline.target, source: baseline.source },
    });
}

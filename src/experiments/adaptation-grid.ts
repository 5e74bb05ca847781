// Adaptation to several target domains one at a time (speakers, voices): every method and an
// oracle that has the target's labels, each seed, on one base (frozen, or trained end to end); then
// a table of target accuracy per domain, the mean, and how much of the source-only → oracle gap
// each method closed.
import type { TrainEngine } from '../engine/onnx-train.js';
import type { ImageBase } from '../bases/types.js';
import { tell, type Callback } from '../core/callbacks.js';
import { pct, table } from '../evaluate/report.js';
import { mean } from '../math/stats.js';
import { ADAPT_METHODS } from '../strategies/adapt/methods/index.js';
import { disposeDomainFeatures, domainFeatures, domainImages, runAdaptation, type AdaptData } from '../strategies/adapt/pipeline.js';

export const TRUNKS = ['frozen', 'trainable'] as const;
export type Trunk = (typeof TRUNKS)[number];

/** How the base took part, for an experiment's caption. */
export const trunkPhrase = (trunk: Trunk, base: ImageBase): string =>
  trunk === 'frozen'
    ? `${base.name} frozen, the adaptation network on its features at ${base.suggestedCut}`
    : `${base.name} trained end to end up to ${base.suggestedCut} with the adaptation network`;

export const GRID_METHODS = [...ADAPT_METHODS, 'target-oracle'] as const;

export interface GridOptions {
  /** Any image or audio base for the frozen trunk; a LayersBase to train it (`trainable`). */
  base: ImageBase;
  domains: readonly string[];
  /** A domain's data: the shared source, its unlabelled target (labelled too, for the oracle) and its evaluation set. */
  dataFor(domain: string): Promise<AdaptData>;
  seeds: readonly number[];
  /** `frozen`: the methods act on the base's features at its suggested cut; `trainable`: the trunk up to it trains too. */
  trunk: Trunk;
  epochs: number;
  selfTrain: { rounds: number; threshold: number };
  callbacks?: readonly Callback[];
  trainEngine?: TrainEngine;
}

export interface GridRow {
  method: (typeof GRID_METHODS)[number];
  perDomain: Record<string, number>;
  mean: number;
}

export async function adaptToEach(o: GridOptions): Promise<GridRow[]> {
  const accuracy = new Map<string, Map<string, number[]>>(GRID_METHODS.map((m) => [m, new Map()]));
  for (const domain of o.domains) {
    const data = await o.dataFor(domain);
    const cut = o.base.suggestedCut;
    const f =
      o.trunk === 'frozen' ? await domainFeatures(o.base, data, { cut, trunkStatistics: true }) : await domainImages(o.base, data, { cut });
    try {
      for (const method of GRID_METHODS)
        for (const seed of o.seeds) {
          tell(o.callbacks, 'onStep', `${domain}: ${method}, seed ${seed}`);
          // Only the oracle sees target labels: it trains on every speaker's (the source's and the
          // target's, without adaptation), so its checkpoint, chosen on the source's validation
          // set, is one that learnt the target too.
          const oracle = method === 'target-oracle';
          const r = await runAdaptation(
            oracle ? f : { ...f, targetLabelled: undefined },
            oracle ? data : { ...data, targetLabelled: undefined },
            oracle ? 'none' : method,
            { seed, epochs: o.epochs, selfTrain: o.selfTrain, trainEngine: o.trainEngine },
          );
          const row = accuracy.get(method)!;
          row.set(domain, [...(row.get(domain) ?? []), r.target!.accuracy]);
        }
    } finally {
      disposeDomainFeatures(f);
    }
  }
  return GRID_METHODS.map((method) => {
    const perDomain = Object.fromEntries(o.domains.map((d) => [d, mean(accuracy.get(method)!.get(d)!)]));
    return { method, perDomain, mean: mean(Object.values(perDomain)) };
  });
}

/** The share of the none → target-oracle gap (on the mean) a method closed. */
export function gapClosed(rows: readonly GridRow[]): (acc: number) => number {
  const none = rows.find((r) => r.method === 'none')!.mean;
  const oracle = rows.find((r) => r.method === 'target-oracle')!.mean;
  return (acc) => (oracle > none ? (acc - none) / (oracle - none) : NaN);
}

export function gridTable(rows: readonly GridRow[], domains: readonly string[]): string {
  const closed = gapClosed(rows);
  return table(
    ['method', ...domains, 'mean', 'gap closed'],
    rows.map((r) => [
      r.method,
      ...domains.map((d) => pct(r.perDomain[d])),
      pct(r.mean),
      r.method === 'none' || r.method === 'target-oracle' ? '' : `${(closed(r.mean) * 100).toFixed(0)}%`,
    ]),
  );
}

/** What `--json` prints of a grid. */
export const gridJson = (rows: readonly GridRow[]) => {
  const closed = gapClosed(rows);
  return {
    rows: rows.map((r) => ({ method: r.method, target: { accuracy: r.mean, perDomain: r.perDomain } })),
    gapClosed: Object.fromEntries(rows.map((r) => [r.method, closed(r.mean)])),
  };
};

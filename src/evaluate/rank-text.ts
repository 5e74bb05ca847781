// rankCuts for texts: every cut of a text base (a Hub model's outputs, poolings and layers; an
// embedded base's one vector) scored on the labelled texts, the same scores as for images.
import { tell, type Callback } from '../core/callbacks.js';
import type { TextBase } from '../bases/types.js';
import type { TextSet } from '../data/text/types.js';
import { linearProbe } from './probe.js';
import type { BaseRanking, CutScore, CutSet } from './rank.js';
import { hScore, logme } from './scores.js';

export interface TextRankOptions {
  cuts?: CutSet;
  probe?: boolean;
  seed?: number;
  callbacks?: readonly Callback[];
}

/** A text base's cuts worth scoring: a Hub model's blocks (or all its cuts), else its one vector. */
export function textRankCandidates(base: TextBase, which: CutSet = 'blocks'): (string | undefined)[] {
  if (!('source' in base)) return [undefined];
  return which === 'all' ? base.cuts : base.blockCuts;
}

/** Every candidate cut of a text base scored on `set` (LogME, H-score, optionally a linear probe), best LogME first. */
export async function rankTextCuts(base: TextBase, set: TextSet, o: TextRankOptions = {}): Promise<BaseRanking> {
  const k = set.classes.length;
  const candidates = textRankCandidates(base, o.cuts);
  const rows: CutScore[] = [];
  let extractSeconds = 0;
  for (const [i, cut] of candidates.entries()) {
    const t0 = performance.now();
    const encoder = await base.encoder(cut);
    let data: Float32Array;
    try {
      const x = await encoder.embed(set.texts, {
        onProgress: (done, total) => tell(o.callbacks, 'onProgress', `cut ${i + 1}/${candidates.length}`, done, total),
      });
      data = (await x.data()) as Float32Array;
      x.dispose();
    } finally {
      encoder.dispose();
    }
    const seconds = (performance.now() - t0) / 1000;
    extractSeconds += seconds;
    const f = { data, rows: set.labels.length, cols: encoder.dim };
    const started = performance.now();
    const row: CutScore = {
      base: base.name,
      cut: cut ?? encoder.cut ?? 'output',
      dims: f.cols,
      logme: logme(f, set.labels, k),
      hScore: hScore(f, set.labels, k, { shrinkage: 'ledoit-wolf' }),
      seconds: 0,
    };
    if (o.probe) row.probe = linearProbe(f, set.labels, k, { seed: o.seed }).accuracy;
    row.seconds = seconds + (performance.now() - started) / 1000;
    rows.push(row);
  }
  rows.sort((a, b) => b.logme - a.logme);
  return { base: base.name, extractSeconds, rows };
}

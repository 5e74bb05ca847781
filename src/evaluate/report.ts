// Plain-text tables (GitHub Markdown pipes), readable in a terminal and in a README, and the reports made of them.
import type { Metrics } from './metrics.js';

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((v, c) => v.padEnd(widths[c])).join(' | ') + ' |';
  return [line(cells[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)].join('\n');
}

export const pct = (x: number) => (100 * x).toFixed(1) + '%';

/** A classifier's metrics as a person reads them: accuracy and macro-F1, per class, and the confusion matrix. */
export function classificationReport(what: string, m: Metrics, labels: string[]): string {
  return [
    `${what}: accuracy ${pct(m.accuracy)}, macro-F1 ${m.macroF1.toFixed(3)}`,
    table(
      ['class', 'precision', 'recall', 'f1', 'support'],
      m.perClass.map((c) => [c.label, c.precision.toFixed(3), c.recall.toFixed(3), c.f1.toFixed(3), c.support]),
    ),
    'confusion (rows: true, columns: predicted)',
    table(
      ['', ...labels],
      m.confusion.map((row, i) => [labels[i], ...row]),
    ),
  ].join('\n');
}

// Plain-text tables (GitHub Markdown pipes), readable in a terminal and in a README.

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((v, c) => v.padEnd(widths[c])).join(' | ') + ' |';
  return [line(cells[0]), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.slice(1).map(line)].join('\n');
}

export const pct = (x: number) => (100 * x).toFixed(1) + '%';

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Standard deviation over the runs themselves (population), as experiments report it across seeds. */
export const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

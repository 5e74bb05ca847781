// Manifests: a CSV (header row required) or JSON Lines file with `path` and `label` per image,
// paths relative to the manifest's own folder. Multi-task manifests hold one column per task.
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { usageError } from '../core/errors.js';
import { decodeFiles, dropEmptyClasses, Progress, settleSkips } from './build.js';
import type { ImageSet, LoadOptions, RowFilter, Skipped } from './types.js';

export const MANIFEST_EXTENSIONS: readonly string[] = ['.csv', '.jsonl', '.ndjson'];
export const isManifestPath = (path: string): boolean => MANIFEST_EXTENSIONS.includes(extname(path).toLowerCase());

export interface ManifestRow {
  path: string;
  label: string;
  /** Every column by its lower-cased name: CSV cells trimmed; JSONL values as strings, arrays as arrays of strings, null as ''. */
  fields: Record<string, string | string[]>;
  /** Line in the manifest, for messages. */
  line: number;
}

const COLUMNS = ['path', 'label'] as const;

const row = (fields: Record<string, string | string[]>, line: number): ManifestRow => {
  const str = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : (v ?? ''));
  return { path: str(fields.path), label: str(fields.label), fields, line };
};

function parseCsv(text: string, file: string, required: readonly string[]): ManifestRow[] {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, trim: true });
  } catch (err) {
    throw usageError(`${file}: not a valid CSV: ${(err as Error).message}`);
  }
  if (records.length === 0) throw usageError(`${file} is empty; expected a header row with columns ${COLUMNS.join(', ')}`);
  const header = records[0];
  const lower = header.map((h) => h.toLowerCase());
  const missing = required.filter((c) => !lower.includes(c));
  if (missing.length) {
    throw usageError(
      `${file}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(columns found: ${header.map((h) => JSON.stringify(h)).join(', ')}; the first row must be a header)`,
    );
  }
  // Assumes no quoted newlines, so record i is on line i + 1; only used in messages.
  return records.slice(1).map((r, i) => row(Object.fromEntries(lower.map((h, c) => [h, r[c] ?? ''])), i + 2));
}

function parseJsonl(text: string, file: string, required: readonly string[]): ManifestRow[] {
  const rows: ManifestRow[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      if (!raw.trim()) return;
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch (err) {
        throw usageError(`${file}:${i + 1}: not valid JSON: ${(err as Error).message}`);
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        throw usageError(`${file}:${i + 1}: expected an object with keys ${COLUMNS.join(', ')}`);
      }
      const rec = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), v]));
      const missing = required.filter((c) => !(c in rec));
      if (missing.length) {
        throw usageError(
          `${file}:${i + 1}: missing key${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (keys found: ${Object.keys(obj).join(', ') || 'none'})`,
        );
      }
      const str = (v: unknown) => (v === null || v === undefined ? '' : String(v).trim());
      rows.push(row(Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, Array.isArray(v) ? v.map(str) : str(v)])), i + 1));
    });
  return rows;
}

export function parseWhere(spec: string, flag = '--where'): RowFilter {
  const eq = spec.indexOf('=');
  const column = spec.slice(0, eq).trim().toLowerCase();
  const values = spec
    .slice(eq + 1)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (eq < 0 || !column || values.length === 0) throw usageError(`${flag} wants COLUMN=VALUE[,VALUE…], got ${JSON.stringify(spec)}`);
  return { column, values };
}

const shown = (values: Iterable<string>) => {
  const all = [...values].sort();
  return all.length > 20 ? `${all.slice(0, 20).join(', ')}, … (${all.length} in all)` : all.join(', ');
};

/** The rows every filter keeps; a column or value the manifest does not have is a usage error listing what it has. */
export function selectRows<R extends { fields: Readonly<Record<string, string | string[]>> }>(
  rows: readonly R[],
  filters: readonly RowFilter[],
  file: string,
): R[] {
  let kept = [...rows];
  for (const f of filters) {
    const columns = new Set(rows.flatMap((r) => Object.keys(r.fields)));
    if (!columns.has(f.column)) throw usageError(`${file} has no column "${f.column}" (columns: ${shown(columns)})`);
    const present = new Set(rows.map((r) => String(r.fields[f.column] ?? '')));
    const missing = f.values.filter((v) => !present.has(v));
    if (missing.length)
      throw usageError(
        `${file}: no row has ${f.column}=${missing.map((v) => JSON.stringify(v)).join(', ')} (values of ${f.column}: ${shown(present)})`,
      );
    kept = kept.filter((r) => f.values.includes(String(r.fields[f.column] ?? '')));
  }
  return kept;
}

/**
 * The manifest's rows, paths still as written. Usage errors for a missing file or column; with
 * `unlabelled`, the label column may be absent (rows then have empty labels); `columns` replaces
 * `label` with the columns given (a multi-task manifest's: a CSV must have them, a JSONL row may
 * leave them out).
 */
export async function readManifest(
  file: string,
  o: { unlabelled?: boolean; columns?: string[]; where?: readonly RowFilter[] } = {},
): Promise<ManifestRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw usageError(`data path not found: ${file}`);
    throw err;
  }
  const required = o.columns ? ['path', ...o.columns.map((c) => c.toLowerCase())] : o.unlabelled ? (['path'] as const) : COLUMNS;
  // A JSONL row may leave a task's key out: that sample is unlabelled for the task.
  const rows =
    extname(file).toLowerCase() === '.csv' ? parseCsv(text, file, required) : parseJsonl(text, file, o.columns ? ['path'] : required);
  return o.where?.length ? selectRows(rows, o.where, file) : rows;
}

// Integer labels (0..10) sort as numbers, which is what anyone writing them means; others by code point,
// like class folders. Shared with text tables.
export function sortLabels(labels: string[]): string[] {
  if (labels.every((l) => /^-?\d+$/.test(l))) return labels.sort((a, b) => Number(a) - Number(b));
  return labels.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function loadManifest(file: string, opts: LoadOptions): Promise<ImageSet> {
  const rows = await readManifest(file, { where: opts.where });
  const skips: Skipped[] = [];
  const usable: ManifestRow[] = [];
  for (const r of rows) {
    if (!r.path) skips.push({ path: `${file}:${r.line}`, reason: 'empty path' });
    else if (!r.label) skips.push({ path: `${file}:${r.line}`, reason: 'empty label' });
    else usable.push(r);
  }
  const found = sortLabels([...new Set(usable.map((r) => r.label))]);
  let classes = found;
  if (opts.classes) {
    const absent = opts.classes.filter((c) => !found.includes(c));
    if (absent.length)
      throw usageError(`${file}: no rows labelled ${absent.map((c) => JSON.stringify(c)).join(', ')} (labels found: ${found.join(', ')})`);
    classes = [...opts.classes];
  }
  if (classes.length < 2)
    throw usageError(`${file}: need at least 2 labels, found ${classes.length}${classes.length ? ` (${classes[0]})` : ''}`);

  const index = new Map(classes.map((c, i) => [c, i]));
  const base = dirname(file);
  const files = usable
    .filter((r) => index.has(r.label))
    .map((r) => ({ path: isAbsolute(r.path) ? r.path : join(base, r.path), label: index.get(r.label)! }));
  const decoded = await decodeFiles(files, classes, opts, new Progress(files.length, opts.callbacks), skips);
  const set = dropEmptyClasses(decoded, (c) => `${file} (label ${JSON.stringify(c)})`, skips);
  settleSkips(skips, opts, file);
  if (set.classes.length < 2) throw usageError(`${file}: need at least 2 labels with usable files, found ${set.classes.length}`);
  return set;
}

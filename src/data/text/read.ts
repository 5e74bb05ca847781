// Text tables: one text per row of a CSV, TSV or JSON Lines file, with its label in another column.
// Fields are kept as bytes until decoded one by one, so a stray invalid UTF-8 byte is pinned to its
// row (and replaced there) instead of failing the file or passing unnoticed.
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { tell, type Callback } from '../../core/callbacks.js';
import { usageError } from '../../core/errors.js';
import { selectRows, sortLabels } from '../manifest.js';
import type { RowFilter } from '../types.js';
import type { TextSet, TextWarning } from './types.js';

export const TEXT_TABLE_EXTENSIONS: readonly string[] = ['.csv', '.tsv', '.jsonl', '.ndjson'];
export const isTextTablePath = (path: string): boolean => TEXT_TABLE_EXTENSIONS.includes(extname(path).toLowerCase());

export const DEFAULT_TEXT_COLUMN = 'text';
export const DEFAULT_LABEL_COLUMN = 'label';

export interface ReadTextOptions {
  /** Column (JSON Lines: key) holding the text; default `text`. */
  textColumn?: string;
  /** Column holding the class name; default `label`. */
  labelColumn?: string;
  /** The label column may be absent and rows may lack a label (their label is then -1). */
  unlabelled?: boolean;
  /** Keep only rows of these labels, classes in this order (each must occur). */
  classes?: string[];
  /** Keep only the rows matching every filter (`--where COLUMN=VALUE,…`; column names case-insensitive). */
  where?: readonly RowFilter[];
  /** Rows skipped or changed (onTextWarning): 'empty' (no text), 'no-label', 'invalid-utf8' (bytes replaced by U+FFFD). */
  callbacks?: readonly Callback[];
}

/** A row as written, before classes are chosen. */
interface Row {
  text: string;
  /** '' when the row has none (or the file has no label column). */
  label: string;
  /** Line the row starts on, for its id. */
  line: number;
  /** Some of its bytes were not UTF-8 and were replaced. */
  replaced: boolean;
  /** Every other column by its lower-cased name, trimmed, for row selection. */
  fields: Record<string, string>;
}

interface Columns {
  text: string;
  label: string;
  /** Whether a missing label column is fine. */
  labelOptional: boolean;
}

// Non-fatal, so invalid bytes become U+FFFD; isUtf8 (a fatal check) tells whether that happened.
// ignoreBOM keeps a U+FEFF inside a field: only the file's own BOM is dropped, by stripBom.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function decode(bytes: Uint8Array): { value: string; replaced: boolean } {
  return { value: utf8.decode(bytes), replaced: !isUtf8(bytes) };
}

const stripBom = (bytes: Buffer): Buffer => (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes);

/** Index of `name` among `names`: exact match, else the one matching case-insensitively (Text for text). */
function findColumn(names: string[], name: string): number {
  const exact = names.indexOf(name);
  if (exact >= 0) return exact;
  return names.map((n) => n.toLowerCase()).indexOf(name.toLowerCase());
}

function missingColumns(names: string[], cols: Columns): string[] {
  const wanted = cols.labelOptional ? [cols.text] : [cols.text, cols.label];
  return wanted.filter((c) => findColumn(names, c) < 0);
}

const plural = (n: number, word: string) => `${word}${n === 1 ? '' : 's'}`;
const quoted = (names: string[]) => names.map((n) => JSON.stringify(n)).join(', ');

/** Turns csv-parse's record end offsets into the line each record starts on. */
class LineFinder {
  private pos = 0;
  private line = 1;
  constructor(private readonly bytes: Uint8Array) {}

  /** Line of the first byte at or after `offset` that is not a blank line's newline. */
  startingAt(offset: number): number {
    let start = offset;
    while (this.bytes[start] === 0x0a || this.bytes[start] === 0x0d) start++;
    for (; this.pos < start; this.pos++) if (this.bytes[this.pos] === 0x0a) this.line++;
    return this.line;
  }
}

interface ParsedRecord {
  /** Offset just past the record (and its newline). */
  info: { bytes: number };
  record: Uint8Array[];
}

// CSV and TSV share the quoting rules (RFC 4180, as Python's csv, pandas and spreadsheets write them);
// relax_quotes lets a quote inside an unquoted field through, as in `5" screen`.
function parseDelimited(bytes: Buffer, file: string, delimiter: ',' | '\t', cols: Columns): Row[] {
  let records: ParsedRecord[];
  try {
    records = parse(bytes, {
      delimiter,
      encoding: null, // fields as bytes: decoded (and checked) one by one below
      info: true,
      skip_empty_lines: true,
      relax_quotes: true,
      // A short row is read with its missing fields empty, so it is skipped and reported, not fatal.
      relax_column_count_less: true,
    }) as unknown as ParsedRecord[];
  } catch (err) {
    throw usageError(`${file}: not a valid ${delimiter === ',' ? 'CSV' : 'TSV'} file: ${(err as Error).message}`);
  }
  if (records.length === 0) throw usageError(`${file} is empty; expected a header row with a ${JSON.stringify(cols.text)} column`);
  const header = records[0].record.map((f) => decode(f).value.trim());
  const missing = missingColumns(header, cols);
  if (missing.length) {
    throw usageError(
      `${file}: no ${plural(missing.length, 'column')} ${quoted(missing)} (columns found: ${quoted(header)}; the first row must be a header)`,
    );
  }
  const textAt = findColumn(header, cols.text);
  const labelAt = findColumn(header, cols.label);
  const lines = new LineFinder(bytes);
  const rows: Row[] = [];
  for (let r = 1; r < records.length; r++) {
    const line = lines.startingAt(records[r - 1].info.bytes);
    const fields = records[r].record;
    // A line of only spaces is a blank line, not a row with an empty text.
    if (fields.length === 1 && !decode(fields[0]).value.trim()) continue;
    const text = decode(fields[textAt] ?? new Uint8Array(0));
    const label = labelAt < 0 ? { value: '', replaced: false } : decode(fields[labelAt] ?? new Uint8Array(0));
    const others = header.flatMap((name, i) =>
      i === textAt ? [] : [[name.toLowerCase(), decode(fields[i] ?? new Uint8Array(0)).value.trim()]],
    );
    rows.push({
      text: text.value,
      label: label.value,
      line,
      replaced: text.replaced || label.replaced,
      fields: Object.fromEntries(others),
    });
  }
  return rows;
}

/** A JSON value as the text of a field; objects and arrays are not text. */
function fieldText(v: unknown, key: string, where: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw usageError(`${where}: ${JSON.stringify(key)} holds ${Array.isArray(v) ? 'an array' : 'an object'}, not text`);
}

// Checked for invalid UTF-8 per line: a replaced byte in a key the reader does not use still counts.
function parseJsonl(bytes: Buffer, file: string, cols: Columns): Row[] {
  const rows: Row[] = [];
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    const raw = bytes.subarray(start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end);
    start = end + 1;
    const { value, replaced } = decode(raw);
    if (!value.trim()) continue;
    const where = `${file}:${line}`;
    let obj: unknown;
    try {
      obj = JSON.parse(value);
    } catch (err) {
      throw usageError(`${where}: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw usageError(`${where}: expected an object with a ${JSON.stringify(cols.text)} key`);
    }
    const rec = obj as Record<string, unknown>;
    const keys = Object.keys(rec);
    const missing = missingColumns(keys, cols);
    if (missing.length) {
      throw usageError(
        `${where}: no ${plural(missing.length, 'key')} ${quoted(missing)} (keys found: ${keys.length ? quoted(keys) : 'none'})`,
      );
    }
    const labelKey = keys[findColumn(keys, cols.label)];
    const textKey = keys[findColumn(keys, cols.text)];
    // Only scalar keys can be selected on; an object elsewhere in the row is not graft's to judge.
    const others = keys.flatMap((k) =>
      k === textKey || (typeof rec[k] === 'object' && rec[k] !== null) ? [] : [[k.toLowerCase(), fieldText(rec[k], k, where).trim()]],
    );
    rows.push({
      text: fieldText(rec[textKey], cols.text, where),
      label: labelKey === undefined ? '' : fieldText(rec[labelKey], cols.label, where),
      line,
      replaced,
      fields: Object.fromEntries(others),
    });
  }
  return rows;
}

function chooseClasses(found: string[], o: ReadTextOptions, file: string): string[] {
  if (!o.classes) return sortLabels(found);
  const dup = o.classes.find((c, i) => o.classes!.indexOf(c) !== i);
  if (dup !== undefined) throw usageError(`class ${JSON.stringify(dup)} is listed twice`);
  const absent = o.classes.filter((c) => !found.includes(c));
  if (absent.length)
    throw usageError(`${file}: no rows labelled ${quoted(absent)} (labels found: ${found.length ? quoted(sortLabels(found)) : 'none'})`);
  return [...o.classes];
}

/**
 * Read a text table: `.csv`, `.tsv` (header row first) or `.jsonl`/`.ndjson` (one object per line).
 * Texts and labels are trimmed. Rows with no text (or, unless `unlabelled`, no label) are skipped and
 * reported; rows labelled outside `classes` are dropped. Classes are the labels sorted (integers as
 * numbers), or `classes` in the order given. Ids are `file:line` of the row's first line.
 * Usage errors (exit code 2): a missing file or column, malformed CSV/JSON, fewer than 2 classes
 * when labelled.
 */
export async function readTextTable(file: string, o: ReadTextOptions = {}): Promise<TextSet> {
  const ext = extname(file).toLowerCase();
  if (!isTextTablePath(file)) throw usageError(`${file}: not a text table (expected ${TEXT_TABLE_EXTENSIONS.join(', ')})`);
  let bytes: Buffer;
  try {
    bytes = stripBom(await readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw usageError(`data path not found: ${file}`);
    throw err;
  }
  const cols: Columns = {
    text: o.textColumn ?? DEFAULT_TEXT_COLUMN,
    label: o.labelColumn ?? DEFAULT_LABEL_COLUMN,
    labelOptional: !!o.unlabelled,
  };
  const rows =
    ext === '.csv'
      ? parseDelimited(bytes, file, ',', cols)
      : ext === '.tsv'
        ? parseDelimited(bytes, file, '\t', cols)
        : parseJsonl(bytes, file, cols);
  return toTextSet(o.where?.length ? selectRows(rows, o.where, file) : rows, file, o);
}

function toTextSet(rows: Row[], file: string, o: ReadTextOptions): TextSet {
  const warn = (w: TextWarning) => tell(o.callbacks, 'onTextWarning', w);
  const kept: Row[] = [];
  for (const row of rows) {
    const r = { ...row, text: row.text.trim(), label: row.label.trim() };
    const id = `${file}:${r.line}`;
    if (!r.text) warn({ kind: 'empty', id });
    else if (!r.label && !o.unlabelled) warn({ kind: 'no-label', id });
    else kept.push(r);
  }
  const classes = chooseClasses([...new Set(kept.map((r) => r.label).filter(Boolean))], o, file);
  if (!o.unlabelled && classes.length < 2) {
    throw usageError(`${file}: need at least 2 labels, found ${classes.length}${classes.length ? ` (${classes[0]})` : ''}`);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const picked = kept.filter((r) => !r.label || index.has(r.label));
  for (const r of picked) if (r.replaced) warn({ kind: 'invalid-utf8', id: `${file}:${r.line}` });
  return {
    classes,
    texts: picked.map((r) => r.text),
    labels: Int32Array.from(picked, (r) => (r.label ? index.get(r.label)! : -1)),
    ids: picked.map((r) => `${file}:${r.line}`),
  };
}

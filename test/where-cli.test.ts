// --where on the command line: a manifest's rows selected by a column, for train and eval, and a
// column or value that does not exist named with what does.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { graft, tempDir } from './helpers.js';

describe('--where', () => {
  const dir = tempDir('graft-where-');
  const manifest = join(dir, 'manifest.csv');
  before(async () => {
    const rows = ['path,label,site'];
    for (let i = 0; i < 24; i++) {
      const label = i % 2 ? 'light' : 'dark';
      const name = `img${i}.png`;
      const level = label === 'light' ? 200 + (i % 5) * 10 : 20 + (i % 5) * 10;
      await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: level, g: level, b: level } } })
        .png()
        .toFile(join(dir, name));
      rows.push(`${name},${label},${i < 16 ? 'north' : 'south'}`);
    }
    writeFileSync(manifest, rows.join('\n'));
  });

  it('trains on the selected rows only', () => {
    const out = join(dir, 'north');
    const r = graft(
      'train',
      '--base',
      'digits-cnn',
      '--data',
      manifest,
      '--where',
      'site=north',
      '--out',
      out,
      '--epochs',
      '1',
      '--unfreeze',
      '0',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const [, train, val, test] = /(\d+) train \/ (\d+) val \/ (\d+) test images/.exec(r.stdout + r.stderr)!.map(Number);
    assert.equal(train + val + test, 16);
    const e = graft('eval', '--model', out, '--data', manifest, '--where', 'site=south', '--split', 'all', '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.equal(
      (e.json as { metrics: { confusion: number[][] } }).metrics.confusion.flat().reduce((a, b) => a + b, 0),
      8,
    );
  });

  it('names the columns, or the values, that exist', () => {
    const out = join(dir, 'none');
    const column = graft('train', '--base', 'digits-cnn', '--data', manifest, '--where', 'region=north', '--out', out);
    assert.equal(column.code, 2);
    assert.match(column.stderr, /^error: .*no column "region" \(columns: label, path, site\)$/m);
    const value = graft('train', '--base', 'digits-cnn', '--data', manifest, '--where', 'site=east', '--out', out);
    assert.equal(value.code, 2);
    assert.match(value.stderr, /^error: .*no row has site="east" \(values of site: north, south\)$/m);
    const malformed = graft('train', '--base', 'digits-cnn', '--data', manifest, '--where', 'site', '--out', out);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /^error: --where wants COLUMN=VALUE/m);
  });

  describe('on a text table', () => {
    const table = join(dir, 'reviews.csv');
    const good = ['wonderful', 'great', 'excellent', 'lovely', 'superb', 'delightful'];
    const bad = ['awful', 'terrible', 'boring', 'dreadful', 'poor', 'dull'];
    before(() => {
      const rows = ['text,label,domain'];
      for (const domain of ['movies', 'books'])
        for (let i = 0; i < (domain === 'movies' ? 18 : 12); i++) {
          const word = (i % 2 ? bad : good)[i % 6];
          rows.push(`"a ${word} ${domain === 'movies' ? 'film' : 'novel'}, ${word} indeed",${i % 2 ? 'neg' : 'pos'},${domain}`);
        }
      writeFileSync(table, rows.join('\n'));
    });

    it('train, eval and adapt keep the selected rows only', () => {
      const out = join(dir, 'movies');
      const r = graft('train', '--base', 'use-lite', '--scratch', '--data', table, '--where', 'domain=movies', '--out', out, '--json');
      assert.equal(r.code, 0, r.stderr);
      const counts = (r.json as { counts: { train: number; val: number; test: number } }).counts;
      assert.equal(counts.train + counts.val + counts.test, 18);
      const e = graft('eval', '--model', out, '--data', table, '--where', 'domain=books', '--split', 'all', '--json');
      assert.equal(e.code, 0, e.stderr);
      assert.equal((e.json as { metrics: { n: number } }).metrics.n, 12);
      const a = graft(
        'adapt',
        ...[
          '--base',
          'use-lite',
          '--source',
          table,
          '--source-where',
          'domain=movies',
          '--target',
          table,
          '--target-where',
          'domain=books',
        ],
        ...['--eval-target', table, '--eval-where', 'domain=books', '--method', 'coral', '--epochs', '2', '--json'],
      );
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout + a.stderr, /source \d+ train \/ \d+ val \/ \d+ test texts, target 12 texts/);
      const accuracy = (a.json as { target: { accuracy: number } }).target.accuracy;
      assert.ok(Math.abs(accuracy * 12 - Math.round(accuracy * 12)) < 1e-9, `scored on the 12 book reviews: ${accuracy}`);
    });

    it('names the columns that exist; --eval-where needs --eval-target', () => {
      const r = graft('train', '--base', 'use-lite', '--scratch', '--data', table, '--where', 'genre=x', '--out', join(dir, 'no'));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error: .*no column "genre" \(columns: domain, label\)$/m);
      const a = graft(
        'adapt',
        '--base',
        'use-lite',
        '--source',
        table,
        '--target',
        table,
        '--method',
        'coral',
        '--eval-where',
        'domain=books',
      );
      assert.equal(a.code, 2);
      assert.match(a.stderr, /^error: --eval-where selects rows of --eval-target/m);
    });
  });
});

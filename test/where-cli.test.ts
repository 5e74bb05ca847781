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
});

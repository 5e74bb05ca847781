// graft extract on this machine: the frozen pass cut into shards, each a graft process, two at a
// time; every image's features land in the cache once, and a later graft train on the same data
// and cut computes none. A bad shard spec and an auto cut a base would rank are refused first.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeImageFolder } from '../fixtures.js';
import { extractDigits, featuresComputedByTrain, tempDir } from '../helpers.js';

describe('graft extract (local shard processes)', () => {
  const dir = tempDir('graft-extract-');
  const cache = join(dir, 'cache');
  before(async () => {
    await makeImageFolder(join(dir, 'data'), { perClass: 10, size: 28, classes: ['a', 'b', 'c'] });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills the cache in shards; train on the same data and cut then computes nothing', () => {
    const data = join(dir, 'data');
    const r = extractDigits(data, '--cache-dir', cache, '--shards', '3', '--workers', '2', '--out', join(dir, 'x1'), '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.json?.images, r.json?.computed, r.json?.cached], [30, 30, 0]);
    const again = extractDigits(data, '--cache-dir', cache, '--shards', '2', '--workers', '2', '--out', join(dir, 'x2'), '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([again.json?.computed, again.json?.cached], [0, 30], 'shards cut another way find the same features');
    assert.equal(featuresComputedByTrain(data, cache, join(dir, 'model')), 0);
  });

  it('refuses a shard that is not I/N, and data that is not there, before any shard runs', () => {
    const r = extractDigits(join(dir, 'data'), '--shard', '4/3');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --shard must be I\/N/);
    const missing = extractDigits(join(dir, 'nothing'), '--out', join(dir, 'x3'));
    assert.equal(missing.code, 2);
    assert.deepEqual(missing.stderr.trim().split('\n'), [`error: data path not found: ${join(dir, 'nothing')}`]);
  });
});

// The on-disk feature cache: exact round trips, corrupt entries turned into misses, LRU eviction
// past the size limit, stable keys, and `graft cache info/clear` end to end, all in temp dirs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { GraftError } from '../src/core/errors.js';
import { digest } from '../src/io/digest.js';
import { FeatureCache } from '../src/engine/feature-cache.js';
import { tempDir } from './helpers.js';

const D = 1280;
const ENTRY_BYTES = 40 + 4 * D; // header + payload
const vec = (seed: number) => Float32Array.from({ length: D }, (_, i) => Math.sin(seed * 1000 + i) * 1e3);

/** The entry files in a cache dir, by path. */
function entryFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((s) => /^[0-9a-f]{2}$/.test(s))
    .flatMap((s) => readdirSync(join(dir, s)).map((n) => join(dir, s, n)));
}

/** Where an entry lives: the sha256 of its key, under a subdirectory named by its first two digits. */
function entryPath(dir: string, key: string): string {
  const name = createHash('sha256').update(key).digest('hex');
  return join(dir, name.slice(0, 2), name);
}

/** The one file a cache holding a single entry has. */
function onlyFile(dir: string): string {
  const files = entryFiles(dir);
  assert.equal(files.length, 1, files.join(', '));
  return files[0];
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('FeatureCache', () => {
  it('round-trips exact values, in order, with misses as undefined', async () => {
    const cache = new FeatureCache({ dir: tempDir() });
    const special = vec(1);
    special.set([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38], 0);
    await cache.putMany([
      { key: 'a', value: special },
      { key: 'b', value: vec(2) },
    ]);
    // A view with an offset into a larger buffer stores only its own elements.
    await cache.put('c', new Float32Array(vec(3).buffer, 8, 10));
    const [a, missing, b, c] = await cache.getMany(['a', 'nope', 'b', 'c']);
    assert.ok(a && b && c);
    assert.ok(bytesOf(a).equals(bytesOf(special)), 'bit-exact, NaN and -0 included');
    assert.deepEqual(b, vec(2));
    assert.deepEqual(c, vec(3).subarray(2, 12));
    assert.equal(missing, undefined);
    assert.equal(await cache.get('never put'), undefined);
    // Values come back as their own copies.
    a[0] = 42;
    assert.ok(Number.isNaN((await cache.get('a'))![0]));
    assert.deepEqual(await cache.info(), { dir: cache.dir, entries: 3, bytes: 2 * ENTRY_BYTES + 40 + 40, maxBytes: cache.maxBytes });
  });

  it('overwrites, and repeated keys in one putMany leave one whole entry and no temporary files', async () => {
    const dir = tempDir();
    const cache = new FeatureCache({ dir });
    await cache.putMany([
      { key: 'k', value: vec(1) },
      { key: 'k', value: vec(2) },
      { key: 'k', value: vec(3) },
    ]);
    const got = await cache.get('k');
    assert.ok(got && [1, 2, 3].some((s) => got[5] === vec(s)[5]));
    await cache.put('k', vec(4));
    assert.deepEqual(await cache.get('k'), vec(4));
    assert.equal(onlyFile(dir), entryPath(dir, 'k'));
  });

  it('treats a truncated entry as a miss, removes it, and takes a new value', async () => {
    const dir = tempDir();
    const cache = new FeatureCache({ dir });
    await cache.put('t', vec(1));
    const file = onlyFile(dir);
    truncateSync(file, ENTRY_BYTES - 7);
    assert.equal(await cache.get('t'), undefined);
    assert.equal(existsSync(file), false, 'corrupt entry removed');
    await cache.put('t', vec(2));
    assert.deepEqual(await cache.get('t'), vec(2));
    // An empty file, as a crash before the data reached the disk could leave.
    writeFileSync(file, '');
    assert.deepEqual(await cache.getMany(['t']), [undefined]);
    assert.equal(existsSync(file), false);
  });

  it('treats a flipped payload or header byte as a miss and removes the entry', async () => {
    const dir = tempDir();
    const cache = new FeatureCache({ dir });
    for (const offset of [40 + 2000, 40 + 4 * D - 1, 0, 5, 20]) {
      await cache.put('f', vec(offset));
      const file = onlyFile(dir);
      const buf = readFileSync(file);
      buf[offset] ^= 0x10;
      writeFileSync(file, buf);
      assert.equal(await cache.get('f'), undefined, `byte ${offset} flipped`);
      assert.equal(existsSync(file), false);
    }
    await cache.put('f', vec(9));
    assert.deepEqual(await cache.get('f'), vec(9));
  });

  it('evicts the least recently used entries past the size limit; a read counts as a use', async () => {
    const dir = tempDir();
    const maxBytes = 3.5 * ENTRY_BYTES; // room for 3 entries
    // Presence without reading, which would count as a use.
    const present = (...keys: string[]) => keys.filter((k) => existsSync(entryPath(dir, k)));
    const first = new FeatureCache({ dir, maxBytes });
    for (const k of ['A', 'B', 'C']) {
      await first.put(k, vec(k.charCodeAt(0)));
      await sleep(15); // distinct mtimes
    }
    assert.deepEqual(present('A', 'B', 'C'), ['A', 'B', 'C'], 'under the limit nothing goes');
    // A new instance (another process) has no running total yet: its first put scans.
    const cache = new FeatureCache({ dir, maxBytes });
    assert.ok(await cache.get('A'), 'A read: now the most recently used');
    await sleep(15);
    await cache.put('D', vec(4));
    assert.deepEqual(present('A', 'B', 'C', 'D'), ['A', 'C', 'D'], 'B, the least recently used, went');
    // Reading C saves it; E overflows on the running total and A, read before D was put, goes.
    await sleep(15);
    assert.ok(await cache.get('C'));
    await sleep(15);
    await cache.put('E', vec(5));
    assert.deepEqual(present('A', 'C', 'D', 'E'), ['C', 'D', 'E']);
    const info = await cache.info();
    assert.ok(info.bytes <= maxBytes, `${info.bytes} ≤ ${maxBytes}`);
  });

  it('leaves files it did not write alone, and removes stale temporary files', async () => {
    const dir = tempDir();
    const cache = new FeatureCache({ dir });
    await cache.put('x', vec(1));
    const shard = join(dir, readdirSync(dir)[0]);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const stale = join(shard, `${'a'.repeat(64)}.tmp-1-abc`);
    writeFileSync(stale, 'half an entry');
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(stale, old, old);
    assert.equal((await cache.info()).entries, 1);
    assert.equal(existsSync(stale), false, "a crashed writer's temporary file is removed");
    assert.deepEqual(await cache.clear(), { entries: 1, bytes: ENTRY_BYTES });
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
    assert.deepEqual(await cache.info(), { dir, entries: 0, bytes: 0, maxBytes: cache.maxBytes });
    await cache.put('x', vec(2));
    assert.deepEqual(await cache.get('x'), vec(2), 'usable after clear');
  });

  it('takes its defaults from GRAFT_CACHE_DIR, XDG_CACHE_HOME and GRAFT_CACHE_MAX_BYTES', () => {
    const saved = { ...process.env };
    try {
      process.env.GRAFT_CACHE_DIR = '/somewhere/cache';
      process.env.GRAFT_CACHE_MAX_BYTES = '500M';
      assert.equal(new FeatureCache().dir, '/somewhere/cache');
      assert.equal(new FeatureCache().maxBytes, 500 * 1024 ** 2);
      delete process.env.GRAFT_CACHE_DIR;
      delete process.env.GRAFT_CACHE_MAX_BYTES;
      process.env.XDG_CACHE_HOME = '/xdg';
      assert.equal(new FeatureCache().dir, join('/xdg', 'graft', 'features'));
      assert.equal(new FeatureCache().maxBytes, 2 * 1024 ** 3);
      assert.equal(new FeatureCache({ dir: '/d', maxBytes: 10 }).dir, '/d');
      process.env.GRAFT_CACHE_MAX_BYTES = 'lots';
      assert.throws(
        () => new FeatureCache(),
        (e) => e instanceof GraftError && e.exitCode === 2 && /GRAFT_CACHE_MAX_BYTES/.test(e.message),
      );
      assert.throws(() => new FeatureCache({ dir: '/d', maxBytes: 0 }), GraftError);
    } finally {
      for (const k of ['GRAFT_CACHE_DIR', 'GRAFT_CACHE_MAX_BYTES', 'XDG_CACHE_HOME']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it('refuses a cache dir that is a file, as a usage error', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    const usage = (e: unknown) => e instanceof GraftError && e.exitCode === 2 && /not a directory/.test(e.message);
    for (const dir of [file, join(file, 'sub')]) {
      const cache = new FeatureCache({ dir });
      await assert.rejects(cache.getMany(['k']), usage);
      await assert.rejects(cache.put('k', vec(1)), usage);
      await assert.rejects(cache.info(), usage);
    }
    assert.equal(readFileSync(file, 'utf8'), 'x');
  });
});

describe('digest', () => {
  it('is stable: the same parts give the same hex digest, in any process', () => {
    const parts = ['mobilenet_v2', 'block_16_project', 224, new Float32Array([0.5, 0.25, 1])] as const;
    assert.equal(digest(...parts), digest(...parts));
    // Pinned: changing the encoding silently invalidates every cache, so it should be deliberate.
    assert.equal(digest('a', 1, new Uint8Array([1, 2, 3])), '545afc10e65cf6f510538c486f3ad77296362bf1e16a4e1251836c62de9af15e');
    assert.match(digest(), /^[0-9a-f]{64}$/);
  });

  it('changes with any part, its boundaries and its kind, and follows bytes, not views', () => {
    const seen = new Set([
      digest('ab', 'c'),
      digest('a', 'bc'),
      digest('abc'),
      digest('1'),
      digest(1),
      digest(1.0000001),
      digest(-0),
      digest(0),
      digest(new Float32Array([1, 2])),
      digest(new Float32Array([1, 2.0000002])),
      digest(new Float32Array([2, 1])),
      digest('ab', 'c', ''),
    ]);
    assert.equal(seen.size, 12);
    const bytes = new Uint8Array([9, 8, 7, 6]);
    assert.equal(digest(Buffer.from(bytes)), digest(bytes), 'a Buffer and a Uint8Array of the same bytes agree');
    const big = new Uint8Array([0, 9, 8, 7, 6, 0]);
    assert.equal(digest(big.subarray(1, 5)), digest(bytes), "only the view's own bytes count");
  });
});

describe('graft cache', () => {
  const BIN = fileURLToPath(new URL('../bin/graft.js', import.meta.url));
  // Asynchronous, so the error cases can run side by side: each start of the CLI takes most of a second.
  const graft = async (env: Record<string, string>, ...args: string[]) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'close')) as [number | null];
    const last = stdout.trim().split('\n').pop() ?? '';
    return { code, stdout, stderr, json: last.startsWith('{') ? JSON.parse(last) : undefined };
  };

  it('info and clear report and empty the cache, from GRAFT_CACHE_DIR or --cache-dir', async () => {
    const dir = tempDir();
    await new FeatureCache({ dir }).putMany([1, 2, 3].map((i) => ({ key: digest(i), value: vec(i) })));
    const info = await graft({ GRAFT_CACHE_DIR: dir, GRAFT_CACHE_MAX_BYTES: '1G' }, 'cache', 'info', '--json');
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual(info.json, { dir, entries: 3, bytes: 3 * ENTRY_BYTES, maxBytes: 1024 ** 3 });
    assert.match(info.stdout, /3 entries, 15\.1 KiB \(limit 1\.0 GiB\)/);
    const clear = await graft({}, 'cache', 'clear', '--cache-dir', dir, '--json');
    assert.equal(clear.code, 0, clear.stderr);
    assert.deepEqual(clear.json, { dir, entries: 3, bytes: 3 * ENTRY_BYTES });
    assert.match(clear.stdout, /removed 3 entries/);
    assert.deepEqual(entryFiles(dir), []);
    assert.ok(statSync(dir).isDirectory(), 'the dir itself stays');
  });

  it('fails with one error line and exit 2: a --cache-dir that is a file, no subcommand', async () => {
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    const cases = [
      [['cache', 'info', '--cache-dir', file, '--json'], /not a directory/],
      [['cache', 'clear', '--cache-dir', file], /not a directory/],
      [['cache'], /missing cache command/],
    ] as const;
    const runs = await Promise.all(cases.map(([args]) => graft({}, ...args)));
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i][0].join(' ')}: exit code (stderr: ${r.stderr})`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], cases[i][1]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stdout, '');
    });
    assert.equal(readFileSync(file, 'utf8'), 'x', 'clear leaves a file given as --cache-dir alone');
  });
});

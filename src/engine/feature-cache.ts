// A persistent on-disk cache of frozen-trunk features: a second `graft train` on the same data
// (another head, learning rate or seed) reads them back instead of running the trunk again.
//
// Own format rather than cacache (npm's content-addressable cache, measured here: ~0.2 s per
// 1,000 gets, fast enough). It has no size limit or LRU, and keeps two files per entry (an
// append-only index bucket and the content), so removing an entry leaves its index behind until a
// full verify(). That is 20 dependencies and the eviction still to write. One file per entry is
// enough. Each file is:
//   bytes 0-3    magic "GFC1" (a format change fails this check, so old entries count as corrupt)
//   bytes 4-7    payload length in bytes, uint32 LE
//   bytes 8-39   sha256 of the payload
//   bytes 40-    the float32 payload, in host byte order (a cache is local to one machine)
// The file is named by the sha256 of its key and kept in one of 256 subdirectories (the first two
// hex digits), so no directory gets huge. Writes go to a temporary sibling and are renamed into
// place, so readers see a whole entry or none. There is no fsync: if a crash leaves a torn or empty
// file, the checksum turns it into a miss and it is computed again. Last use is the file's mtime,
// which reads update. A running byte total, from one scan, keeps `prune` free until the limit is crossed.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeDirs } from '../io/destination.js';
import { GraftError, usageError } from '../core/errors.js';

export interface FeatureCacheOptions {
  /** Default: $GRAFT_CACHE_DIR, else $XDG_CACHE_HOME/graft/features, else ~/.cache/graft/features. */
  dir?: string;
  /** Size limit in bytes; least-recently-used entries are evicted past it. Default: $GRAFT_CACHE_MAX_BYTES or 2 GiB. */
  maxBytes?: number;
}

export interface CacheInfo {
  dir: string;
  entries: number;
  bytes: number;
  maxBytes: number;
}

const MAGIC = 0x31434647; // "GFC1" read as a little-endian uint32
const HEADER = 40; // a multiple of 4, so the payload could be viewed as float32 in place
const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
// Eviction goes down to 90% of the limit, so the full scan it needs happens once per 10% of the
// limit written, not on every put once the cache is full.
const LOW_WATER = 0.9;
// Files read or written at once: parallel enough to keep libuv's threads busy, far from EMFILE.
const CONCURRENCY = 64;
// Temporary files older than this were left by a writer that crashed.
const STALE_TMP_MS = 60 * 60 * 1000;

const SHARD = /^[0-9a-f]{2}$/;
const ENTRY = /^[0-9a-f]{64}$/;

interface FileStat {
  path: string;
  size: number;
  mtimeMs: number;
}

export class FeatureCache {
  readonly dir: string;
  readonly maxBytes: number;
  /** Bytes on disk as far as this process knows: undefined until the first scan. */
  private total?: number;
  private checked?: Promise<void>;

  constructor(options: FeatureCacheOptions = {}) {
    this.dir = options.dir ?? defaultDir();
    this.maxBytes = options.maxBytes ?? defaultMaxBytes();
    if (!Number.isFinite(this.maxBytes) || this.maxBytes <= 0)
      throw usageError(`cache size limit must be a positive number of bytes, got ${this.maxBytes}`);
  }

  async getMany(keys: string[]): Promise<(Float32Array | undefined)[]> {
    await this.checkDir();
    return mapLimit(keys, CONCURRENCY, (key) => this.read(this.pathOf(key)));
  }

  async putMany(entries: { key: string; value: Float32Array }[]): Promise<void> {
    await this.checkDir();
    const sizes = await mapLimit(entries, CONCURRENCY, ({ key, value }) => this.write(this.pathOf(key), value));
    // An overwritten entry is counted twice: the total errs high, which only brings the rescan forward.
    if (this.total !== undefined) this.total += sizes.reduce((a, b) => a + b, 0);
    await this.prune();
  }

  async get(key: string): Promise<Float32Array | undefined> {
    return (await this.getMany([key]))[0];
  }

  async put(key: string, value: Float32Array): Promise<void> {
    await this.putMany([{ key, value }]);
  }

  async info(): Promise<CacheInfo> {
    const files = await this.scan();
    const bytes = files.reduce((a, f) => a + f.size, 0);
    this.total = bytes;
    return { dir: this.dir, entries: files.length, bytes, maxBytes: this.maxBytes };
  }

  /**
   * Remove every entry and stale temporary file; files graft did not write are left alone, and so
   * are fresh temporary files, whose writers (another process) are about to rename them.
   */
  async clear(): Promise<{ entries: number; bytes: number }> {
    const files = await this.scan();
    await mapLimit(files, CONCURRENCY, (f) => removeFile(f.path));
    for (const shard of await this.shards()) await rmdir(join(this.dir, shard)).catch(() => undefined); // only if now empty
    this.total = 0;
    return { entries: files.length, bytes: files.reduce((a, f) => a + f.size, 0) };
  }

  async prune(): Promise<void> {
    if (this.total !== undefined && this.total <= this.maxBytes) return;
    const files = await this.scan();
    let total = files.reduce((a, f) => a + f.size, 0);
    if (total > this.maxBytes) {
      // Oldest use first; the name breaks ties so the order is the same in every process.
      files.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1));
      const evict: FileStat[] = [];
      for (const f of files) {
        if (total <= this.maxBytes * LOW_WATER) break;
        evict.push(f);
        total -= f.size;
      }
      await mapLimit(evict, CONCURRENCY, (f) => removeFile(f.path));
    }
    this.total = total;
  }

  private pathOf(key: string): string {
    const name = createHash('sha256').update(key).digest('hex');
    return join(this.dir, name.slice(0, 2), name);
  }

  private async read(path: string): Promise<Float32Array | undefined> {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (e) {
      if (code(e) === 'ENOENT') return undefined;
      throw fsError(e, `cannot read cache entry ${path}`);
    }
    const payload = verified(buf);
    if (!payload) {
      // Torn, truncated or flipped: drop it so the caller's recomputed value takes its place.
      await removeFile(path);
      return undefined;
    }
    // Mark as recently used; if another process evicted it meanwhile, the bytes read are still good.
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
    // A copy, aligned and independent of the Buffer's memory.
    return new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
  }

  private async write(path: string, value: Float32Array): Promise<number> {
    const payload = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const buf = Buffer.allocUnsafe(HEADER + payload.length);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(payload.length, 4);
    createHash('sha256').update(payload).digest().copy(buf, 8);
    payload.copy(buf, HEADER);
    // Unique per write, so two writers of the same key (two processes, or one putMany) never share it.
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      try {
        await writeFile(tmp, buf);
      } catch (e) {
        if (code(e) !== 'ENOENT') throw e;
        // The shard (or the whole cache) does not exist yet, or was cleared meanwhile.
        await makeDirs(dirname(path));
        await writeFile(tmp, buf);
      }
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw fsError(e, `cannot write cache entry ${path}`);
    }
    return buf.length;
  }

  /** The entries on disk; temporary files left by crashed writers are removed on the way. */
  private async scan(): Promise<FileStat[]> {
    const out: FileStat[] = [];
    const now = Date.now();
    for (const shard of await this.shards()) {
      const dir = join(this.dir, shard);
      const names = await readdir(dir).catch((e) => {
        if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return [] as string[]; // cleared meanwhile, or not ours
        throw fsError(e, `cannot read cache dir ${dir}`);
      });
      const found = await mapLimit(names, CONCURRENCY, async (name): Promise<FileStat | undefined> => {
        const isTmp = name.includes('.tmp-') && ENTRY.test(name.slice(0, 64));
        if (!ENTRY.test(name) && !isTmp) return undefined;
        const path = join(dir, name);
        const s = await stat(path).catch(() => undefined); // gone meanwhile
        if (!s?.isFile()) return undefined;
        if (isTmp) {
          if (now - s.mtimeMs > STALE_TMP_MS) await removeFile(path);
          return undefined;
        }
        return { path, size: s.size, mtimeMs: s.mtimeMs };
      });
      for (const f of found) if (f) out.push(f);
    }
    return out;
  }

  private async shards(): Promise<string[]> {
    await this.checkDir();
    try {
      return (await readdir(this.dir)).filter((n) => SHARD.test(n));
    } catch (e) {
      if (code(e) === 'ENOENT') return []; // nothing cached yet
      throw fsError(e, `cannot read cache dir ${this.dir}`);
    }
  }

  /** Once per instance: a cache dir that is a file is a mistake in the options, not a miss. */
  private checkDir(): Promise<void> {
    this.checked ??= stat(this.dir).then(
      (s) => {
        if (!s.isDirectory()) throw usageError(`cache dir ${this.dir} is not a directory`);
      },
      (e) => {
        if (code(e) === 'ENOENT') return; // created by the first put
        if (code(e) === 'ENOTDIR') throw usageError(`cache dir ${this.dir} is not a directory`);
        throw fsError(e, `cannot use cache dir ${this.dir}`);
      },
    );
    return this.checked;
  }
}

/** The payload if the header and checksum agree with it, else undefined. */
function verified(buf: Buffer): Buffer | undefined {
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) return undefined;
  const length = buf.readUInt32LE(4);
  if (buf.length !== HEADER + length || length % 4 !== 0) return undefined;
  const payload = buf.subarray(HEADER);
  const sum = createHash('sha256').update(payload).digest();
  return sum.equals(buf.subarray(8, HEADER)) ? payload : undefined;
}

/** Human-readable size, in binary units: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function defaultDir(): string {
  if (process.env.GRAFT_CACHE_DIR) return process.env.GRAFT_CACHE_DIR;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg || join(homedir(), '.cache'), 'graft', 'features');
}

/** $GRAFT_CACHE_MAX_BYTES: bytes, or with a binary suffix (500M, 2G). */
function defaultMaxBytes(): number {
  const v = process.env.GRAFT_CACHE_MAX_BYTES?.trim();
  if (!v) return DEFAULT_MAX_BYTES;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(v);
  const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' ') : NaN;
  if (!(n >= 1)) throw usageError(`GRAFT_CACHE_MAX_BYTES must be a size in bytes such as 2147483648 or 2G, got '${v}'`);
  return Math.floor(n);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const removeFile = (path: string) => rm(path, { force: true }).catch(() => undefined);

const code = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;

function fsError(e: unknown, what: string): GraftError {
  if (e instanceof GraftError) return e;
  if (code(e) === 'ENOTDIR') return usageError(`${what}: a part of the path is a file, not a directory`);
  return new GraftError(`${what}: ${(e as Error).message}`);
}

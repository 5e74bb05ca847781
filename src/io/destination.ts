// Where an output goes, checked before any work starts, so a wrong --out fails in a second instead
// of after an hour of training; and mkdir -p without the loop Node's recursive mkdir falls into.
import { accessSync, constants, lstatSync, realpathSync, statfsSync, statSync, type Stats } from 'node:fs';
import { lstat, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, parse, resolve, sep } from 'node:path';
import { usageError } from '../core/errors.js';

export interface DestinationOptions {
  /** What will be written: a directory (a model) or a file (an export, a report). */
  kind: 'dir' | 'file';
  /** An existing destination may be replaced (--force). */
  force?: boolean;
  /** The destination is a directory written into, not replaced: it may exist (predict --draw, --runs, a cache). */
  into?: boolean;
  /** How messages name the path, e.g. '--out' (default: the path alone). */
  flag?: string;
}

/**
 * A directory name the atomic writers can still use: `.NAME.tmp-PID-TIME-old` must fit in a
 * file name (255 bytes on Linux, macOS and Windows), or the write fails only after the work.
 */
const MAX_NAME_BYTES = 255 - '..tmp-4194304-zzzzzzzzz-old'.length;

/**
 * Pseudo file systems: they hold the kernel's state, not files, and refuse children in ways
 * mkdir does not expect (procfs answers mkdir with ENOENT). Their statfs magic numbers
 * (linux/magic.h) catch them mounted anywhere; the paths catch them where statfs says nothing.
 */
const PSEUDO_FS_TYPES = new Set([
  0x9fa0, // proc
  0x62656572, // sysfs
  0x27e0eb, // cgroup
  0x63677270, // cgroup2
  0x64626720, // debugfs
  0x74726163, // tracefs
  0x73636673, // securityfs
]);
const PSEUDO_ROOTS = ['/proc', '/sys'];

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** lstat, or undefined where nothing is (ENOTDIR: a file stands where a directory would be). */
function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return undefined;
    throw usageError(`cannot reach ${path}: ${code(e) ?? (e as Error).message}`);
  }
}

function isPseudo(dir: string): boolean {
  const real = realpathSync(dir);
  if (PSEUDO_ROOTS.some((r) => real === r || real.startsWith(r + sep))) return true;
  try {
    return PSEUDO_FS_TYPES.has(Number(statfsSync(dir).type));
  } catch {
    return false;
  }
}

/** `dir` (which exists) must be a directory a new entry can be made in. */
function checkParent(dir: string, name: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    throw usageError(`${name}: ${dir} is a broken link`);
  }
  if (!st.isDirectory()) throw usageError(`${name}: ${dir} is a file, not a directory`);
  if (isPseudo(dir)) throw usageError(`${name}: ${dir} is a kernel file system, not a place for outputs`);
  try {
    // W for the new entry, X to reach it. Root passes this check anywhere but on a read-only mount.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw usageError(`${name}: cannot write in ${dir} (${code(e) === 'EROFS' ? 'read-only file system' : 'permission denied'})`);
  }
}

/**
 * Refuses, as a usage error naming the path, a destination that could only fail once the work is
 * done: an empty name or one with a NUL byte, a name too long for the temporary sibling, a path
 * below a regular file or a broken link, a directory that cannot be written in, a kernel file
 * system (/proc, /sys), an existing destination without `force` (or of the other kind, or
 * holding the working directory, even with it). Synchronous and quick: a few stat calls.
 */
export function checkDestination(path: string, o: DestinationOptions): void {
  const what = o.kind === 'dir' ? 'directory' : 'file';
  const name = o.flag ? `${o.flag} ${path}` : path;
  if (path.trim() === '') throw usageError(`${o.flag ?? 'output path'} is empty: give a ${what} name`);
  if (path.includes('\0')) throw usageError(`${o.flag ?? 'output path'} contains a NUL byte`);
  const abs = resolve(path);
  const into = o.kind === 'dir' && o.into;
  if (!into) {
    if (abs === parse(abs).root) throw usageError(`${name}: the root directory cannot be replaced; give a ${what} name`);
    if (Buffer.byteLength(basename(abs)) > MAX_NAME_BYTES)
      throw usageError(`${name}: the name is longer than ${MAX_NAME_BYTES} bytes (file names hold 255)`);
  }
  const own = lstatIfAny(abs);
  if (own) {
    const st = statIfAny(abs);
    if (!st) throw usageError(`${name} is a broken link`);
    if (into) {
      if (!st.isDirectory()) throw usageError(`${name} is a file, not a directory`);
      checkParent(abs, name);
      return;
    }
    if (!o.force) throw usageError(`${path} already exists (use --force to overwrite)`);
    if (o.kind === 'dir' && !st.isDirectory()) throw usageError(`${name} is a file, not a directory: not replaced`);
    if (o.kind === 'file' && !st.isFile())
      throw usageError(`${name} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}: not replaced`);
    const cwd = process.cwd();
    if (cwd === abs || cwd.startsWith(abs + sep)) throw usageError(`${name} holds the working directory: not replaced`);
    checkParent(dirname(abs), name);
    return;
  }
  // Up to the nearest thing that exists: it must be a directory a new entry can be made in.
  let at = dirname(abs);
  while (!lstatIfAny(at)) at = dirname(at);
  checkParent(at, name);
}

function statIfAny(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * `mkdir -p`, one level at a time, each tried once. Node's own `mkdir(dir, { recursive: true })`
 * spins forever at 100% CPU where a directory exists but refuses children with ENOENT, as procfs
 * does: mkdir /proc/x/y is ENOENT, so it steps back to /proc/x (ENOENT), then /proc (EEXIST, a
 * directory), then forward to /proc/x again, and round for ever (the same loop bun fixed in its
 * make_path). Here a level that cannot be made is an error.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ;) {
    const st = await lstat(at).catch((e: unknown) => {
      if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return undefined;
      throw e;
    });
    if (st) break;
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (e) {
      // Made meanwhile by another writer: as good as made here.
      if (code(e) === 'EEXIST' && (await stat(d)).isDirectory()) continue;
      throw e;
    }
  }
}

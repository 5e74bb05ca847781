// Outputs appear whole or not at all: everything is written into a temporary sibling, then
// renamed into place, so a crash or Ctrl-C never leaves a half-written model or report. Each
// writer checks its destination first (checkDestination), so the library refuses a path that
// could only fail, or hang in mkdir, rather than trying it.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { checkDestination, makeDirs } from './destination.js';

function tmpSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now().toString(36)}`);
}

/** Fill a temporary directory with `fill`, then move it to `out` (replacing it only with `force`). */
export async function writeDirAtomically(out: string, force: boolean, fill: (dir: string) => Promise<void>): Promise<void> {
  checkDestination(out, { kind: 'dir', force });
  await makeDirs(dirname(out));
  const tmp = tmpSibling(out);
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!existsSync(out)) {
    await rename(tmp, out);
    return;
  }
  // Replacing: the old output is moved aside and put back if the new one cannot take its place.
  const old = tmpSibling(out) + '-old';
  await rename(out, old);
  try {
    await rename(tmp, out);
  } catch (e) {
    await rename(old, out);
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await rm(old, { recursive: true, force: true }).catch(() => undefined);
}

export async function writeFileAtomically(path: string, content: string | Uint8Array, force = true): Promise<void> {
  checkDestination(path, { kind: 'file', force });
  await makeDirs(dirname(path));
  const tmp = tmpSibling(path);
  try {
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Several files that belong together (a model and its sidecar): all are written to temporary
 * siblings first, then renamed in turn; if a rename fails, the ones already moved are put back.
 */
export async function writeFilesAtomically(files: { path: string; content: string | Uint8Array }[], force: boolean): Promise<void> {
  for (const f of files) checkDestination(f.path, { kind: 'file', force });
  const staged: { path: string; tmp: string; old?: string }[] = [];
  try {
    for (const f of files) {
      await makeDirs(dirname(f.path));
      const tmp = tmpSibling(f.path);
      staged.push({ path: f.path, tmp });
      await writeFile(tmp, f.content);
    }
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw e;
  }
  const moved: typeof staged = [];
  try {
    for (const s of staged) {
      if (existsSync(s.path)) {
        s.old = `${tmpSibling(s.path)}-old`;
        await rename(s.path, s.old);
      }
      await rename(s.tmp, s.path);
      moved.push(s);
    }
  } catch (e) {
    for (const s of staged) {
      if (moved.includes(s)) await rm(s.path, { force: true });
      else await rm(s.tmp, { force: true });
      if (s.old) await rename(s.old, s.path).catch(() => undefined);
    }
    throw e;
  }
  await Promise.all(staged.map((s) => (s.old ? rm(s.old, { force: true }) : undefined)));
}

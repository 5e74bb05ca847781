// Image folders in the layout of Keras' image_dataset_from_directory and torchvision's ImageFolder:
// root/<class>/**/<image>, class names sorted, optionally pre-split as root/{train,val,test}/<class>/.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { usageError } from '../core/errors.js';
import { decodeFiles, dropEmptyClasses, emptySet, type LabelledFile, Progress, settleSkips, shouldStream } from './build.js';
import { IMAGE_MEDIUM, isMediumPath, mediumNoun } from './medium.js';
import type { ImageSet, LoadedData, LoadOptions, Medium, Skipped } from './types.js';

/** Sub-folder names (lower-cased) that mark a root as already split. */
export const SPLIT_FOLDERS = {
  train: ['train'],
  val: ['val', 'valid', 'validation'],
  test: ['test'],
} as const;

// Dotfiles (.DS_Store, ._foo.jpg from macOS archives, .ipynb_checkpoints) are never data.
const hidden = (name: string) => name.startsWith('.');

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function isDir(parent: string, e: Dirent): Promise<boolean> {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  return (await stat(join(parent, e.name)).catch(() => undefined))?.isDirectory() ?? false;
}

export async function listDir(dir: string): Promise<{ dirs: string[]; files: string[] }> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !hidden(e.name));
  const dirs: string[] = [];
  const files: string[] = [];
  for (const e of entries) ((await isDir(dir, e)) ? dirs : files).push(e.name);
  return { dirs: dirs.sort(byCodePoint), files: files.sort(byCodePoint) };
}

/** Image files under `dir`, recursively (as Keras and torchvision do); other files go to `others`. */
export async function walk(
  dir: string,
  images: string[],
  others: string[],
  seen = new Set<string>(),
  medium: Medium = IMAGE_MEDIUM,
): Promise<void> {
  // Symlinked folders are followed, but a link back up the tree must not loop forever.
  const real = await realpath(dir);
  if (seen.has(real)) return;
  seen.add(real);
  const { dirs, files } = await listDir(dir);
  for (const f of files) (isMediumPath(medium, f) ? images : others).push(join(dir, f));
  for (const d of dirs) await walk(join(dir, d), images, others, seen, medium);
}

interface ClassScan {
  /** Every class sub-folder name. */
  dirs: string[];
  /** Image files per class folder that has any. */
  files: Map<string, string[]>;
  skips: Skipped[];
}

const sameName = (a: string, b: string) => a.normalize('NFC') === b.normalize('NFC');

/** List class folders of `root` (only those named in `only`, when given) and their image (or audio) files. */
async function scanClassFolders(root: string, only?: readonly string[], medium: Medium = IMAGE_MEDIUM): Promise<ClassScan> {
  const noun = mediumNoun(medium);
  const { dirs } = await listDir(root);
  const files = new Map<string, string[]>();
  const skips: Skipped[] = [];
  for (const d of dirs) {
    if (only && !only.some((c) => sameName(c, d))) continue;
    const images: string[] = [];
    const others: string[] = [];
    await walk(join(root, d), images, others, new Set(), medium);
    for (const o of others) {
      const ext = extname(o);
      skips.push({ path: o, reason: `not an ${noun} file (${ext || 'no extension'})` });
    }
    if (images.length > 0) files.set(d, images);
    else skips.push({ path: join(root, d), reason: others.length ? `no ${noun} files in class folder` : 'empty class folder' });
  }
  return { dirs, files, skips };
}

/** Class names in training order: the requested ones (which must exist), else all non-empty folders sorted. */
function chooseClasses(scan: ClassScan, root: string, opts: LoadOptions): string[] {
  if (!opts.classes) return [...scan.files.keys()];
  const found: string[] = [];
  for (const c of opts.classes) {
    const dir = scan.dirs.find((d) => sameName(c, d));
    if (!dir) throw usageError(`class "${c}" not found in ${root} (classes there: ${scan.dirs.join(', ') || 'none'})`);
    if (scan.files.has(dir)) found.push(dir);
  }
  return found;
}

function requireTwoClasses(classes: string[], root: string): void {
  if (classes.length >= 2) return;
  const which = classes.length ? ` (${classes.join(', ')})` : '';
  throw usageError(
    `${root} has ${classes.length} class folder${classes.length === 1 ? '' : 's'} with images${which}; ` +
      `need at least 2, laid out as ${join(root, '<class>', '<image>')}`,
  );
}

const labelled = (classes: string[], files: Map<string, string[]>): LabelledFile[] =>
  classes.flatMap((c, label) => (files.get(c) ?? []).map((path) => ({ path, label })));

/** Which of root's sub-folders make it pre-split, if any. */
export async function findSplitFolders(root: string): Promise<{ train: string; val?: string; test?: string } | undefined> {
  const { dirs } = await listDir(root);
  const pick = (names: readonly string[]) => {
    const hits = dirs.filter((d) => names.includes(d.toLowerCase()));
    if (hits.length > 1) throw usageError(`${root} has both ${hits.join('/ and ')}/; keep one validation folder`);
    return hits.length ? join(root, hits[0]) : undefined;
  };
  const train = pick(SPLIT_FOLDERS.train);
  const val = pick(SPLIT_FOLDERS.val);
  const test = pick(SPLIT_FOLDERS.test);
  return train && (val || test) ? { train, val, test } : undefined;
}

/** One folder of class sub-folders, as a single ImageSet. */
export async function loadImageFolder(root: string, opts: LoadOptions): Promise<ImageSet> {
  const scan = await scanClassFolders(root, opts.classes, opts.medium);
  const classes = chooseClasses(scan, root, opts);
  requireTwoClasses(classes, root);
  const files = labelled(classes, scan.files);
  const skips = scan.skips;
  const decoded = await decodeFiles(files, classes, opts, new Progress(files.length, opts.callbacks), skips);
  const set = dropEmptyClasses(decoded, (c) => join(root, c), skips);
  settleSkips(skips, opts, root);
  requireTwoClasses(set.classes, root);
  return set;
}

/**
 * A pre-split root: classes come from train/ (sorted, or opts.classes); val/ and test/ are labelled
 * with train's classes, and may lack some. A val/test class folder that train/ has no images of is skipped.
 */
export async function loadSplitFolders(
  root: string,
  dirs: { train: string; val?: string; test?: string },
  opts: LoadOptions,
): Promise<Extract<LoadedData, { kind: 'presplit' }>> {
  const trainScan = await scanClassFolders(dirs.train, opts.classes, opts.medium);
  const trainClasses = chooseClasses(trainScan, dirs.train, opts);
  requireTwoClasses(trainClasses, dirs.train);
  const others = await Promise.all(
    [dirs.val, dirs.test].map(async (dir) =>
      dir ? { dir, scan: await scanClassFolders(dir, opts.classes ?? trainClasses, opts.medium) } : undefined,
    ),
  );
  const skips = [trainScan.skips, ...others.map((o) => o?.scan.skips ?? [])].flat();
  // Other class folders in val/test (not in train) are reported, not silently dropped.
  for (const o of others) {
    if (!o) continue;
    const { dirs: all } = await listDir(o.dir);
    for (const d of all) {
      if (!opts.classes && !trainClasses.includes(d)) skips.push({ path: join(o.dir, d), reason: 'class not in train/' });
    }
  }

  const trainFiles = labelled(trainClasses, trainScan.files);
  const total = trainFiles.length + others.reduce((n, o) => n + (o ? labelled(trainClasses, o.scan.files).length : 0), 0);
  const progress = new Progress(total, opts.callbacks);
  // One decision for every split, so train, val and test are all streamed or all in memory.
  opts = { ...opts, stream: shouldStream(total, opts) };
  const decoded = await decodeFiles(trainFiles, trainClasses, opts, progress, skips);
  const train = dropEmptyClasses(decoded, (c) => join(dirs.train, c), skips);

  const held: (ImageSet | undefined)[] = [];
  for (const o of others) {
    if (!o) {
      held.push(undefined);
      continue;
    }
    for (const c of trainClasses) {
      if (!train.classes.includes(c) && o.scan.files.has(c))
        skips.push({ path: join(o.dir, c), reason: 'class has no usable images in train/' });
    }
    const all = labelled(trainClasses, o.scan.files);
    const files = all
      .filter((f) => train.classes.includes(trainClasses[f.label]))
      .map((f) => ({ path: f.path, label: train.classes.indexOf(trainClasses[f.label]) }));
    for (let i = files.length; i < all.length; i++) progress.tick();
    held.push(files.length ? await decodeFiles(files, train.classes, opts, progress, skips) : emptySet(train.classes, opts.size));
  }
  const [val, test] = held;
  settleSkips(skips, opts, root);
  requireTwoClasses(train.classes, dirs.train);
  return { kind: 'presplit', train, val, test };
}

/** A folder spec: pre-split when it holds train/ plus val/ or test/, otherwise one set of class folders. */
export async function loadFolder(root: string, opts: LoadOptions): Promise<LoadedData> {
  const split = await findSplitFolders(root);
  if (split) return loadSplitFolders(root, split, opts);
  return { kind: 'set', set: await loadImageFolder(root, opts) };
}

// A target domain's images, labelled or not. Domain adaptation reads target images without their
// labels, so an unlabelled target is just images: a folder of image files (no class
// sub-folders) or a manifest without a label column. Labelled data (class folders, pre-split
// folders, manifests with labels, built-in sets) loads as usual, its classes ordered as the
// source's so a label means the same class in both domains.
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { usageError } from '../core/errors.js';
import { decodeFiles, Progress, settleSkips } from './build.js';
import { IMAGE_MEDIUM, isMediumPath } from './medium.js';
import { isManifestPath, readManifest } from './manifest.js';
import { concat } from './split.js';
import type { ImageSet, LoadOptions, Skipped } from './types.js';
import { loadData } from './index.js';

/** Label of an image that has none. */
export const UNLABELLED = -1;

export interface TargetSet {
  set: ImageSet;
  /** Whether `set.labels` are real labels (else every one is UNLABELLED). */
  labelled: boolean;
}

async function unlabelledFiles(paths: string[], where: string, opts: LoadOptions): Promise<ImageSet> {
  const skips: Skipped[] = [];
  const files = paths.map((path) => ({ path, label: UNLABELLED }));
  const set = await decodeFiles(files, [], opts, new Progress(files.length, opts.callbacks), skips);
  settleSkips(skips, opts, where);
  if (!set.labels.length) throw usageError(`${where}: no usable ${(opts.medium ?? IMAGE_MEDIUM).kind} files`);
  return set;
}

/**
 * Load `spec` as target-domain images. `opts.classes` should be the source's classes: labelled
 * data then uses the same class indices (and may lack some classes).
 */
export async function loadTarget(spec: string, opts: LoadOptions): Promise<TargetSet> {
  const info = await stat(spec).catch(() => undefined);
  if (info?.isDirectory()) {
    const entries = await readdir(spec, { withFileTypes: true });
    const images = entries
      .filter((e) => e.isFile() && isMediumPath(opts.medium ?? IMAGE_MEDIUM, e.name))
      .map((e) => join(spec, e.name))
      .sort();
    const folders = entries.filter((e) => e.isDirectory());
    if (images.length && !folders.length) return { set: await unlabelledFiles(images, spec, opts), labelled: false };
  }
  if (info?.isFile() && isManifestPath(spec)) {
    const rows = await readManifest(spec, { unlabelled: true, where: opts.where });
    if (rows.every((r) => !r.label)) {
      const base = dirname(spec);
      const paths = rows.filter((r) => r.path).map((r) => (isAbsolute(r.path) ? r.path : join(base, r.path)));
      return { set: await unlabelledFiles(paths, spec, opts), labelled: false };
    }
  }
  const data = await loadData(spec, opts);
  const set = data.kind === 'set' ? data.set : concat(...[data.train, data.val, data.test].filter((s): s is ImageSet => s !== undefined));
  return { set: inClassOrder(set, opts.classes ?? set.classes, spec), labelled: true };
}

/** Labels re-indexed by class name into `classes`: a loader drops classes it found no images of, which shifts the indices after them. */
function inClassOrder(set: ImageSet, classes: string[], spec: string): ImageSet {
  const index = new Map(classes.map((c, i) => [c, i]));
  const unknown = set.classes.filter((c) => !index.has(c));
  if (unknown.length) throw usageError(`${spec}: classes ${unknown.join(', ')} are not among the source's (${classes.join(', ')})`);
  return { ...set, classes, labels: Int32Array.from(set.labels, (y) => index.get(set.classes[y])!) };
}

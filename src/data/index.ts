// Entry point for data: turn a spec (`mnist`, a folder, or a manifest) into images and splits.
import { stat } from 'node:fs/promises';
import { tell } from '../core/callbacks.js';
import { usageError } from '../core/errors.js';
import { DECODING } from './build.js';
import { loadFolder } from './folder.js';
import { isManifestPath, loadManifest } from './manifest.js';
import { loadMnist } from './mnist.js';
import { loadMnistM, loadMnistRgb } from './mnist-m.js';
import { resizeSet } from './resize.js';
import { applyPerClass, DEFAULT_VAL_FRACTION, splitDataset } from './split.js';
import type { LoadedData, LoadOptions, SplitOptions, Splits } from './types.js';

export type * from './types.js';
export { decodeImageBuffer, decodeImageFile, resizePixels, IMAGE_EXTENSIONS, isImagePath, DecodeError, bytesPerImage } from './images.js';
export { loadFolder, loadImageFolder, findSplitFolders, SPLIT_FOLDERS } from './folder.js';
export { loadManifest, readManifest, isManifestPath, MANIFEST_EXTENSIONS } from './manifest.js';
export { loadMnist, parseClassFilter, MNIST_CLASSES, MNIST_SIZE } from './mnist.js';
export { splitDataset, applyPerClass, subset, concat, classCounts, DEFAULT_VAL_FRACTION, DEFAULT_TEST_FRACTION } from './split.js';

/** The spec naming the built-in digits; a folder called `mnist` needs `./mnist`. */
export const MNIST_SPEC = 'mnist';
/** The digits as RGB (gray in each channel), and MNIST-M (the digits blended over photographs, seed 0); folders so named need `./`. */
export const MNIST_RGB_SPEC = 'mnist-rgb';
export const MNIST_M_SPEC = 'mnist-m';
export { loadMnistM, loadMnistRgb, blendMnistM } from './mnist-m.js';

/** Load `spec` as it is on disk: one set to split, or sets already split into train/val/test folders. */
export async function loadData(spec: string, opts: LoadOptions): Promise<LoadedData> {
  if (spec === MNIST_SPEC) return { kind: 'set', set: await loadMnist(opts) };
  if (spec === MNIST_RGB_SPEC || spec === MNIST_M_SPEC) {
    // 28x28x3, then fitted to the base's input as mnist is (`cover` unless the base says otherwise).
    const set = spec === MNIST_M_SPEC ? await loadMnistM({ classes: opts.classes }) : await loadMnistRgb({ classes: opts.classes });
    const n = set.labels.length;
    tell(opts.callbacks, 'onProgress', DECODING, 0, n);
    const fitted = await resizeSet(set, opts.size, opts.resize ?? 'cover');
    tell(opts.callbacks, 'onProgress', DECODING, n, n);
    return { kind: 'set', set: fitted };
  }
  const info = await stat(spec).catch(() => undefined);
  if (!info) throw usageError(`data path not found: ${spec}`);
  if (info.isDirectory()) return loadFolder(spec, opts);
  if (isManifestPath(spec)) return { kind: 'set', set: await loadManifest(spec, opts) };
  throw usageError(`${spec} is not a folder, a .csv or .jsonl manifest, or a built-in set (mnist, mnist-rgb, mnist-m)`);
}

/**
 * Train/val/test from loaded data. One set: stratified seeded split. Pre-split folders, as a Keras
 * user who made train/ and val/ (or test/) folders expects:
 * - train/ + val/ + test/: used as they are.
 * - train/ + val/ only: test is val (testIsVal set). Keras users evaluate on their validation
 *   folder; halving it instead would make both halves noisier and report on images they never chose.
 * - train/ + test/ only: val is valFraction of each class of train/, like Keras' validation_split.
 * perClass trims only the training set.
 */
export function splitLoaded(data: LoadedData, opts: SplitOptions): Splits {
  if (data.kind === 'set') return splitDataset(data.set, opts);
  const trim = (s: typeof data.train) => (opts.perClass ? applyPerClass(s, opts.perClass, opts.seed) : s);
  if (data.val && data.test) return { train: trim(data.train), val: data.val, test: data.test };
  if (data.val) return { train: trim(data.train), val: data.val, test: data.val, testIsVal: true };
  if (!data.test) throw new Error('pre-split data needs val or test');
  const carved = splitDataset(data.train, { ...opts, valFraction: opts.valFraction ?? DEFAULT_VAL_FRACTION, testFraction: 0 });
  return { train: carved.train, val: carved.val, test: data.test };
}

/** loadData then splitLoaded: always train, val and test. */
export async function loadDataSplits(spec: string, opts: LoadOptions & SplitOptions): Promise<Splits> {
  return splitLoaded(await loadData(spec, opts), opts);
}

// Shared by the folder and manifest loaders: decode a list of labelled files into one ImageSet,
// a few at a time, gathering the files that could not be used.
import { readFile } from 'node:fs/promises';
import { tell, type Callback } from '../core/callbacks.js';
import { GraftError } from '../core/errors.js';
import { digest } from '../io/digest.js';
import type { ClipFit } from './audio/clip.js';
import { bytesPerImage, DecodeError } from './images.js';
import { decodeExample, IMAGE_MEDIUM } from './medium.js';
import type { ImageSet, ImageSize, LoadOptions, Skipped } from './types.js';

export interface LabelledFile {
  path: string;
  /** Index into the class list. */
  label: number;
}

/** sharp already runs libvips on its own thread pool; a few files in flight keep it busy without piling up buffers. */
export const DECODE_CONCURRENCY = 4;

/** Run `fn` over `items` with at most `limit` in flight, in input order of start. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** What decoding progress is called in onProgress. */
export const DECODING = 'decoding images';

/** Progress shared by several decode passes (e.g. train/ then val/), so the total covers them all. */
export class Progress {
  private done = 0;
  constructor(
    readonly total: number,
    private readonly callbacks?: readonly Callback[],
  ) {
    tell(callbacks, 'onProgress', DECODING, 0, total);
  }
  tick(): void {
    this.done++;
    tell(this.callbacks, 'onProgress', DECODING, this.done, this.total);
  }
}

export const emptySet = (classes: string[], size: ImageSize): ImageSet => ({
  classes,
  size,
  pixels: new Uint8Array(0),
  labels: new Int32Array(0),
  ids: [],
});

/** Decoded sets larger than this are streamed unless the caller says otherwise ($GRAFT_STREAM_ABOVE_BYTES). */
export const STREAM_ABOVE_BYTES = process.env.GRAFT_STREAM_ABOVE_BYTES ? Number(process.env.GRAFT_STREAM_ABOVE_BYTES) : 2 * 1024 ** 3;

/** Whether `count` images of `size` are streamed: the caller's choice, else by their decoded size. */
export const shouldStream = (count: number, opts: Pick<LoadOptions, 'size' | 'stream' | 'medium'>): boolean =>
  // Spectrograms are a few kilobytes each and costly to recompute: audio is always held in memory.
  opts.medium?.kind === 'audio' ? false : (opts.stream ?? count * bytesPerImage(opts.size) > STREAM_ABOVE_BYTES);

/** Decode `files`; the ones that fail are appended to `skips` rather than thrown. */
export async function decodeFiles(
  files: readonly LabelledFile[],
  classes: string[],
  opts: LoadOptions,
  progress: Progress,
  skips: Skipped[],
): Promise<ImageSet> {
  const bpi = bytesPerImage(opts.size);
  const stream = shouldStream(files.length, opts);
  // Streamed: every file is still decoded once, so unusable ones are skipped as usual, but only
  // its digest is kept; the pixels are read again batch by batch.
  const pixels = new Uint8Array(stream ? 0 : files.length * bpi);
  const digests: string[] = new Array(files.length);
  const ok = new Uint8Array(files.length);
  const fits = new Map<ClipFit, number>();
  await forEachLimit(files, DECODE_CONCURRENCY, async (file, i) => {
    try {
      const buf = await readFile(file.path);
      const decoded = await decodeExample(opts.medium ?? IMAGE_MEDIUM, buf, opts, file.path);
      if (decoded.fit) fits.set(decoded.fit, (fits.get(decoded.fit) ?? 0) + 1);
      if (stream) digests[i] = digest(buf);
      else pixels.set(decoded.pixels, i * bpi);
      ok[i] = 1;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = err instanceof DecodeError ? err.reason : code === 'ENOENT' ? 'file not found' : (code ?? String(err));
      skips.push({ path: file.path, reason });
    }
    progress.tick();
  });
  if (opts.medium?.kind === 'audio' && fits.size) {
    const seconds = opts.medium.spec.clipSamples / opts.medium.spec.sampleRate;
    const counts = (['padded', 'cropped', 'exact'] as const).filter((f) => fits.has(f)).map((f) => `${fits.get(f)} ${f}`);
    tell(
      opts.callbacks,
      'onStep',
      `recordings fitted to the base's ${seconds} s window: ${counts.join(', ')} (padded with silence around them; cropped to their loudest ${seconds} s)`,
    );
  }
  // Compact in place so a few bad files do not cost a second copy of the whole set.
  let n = 0;
  const labels: number[] = [];
  const ids: string[] = [];
  const kept: string[] = [];
  files.forEach((file, i) => {
    if (!ok[i]) return;
    if (n !== i && !stream) pixels.copyWithin(n * bpi, i * bpi, (i + 1) * bpi);
    labels.push(file.label);
    ids.push(file.path);
    kept.push(digests[i]);
    n++;
  });
  const set: ImageSet = {
    classes,
    size: opts.size,
    pixels: pixels.subarray(0, stream ? 0 : n * bpi),
    labels: Int32Array.from(labels),
    ids,
  };
  return stream ? { ...set, stream: { resize: opts.resize ?? 'cover', digests: kept } } : set;
}

/** Drop classes with no images (relabelling the rest), reporting each dropped one. */
export function dropEmptyClasses(set: ImageSet, where: (cls: string) => string, skips: Skipped[]): ImageSet {
  const counts = new Array<number>(set.classes.length).fill(0);
  for (const l of set.labels) counts[l]++;
  if (counts.every((c) => c > 0)) return set;
  const remap = new Int32Array(set.classes.length).fill(-1);
  const classes: string[] = [];
  set.classes.forEach((cls, i) => {
    if (counts[i] > 0) {
      remap[i] = classes.length;
      classes.push(cls);
    } else {
      skips.push({ path: where(cls), reason: 'no usable images; class dropped' });
    }
  });
  return { ...set, classes, labels: set.labels.map((l) => remap[l]) };
}

/** Strict: one error naming every unusable file. Otherwise report each, in a stable order. */
export function settleSkips(skips: Skipped[], opts: LoadOptions, where: string): void {
  if (skips.length === 0) return;
  const sorted = [...skips].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (opts.strict) {
    // One line, as every CLI error is; a long list is still greppable.
    const list = sorted.map((s) => `${s.path} (${s.reason})`).join(', ');
    throw new GraftError(`${sorted.length} unusable file${sorted.length === 1 ? '' : 's'} in ${where} (strict mode): ${list}`, 1);
  }
  for (const s of sorted) tell(opts.callbacks, 'onSkip', s);
}

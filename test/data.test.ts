import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { GraftError } from '../src/core/errors.js';
import { forEachLimit } from '../src/data/build.js';
import {
  applyPerClass,
  classCounts,
  concat,
  decodeImageBuffer,
  decodeImageFile,
  DecodeError,
  loadData,
  loadDataSplits,
  loadFolder,
  loadManifest,
  loadMnist,
  parseClassFilter,
  splitDataset,
  subset,
  type ImageSet,
  type ImageSize,
  type LoadOptions,
  type Skipped,
} from '../src/data/index.js';
import {
  EMPTY_CLASS,
  makeImageFolder,
  makeSplitFolder,
  makeTempDir,
  removeDir,
  noisyPixels,
  write16BitPng,
  writeExifRotatedJpeg,
  writeGrayscalePng,
  writeManifest,
  writeRgb,
  writeRgbaPng,
  writeSolid,
  type Rgb,
} from './fixtures.js';

const RGB32: ImageSize = { height: 32, width: 32, channels: 3 };

let tmp: string;
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await removeDir(tmp);
});
const dir = (name: string) => join(tmp, name);

/** Assert `fn` rejects with a GraftError of this exit code whose message matches. */
async function rejectsWith(fn: () => Promise<unknown>, exitCode: 1 | 2, message?: RegExp): Promise<GraftError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GraftError, `expected a GraftError, got ${String(caught)}`);
  assert.equal(caught.exitCode, exitCode, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

const px = (pixels: Uint8Array, size: ImageSize, x: number, y: number) => {
  const o = (y * size.width + x) * size.channels;
  return [...pixels.subarray(o, o + size.channels)];
};

const near = (actual: number[], expected: readonly number[], tol: number, what = '') =>
  assert.ok(
    actual.every((v, i) => Math.abs(v - expected[i]) <= tol),
    `${what} ${JSON.stringify(actual)} not within ${tol} of ${JSON.stringify(expected)}`,
  );

/** Mean colour of image i of a set. */
function meanColour(set: ImageSet, i: number): number[] {
  const { height, width, channels } = set.size;
  const n = height * width;
  const sums = new Array<number>(channels).fill(0);
  const base = i * n * channels;
  for (let p = 0; p < n; p++) for (let c = 0; c < channels; c++) sums[c] += set.pixels[base + p * channels + c];
  return sums.map((s) => s / n);
}

function collect(extra: Partial<LoadOptions> = {}): { opts: LoadOptions; skipped: Skipped[]; progress: [number, number][] } {
  const skipped: Skipped[] = [];
  const progress: [number, number][] = [];
  return {
    opts: {
      size: RGB32,
      callbacks: [{ onSkip: (s: Skipped) => skipped.push(s), onProgress: (_: string, d: number, t: number) => progress.push([d, t]) }],
      ...extra,
    },
    skipped,
    progress,
  };
}

describe('images: decoding one file', () => {
  it('decodes to the requested size as uint8 HWC', async () => {
    const p = dir('img/red.png');
    await writeSolid(p, [200, 30, 30], 64, 48, 1, 10);
    const out = await decodeImageFile(p, RGB32);
    assert.ok(out instanceof Uint8Array);
    assert.equal(out.length, 32 * 32 * 3);
    near(meanColour({ classes: [], size: RGB32, pixels: out, labels: new Int32Array(1), ids: [''] }, 0), [200, 30, 30], 6);
  });

  describe('resize modes on a 64x32 image: red | blue | green bands (16, 32, 16 px wide)', () => {
    let file: string;
    before(async () => {
      const [w, h] = [64, 32];
      const rgb = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) rgb[(y * w + x) * 3 + (x < 16 ? 0 : x < 48 ? 2 : 1)] = 255;
      }
      file = dir('img/bands.png');
      await writeRgb(file, rgb, w, h);
    });
    const S: ImageSize = { height: 32, width: 32, channels: 3 };

    it("'cover' (default) crops the centre, like Keras crop_to_aspect_ratio", async () => {
      const out = await decodeImageFile(file, S);
      for (const x of [0, 16, 31]) near(px(out, S, x, 16), [0, 0, 255], 2, `x=${x}`);
    });
    it("'fill' stretches", async () => {
      const out = await decodeImageFile(file, S, 'fill');
      near(px(out, S, 1, 16), [255, 0, 0], 10);
      near(px(out, S, 16, 16), [0, 0, 255], 10);
      near(px(out, S, 30, 16), [0, 255, 0], 10);
    });
    it("'contain' letterboxes with black", async () => {
      const out = await decodeImageFile(file, S, 'contain');
      for (const y of [0, 7, 24, 31]) near(px(out, S, 16, y), [0, 0, 0], 0, `y=${y}`);
      near(px(out, S, 1, 16), [255, 0, 0], 10);
      near(px(out, S, 16, 16), [0, 0, 255], 10);
      near(px(out, S, 30, 16), [0, 255, 0], 10);
    });
  });

  it('grayscale input becomes 3 equal channels', async () => {
    const p = dir('img/grey.png');
    await writeGrayscalePng(p, 100);
    assert.equal((await sharp(p).metadata()).channels, 1);
    const out = await decodeImageFile(p, { height: 8, width: 8, channels: 3 });
    assert.equal(out.length, 8 * 8 * 3);
    assert.ok(out.every((v) => v === 100));
  });

  it('RGB to 1 channel uses luminance (PIL/Keras weights)', async () => {
    const S1: ImageSize = { height: 4, width: 4, channels: 1 };
    const cases: [Rgb, number][] = [
      [[255, 0, 0], 76],
      [[0, 255, 0], 150],
      [[0, 0, 255], 29],
      [[255, 255, 255], 255],
      [[0, 0, 0], 0],
    ];
    for (const [colour, luma] of cases) {
      const p = dir(`img/luma-${colour.join('-')}.png`);
      await writeSolid(p, colour, 4, 4, 1, 0);
      const out = await decodeImageFile(p, S1);
      assert.equal(out.length, 16);
      assert.ok(
        out.every((v) => v === luma),
        `${colour} -> ${out[0]}, expected ${luma}`,
      );
    }
  });

  it('flattens alpha onto white', async () => {
    const p = dir('img/rgba.png');
    await writeRgbaPng(p);
    const S: ImageSize = { height: 2, width: 2, channels: 3 };
    const out = await decodeImageFile(p, S, 'fill');
    assert.deepEqual(px(out, S, 0, 0), [255, 255, 255]);
    assert.deepEqual(px(out, S, 1, 0), [255, 0, 0]);
    near(px(out, S, 0, 1), [127, 127, 255], 1);
    assert.deepEqual(px(out, S, 1, 1), [255, 255, 255]);
    const grey = await decodeImageFile(p, { height: 2, width: 2, channels: 1 }, 'fill');
    assert.equal(grey[0], 255);
  });

  it('reduces 16-bit PNGs to 8 bits by scaling', async () => {
    const p = dir('img/deep.png');
    await write16BitPng(p, [65535, 32896, 0]);
    assert.equal((await sharp(p).metadata()).depth, 'ushort');
    const S: ImageSize = { height: 8, width: 8, channels: 3 };
    const out = await decodeImageFile(p, S);
    near(px(out, S, 3, 3), [255, 128, 0], 1);
  });

  it('applies EXIF orientation before resizing', async () => {
    const p = dir('img/exif6.jpg');
    await writeExifRotatedJpeg(p);
    const meta = await sharp(p).metadata();
    assert.deepEqual([meta.width, meta.height, meta.orientation], [8, 4, 6]);
    // Upright it is 4x8 (portrait), so 'contain' into 16x16 pads left and right, not top and bottom.
    const S: ImageSize = { height: 16, width: 16, channels: 3 };
    const out = await decodeImageFile(p, S, 'contain');
    for (const x of [0, 3, 12, 15]) near(px(out, S, x, 8), [0, 0, 0], 0, `border x=${x}`);
    near(px(out, S, 8, 0), px(out, S, 8, 15), 40, 'no top/bottom letterbox');
    assert.ok(px(out, S, 8, 0)[0] + px(out, S, 8, 0)[2] > 150, 'image reaches the top edge');
    // Rotated clockwise: the bottom (blue) half is now on the left, the top (red) on the right.
    near(px(out, S, 5, 8), [0, 0, 255], 40, 'left');
    near(px(out, S, 10, 8), [255, 0, 0], 40, 'right');
  });

  it('decodes GIF, WebP and BMP (24-bit and 8-bit palette, bottom-up and top-down)', async () => {
    const rgb = noisyPixels(8, 8, [120, 60, 200], 3, 20);
    const S: ImageSize = { height: 8, width: 8, channels: 3 };
    for (const ext of ['webp', 'bmp', 'BMP']) {
      const p = dir(`img/same.${ext}`);
      await writeRgb(p, rgb, 8, 8);
      assert.deepEqual([...(await decodeImageFile(p, S))], [...rgb], ext);
    }
    const gif = dir('img/same.gif');
    await writeRgb(gif, rgb, 8, 8);
    near(
      meanColour({ classes: [], size: S, pixels: await decodeImageFile(gif, S), labels: new Int32Array(1), ids: [''] }, 0),
      [120, 60, 200],
      8,
    );

    // 2x2, 8-bit palette, top-down (negative height): red, green / blue, white.
    const palette = [
      [0, 0, 255],
      [0, 255, 0],
      [255, 0, 0],
      [255, 255, 255],
    ]; // stored BGR
    const bmp = Buffer.alloc(54 + 4 * 4 + 2 * 4);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(bmp.length, 2);
    bmp.writeUInt32LE(54 + 16, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(2, 18);
    bmp.writeInt32LE(-2, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(8, 28);
    bmp.writeUInt32LE(4, 46);
    palette.forEach(([b, g, r], i) => bmp.set([b, g, r, 0], 54 + i * 4));
    bmp.set([0, 1, 0, 0, 2, 3, 0, 0], 70);
    const S2: ImageSize = { height: 2, width: 2, channels: 3 };
    const out = await decodeImageBuffer(bmp, S2);
    assert.deepEqual([...out], [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
  });

  it('rejects unusable bytes with a short reason (exit 1), and a missing file with exit 2', async () => {
    const corrupt = await rejectsWith(() => decodeImageBuffer(Buffer.from('definitely not an image'), RGB32), 1);
    assert.ok(corrupt instanceof DecodeError);
    assert.equal(corrupt.reason, 'not a decodable image');
    const empty = await rejectsWith(() => decodeImageBuffer(Buffer.alloc(0), RGB32), 1);
    assert.equal((empty as DecodeError).reason, 'empty file');
    const whole = await sharp(noisyPixels(32, 32, [1, 2, 3]), { raw: { width: 32, height: 32, channels: 3 } })
      .jpeg()
      .toBuffer();
    await rejectsWith(() => decodeImageBuffer(whole.subarray(0, whole.length >> 1), RGB32), 1);
    await rejectsWith(() => decodeImageFile(dir('img/nope.png'), RGB32), 2, /image not found: .*nope\.png/);
  });
});

describe('folders: root/<class>/<image>', () => {
  it('loads classes sorted, labels, ids and learnable pixels', async () => {
    const fx = await makeImageFolder(dir('basic'), { classes: ['red', 'blue'], perClass: 6 });
    const { opts, skipped, progress } = collect();
    const data = await loadData(fx.root, opts);
    assert.equal(data.kind, 'set');
    const set = data.kind === 'set' ? data.set : assert.fail();
    assert.deepEqual(set.classes, ['blue', 'red']);
    assert.deepEqual(set.size, RGB32);
    assert.equal(set.pixels.length, 12 * 32 * 32 * 3);
    assert.deepEqual(classCounts(set), [6, 6]);
    assert.deepEqual(set.ids, [...fx.files.blue, ...fx.files.red]);
    set.ids.forEach((id, i) => {
      const cls = set.classes[set.labels[i]];
      assert.ok(id.includes(`/${cls}/`));
      near(meanColour(set, i), fx.colours[cls], 10, id);
    });
    assert.deepEqual(skipped, []);
    assert.deepEqual(progress.at(-1), [12, 12]);
    assert.deepEqual(progress[0], [0, 12]);
    assert.ok(progress.every(([d], i) => i === 0 || d === progress[i - 1][0] + 1));
  });

  it('accepts every image extension in any case, nested folders; ignores dotfiles and root files', async () => {
    const fx = await makeImageFolder(dir('exts'), { perClass: 6, extensions: ['png', 'JPG', 'jpeg', 'WebP', 'gif', 'BMP'] });
    await writeSolid(join(fx.root, 'red', 'sub', 'deeper', 'nested.PNG'), fx.colours.red);
    await writeFile(join(fx.root, 'red', '.DS_Store'), 'junk');
    await writeFile(join(fx.root, 'README.md'), '# data\n');
    await symlink(join(fx.root, 'red'), join(fx.root, 'red', 'sub', 'loop'));
    const { opts, skipped } = collect();
    const set = (await loadData(fx.root, opts)) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(classCounts(set.set), [6, 7]);
    assert.ok(set.set.ids.some((id) => id.endsWith(join('sub', 'deeper', 'nested.PNG'))));
    assert.deepEqual(skipped, []);
    set.set.ids.forEach((id, i) => near(meanColour(set.set, i), fx.colours[set.set.classes[set.set.labels[i]]], 12, id));
  });

  it('keeps class names with spaces and non-ASCII as they are', async () => {
    const names = ['with spaces', 'café au lait', 'Zebra', 'dog'];
    const fx = await makeImageFolder(dir('names'), { classes: names, perClass: 2 });
    const { opts } = collect();
    const { set } = (await loadData(fx.root, opts)) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(set.classes, ['Zebra', 'café au lait', 'dog', 'with spaces']);
    assert.deepEqual(set.classes, fx.classes);
    assert.deepEqual(classCounts(set), [2, 2, 2, 2]);
  });

  it('skips zero-byte, corrupt and non-image files and empty class folders, one onSkip each', async () => {
    const fx = await makeImageFolder(dir('bad'), { perClass: 4, bad: true });
    const { opts, skipped, progress } = collect();
    const { set } = (await loadData(fx.root, opts)) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(set.classes, ['blue', 'red']);
    assert.deepEqual(classCounts(set), [4, 4]);
    assert.deepEqual(skipped.map((s) => s.path).sort(), [...fx.bad].sort());
    const reason = (end: string) => skipped.find((s) => s.path.endsWith(end))?.reason;
    assert.equal(reason('zero-bytes.jpg'), 'empty file');
    assert.equal(reason('corrupt.jpg'), 'not a decodable image');
    assert.equal(reason('notes.txt'), 'not an image file (.txt)');
    assert.equal(reason(EMPTY_CLASS), 'empty class folder');
    // The two undecodable files were attempted; the .txt never was.
    assert.deepEqual(progress.at(-1), [10, 10]);
  });

  it('strict: one GraftError (exit 1) naming every bad file', async () => {
    const fx = await makeImageFolder(dir('strict'), { perClass: 2, bad: true });
    const { opts, skipped } = collect({ strict: true });
    const err = await rejectsWith(() => loadData(fx.root, opts), 1, /4 unusable files/);
    for (const p of fx.bad) assert.ok(err.message.includes(p), `${p} named`);
    assert.deepEqual(skipped, []);
  });

  it('drops a class whose images are all unusable, and says so', async () => {
    const fx = await makeImageFolder(dir('dropped'), { classes: ['a', 'b', 'c'], perClass: 2 });
    for (const f of fx.files.c) await writeFile(f, 'garbage');
    const { opts, skipped } = collect();
    const { set } = (await loadData(fx.root, opts)) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(set.classes, ['a', 'b']);
    assert.deepEqual([...new Set(set.labels)], [0, 1]);
    assert.equal(skipped.length, 3);
    assert.ok(skipped.some((s) => s.path === join(fx.root, 'c') && /no usable images/.test(s.reason)));
  });

  it('usage errors (exit 2): missing path, one class, no usable second class', async () => {
    await rejectsWith(() => loadData(dir('does-not-exist'), { size: RGB32 }), 2, /^data path not found: .*does-not-exist$/);
    const one = await makeImageFolder(dir('one'), { classes: ['only'], perClass: 2 });
    await rejectsWith(() => loadData(one.root, { size: RGB32 }), 2, /1 class folder with images \(only\); need at least 2/);
    const flat = dir('flat');
    await writeSolid(join(flat, 'a.png'), [1, 2, 3]);
    await rejectsWith(() => loadData(flat, { size: RGB32 }), 2, /0 class folders/);
    const broken = await makeImageFolder(dir('broken'), { classes: ['a', 'b'], perClass: 1 });
    await writeFile(broken.files.b[0], 'garbage');
    const { opts, skipped } = collect();
    await rejectsWith(() => loadData(broken.root, opts), 2, /need at least 2/);
    assert.equal(skipped.length, 2);
    await writeFile(dir('plain.txt'), 'x');
    await rejectsWith(() => loadData(dir('plain.txt'), { size: RGB32 }), 2, /not a folder/);
  });

  it('opts.classes keeps only those classes, in that order', async () => {
    const fx = await makeImageFolder(dir('filter'), { classes: ['a', 'b', 'c'], perClass: 2 });
    const { set } = (await loadData(fx.root, { size: RGB32, classes: ['c', 'a'] })) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(set.classes, ['c', 'a']);
    assert.deepEqual([...set.labels], [0, 0, 1, 1]);
    assert.ok(set.ids[0].includes('/c/'));
    await rejectsWith(() => loadData(fx.root, { size: RGB32, classes: ['a', 'x'] }), 2, /class "x" not found .*a, b, c/);
  });

  it('converts on load: grayscale folders to 1 channel', async () => {
    const fx = await makeImageFolder(dir('gray'), { perClass: 2 });
    const S: ImageSize = { height: 16, width: 16, channels: 1 };
    const { set } = (await loadData(fx.root, { size: S })) as { kind: 'set'; set: ImageSet };
    assert.equal(set.pixels.length, 4 * 16 * 16);
    // blue (40,60,220) is darker than red (220,40,40) in luminance.
    assert.ok(meanColour(set, 0)[0] < meanColour(set, 2)[0] - 20);
  });

  it('decodes at most 4 files at a time', async () => {
    let inFlight = 0;
    let peak = 0;
    await forEachLimit(
      Array.from({ length: 20 }, (_, i) => i),
      4,
      async () => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
      },
    );
    assert.equal(peak, 4);
  });
});

describe('pre-split folders: root/{train,val,test}/<class>/', () => {
  it('train/ + val/ + test/ are used as they are, with train classes', async () => {
    const fx = await makeSplitFolder(dir('pre3'), { classes: ['x', 'y'], train: 5, val: 2, test: 3 });
    const { opts, progress } = collect();
    const data = await loadFolder(dir('pre3'), opts);
    assert.equal(data.kind, 'presplit');
    if (data.kind !== 'presplit') return;
    assert.deepEqual(classCounts(data.train), [5, 5]);
    assert.deepEqual(classCounts(data.val!), [2, 2]);
    assert.deepEqual(classCounts(data.test!), [3, 3]);
    assert.deepEqual(data.test!.ids, [...fx.test!.files.x, ...fx.test!.files.y]);
    assert.deepEqual(progress.at(-1), [20, 20]);
    const splits = await loadDataSplits(dir('pre3'), { ...opts, seed: 1, perClass: 2 });
    assert.deepEqual(classCounts(splits.train), [2, 2]);
    assert.deepEqual(classCounts(splits.val), [2, 2]);
    assert.equal(splits.testIsVal, undefined);
  });

  it('train/ + val/ only: test is val (testIsVal)', async () => {
    await makeSplitFolder(dir('pre2'), { train: 4, val: 2, test: 0 });
    const splits = await loadDataSplits(dir('pre2'), { size: RGB32, seed: 3 });
    assert.equal(splits.test, splits.val);
    assert.equal(splits.testIsVal, true);
    assert.deepEqual(classCounts(splits.train), [4, 4]);
  });

  it('train/ + test/ only: val is carved from train per class, seeded', async () => {
    await makeSplitFolder(dir('pretest'), { train: 10, val: 0, test: 2 });
    const a = await loadDataSplits(dir('pretest'), { size: RGB32, seed: 5, valFraction: 0.2 });
    assert.deepEqual(classCounts(a.train), [8, 8]);
    assert.deepEqual(classCounts(a.val), [2, 2]);
    assert.deepEqual(classCounts(a.test), [2, 2]);
    assert.ok(a.val.ids.every((id) => id.includes('/train/')));
    assert.ok(a.test.ids.every((id) => id.includes('/test/')));
    const b = await loadDataSplits(dir('pretest'), { size: RGB32, seed: 5, valFraction: 0.2 });
    assert.deepEqual(a.val.ids, b.val.ids);
  });

  it('val/ may lack a class; a val/ class not in train/ is reported', async () => {
    await makeSplitFolder(dir('premix'), { classes: ['a', 'b', 'c'], train: 2, val: 1, test: 0 });
    await removeDir(join(dir('premix'), 'val', 'b'));
    await writeSolid(join(dir('premix'), 'val', 'extra', 'e.png'), [9, 9, 9]);
    const { opts, skipped } = collect();
    const data = await loadData(dir('premix'), opts);
    if (data.kind !== 'presplit') return assert.fail('expected presplit');
    assert.deepEqual(data.val!.classes, ['a', 'b', 'c']);
    assert.deepEqual(classCounts(data.val!), [1, 0, 1]);
    assert.deepEqual(skipped, [{ path: join(dir('premix'), 'val', 'extra'), reason: 'class not in train/' }]);
  });
});

describe('manifests', () => {
  let root: string;
  let fx: Awaited<ReturnType<typeof makeImageFolder>>;
  before(async () => {
    root = dir('manifest');
    fx = await makeImageFolder(join(root, 'images'), { classes: ['cat', 'dog'], perClass: 3 });
  });
  const rel = (p: string) => p.slice(root.length + 1);

  it('CSV: header required, case-insensitive, extra columns ignored, paths relative to the manifest', async () => {
    const rows = [
      ...fx.files.dog.map((p) => ({ Path: rel(p), Label: 'dog', note: 'x, "quoted"' })),
      ...fx.files.cat.slice(1).map((p) => ({ Path: rel(p), Label: 'cat', note: '' })),
      { Path: resolve(fx.files.cat[0]), Label: 'cat', note: 'absolute' },
      { Path: 'images/cat/missing.png', Label: 'cat', note: '' },
      { Path: 'images/cat/img000.png', Label: '', note: 'no label' },
    ];
    await writeManifest(join(root, 'train.csv'), rows, ['note', 'Path', 'Label']);
    const { opts, skipped } = collect();
    const { set } = (await loadData(join(root, 'train.csv'), opts)) as { kind: 'set'; set: ImageSet };
    assert.deepEqual(set.classes, ['cat', 'dog']);
    assert.deepEqual(classCounts(set), [3, 3]);
    // Manifest order is kept; relative paths are joined to the manifest's folder.
    assert.equal(set.ids[0], join(root, 'images', 'dog', 'img000.png'));
    assert.ok(set.ids.includes(resolve(fx.files.cat[0])));
    set.ids.forEach((id, i) => near(meanColour(set, i), fx.colours[set.classes[set.labels[i]]], 10, id));
    assert.deepEqual(
      skipped.map((s) => [s.path, s.reason]),
      [
        [join(root, 'images/cat/missing.png'), 'file not found'],
        [`${join(root, 'train.csv')}:9`, 'empty label'],
      ],
    );
    await rejectsWith(() => loadManifest(join(root, 'train.csv'), { size: RGB32, strict: true }), 1, /missing\.png \(file not found\)/);
  });

  it('JSONL: numeric labels sort as numbers', async () => {
    const rows = [...fx.files.cat.map((p) => ({ path: rel(p), label: 10 })), ...fx.files.dog.map((p) => ({ path: rel(p), label: 2 }))];
    await writeManifest(join(root, 'm.jsonl'), rows);
    const set = await loadManifest(join(root, 'm.jsonl'), { size: RGB32 });
    assert.deepEqual(set.classes, ['2', '10']);
    assert.deepEqual(classCounts(set), [3, 3]);
    assert.equal(set.labels[0], 1);
    assert.ok(set.ids[0].includes('/cat/'));
  });

  it('missing column or key: usage error listing what was found', async () => {
    await writeManifest(join(root, 'bad.csv'), [{ file: 'a.png', label: 'x' }], ['file', 'label']);
    await rejectsWith(() => loadData(join(root, 'bad.csv'), { size: RGB32 }), 2, /missing column path \(columns found: "file", "label"/);
    await writeFile(join(root, 'headerless.csv'), 'images/cat/img000.png,cat\nimages/dog/img000.png,dog\n');
    await rejectsWith(() => loadData(join(root, 'headerless.csv'), { size: RGB32 }), 2, /missing columns path, label/);
    await writeFile(join(root, 'bad.jsonl'), '{"path":"a.png","label":"x"}\n{"file":"b.png","label":"y"}\n');
    await rejectsWith(
      () => loadData(join(root, 'bad.jsonl'), { size: RGB32 }),
      2,
      /bad\.jsonl:2: missing key path \(keys found: file, label\)/,
    );
    await writeFile(join(root, 'broken.jsonl'), '{"path": \n');
    await rejectsWith(() => loadData(join(root, 'broken.jsonl'), { size: RGB32 }), 2, /broken\.jsonl:1: not valid JSON/);
    await writeManifest(join(root, 'one.csv'), [{ path: rel(fx.files.cat[0]), label: 'cat' }]);
    await rejectsWith(() => loadData(join(root, 'one.csv'), { size: RGB32 }), 2, /need at least 2 labels/);
  });
});

describe('mnist', () => {
  const digits = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const raw = (d: number) => (JSON.parse(readFileSync(join(digits, 'src', 'digits', `${d}.json`), 'utf8')) as { data: number[] }).data;

  it('parseClassFilter: ranges, lists, names', async () => {
    assert.deepEqual(parseClassFilter('5-9'), ['5', '6', '7', '8', '9']);
    assert.deepEqual(parseClassFilter('0,2,4'), ['0', '2', '4']);
    assert.deepEqual(parseClassFilter(' 7 , 1-3,2 '), ['7', '1', '2', '3']);
    assert.deepEqual(parseClassFilter('cat,golden-retriever'), ['cat', 'golden-retriever']);
    await rejectsWith(async () => parseClassFilter('9-5'), 2, /backwards/);
    await rejectsWith(async () => parseClassFilter('1,,2'), 2, /empty class name/);
  });

  it('filters and relabels: digits 5-9 become classes 0..4', async () => {
    const { opts, progress } = collect({ size: { height: 28, width: 28, channels: 1 }, classes: parseClassFilter('5-9') });
    const set = await loadMnist(opts);
    assert.deepEqual(set.classes, ['5', '6', '7', '8', '9']);
    const expected = [5, 6, 7, 8, 9].map((d) => raw(d).length / 784);
    assert.deepEqual(classCounts(set), expected);
    assert.equal(
      set.labels.length,
      expected.reduce((a, b) => a + b),
    );
    assert.equal(set.pixels.length, set.labels.length * 784);
    assert.equal(new Set(set.ids).size, set.ids.length);
    assert.ok(set.ids.every((id) => /^mnist:\d+$/.test(id)));
    const first5 = raw(5)
      .slice(0, 784)
      .map((v) => Math.round(v * 255));
    assert.deepEqual([...set.pixels.subarray(0, 784)], first5);
    const firstOf9 = set.labels.indexOf(4);
    assert.deepEqual(
      [...set.pixels.subarray(firstOf9 * 784, firstOf9 * 784 + 784)],
      raw(9)
        .slice(0, 784)
        .map((v) => Math.round(v * 255)),
    );
    assert.deepEqual(progress.at(-1), [set.labels.length, set.labels.length]);
  });

  it('all ten digits by default; order of the filter is kept', async () => {
    const all = await loadMnist({ size: { height: 28, width: 28, channels: 1 } });
    assert.equal(all.labels.length, 10000);
    assert.deepEqual(all.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const rev = await loadMnist({ size: { height: 28, width: 28, channels: 1 }, classes: ['3', '1'] });
    assert.deepEqual(rev.classes, ['3', '1']);
    assert.deepEqual(classCounts(rev), [raw(3).length / 784, raw(1).length / 784]);
  });

  it('resizes and converts to the base input size', async () => {
    const S: ImageSize = { height: 32, width: 32, channels: 3 };
    const { opts, progress } = collect({ size: S, classes: ['0', '1'] });
    const set = await loadMnist(opts);
    const n = set.labels.length;
    assert.equal(set.pixels.length, n * 32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p += 37) {
      const [r, g, b] = px(set.pixels, S, p % 32, Math.floor(p / 32));
      assert.ok(r === g && g === b);
    }
    // Same digit, same amount of ink: the mean brightness survives the resize.
    const before =
      raw(0)
        .slice(0, 784)
        .reduce((a, b) => a + b, 0) / 784;
    assert.ok(Math.abs(meanColour(set, 0)[0] / 255 - before) < 0.03, `${meanColour(set, 0)[0] / 255} vs ${before}`);
    assert.deepEqual(progress.at(-1), [n, n]);
    const same = await loadMnist({ size: { height: 28, width: 28, channels: 3 }, classes: ['0', '1'] });
    assert.deepEqual([...same.pixels.subarray(0, 6)], [0, 0, 0, 0, 0, 0]);
  });

  it('rejects unknown digits and single classes (exit 2); loadDataSplits splits it', async () => {
    await rejectsWith(() => loadMnist({ size: RGB32, classes: ['1', 'x'] }), 2, /not "x"/);
    await rejectsWith(() => loadData('mnist', { size: RGB32, classes: ['4'] }), 2, /at least 2/);
    const splits = await loadDataSplits('mnist', { size: { height: 28, width: 28, channels: 1 }, classes: ['0', '1'], seed: 1 });
    const total = splits.train.labels.length + splits.val.labels.length + splits.test.labels.length;
    assert.equal(total, raw(0).length / 784 + raw(1).length / 784);
    assert.deepEqual(classCounts(splits.val), [Math.round((raw(0).length / 784) * 0.15), Math.round((raw(1).length / 784) * 0.15)]);
  });
});

describe('splits', () => {
  /** In-memory set: class sizes as given, 2x2x1 pixels all equal to the image index mod 256. */
  function synthetic(sizes: number[], names = sizes.map((_, i) => `c${i}`)): ImageSet {
    const labels: number[] = [];
    sizes.forEach((n, c) => labels.push(...new Array<number>(n).fill(c)));
    const pixels = new Uint8Array(labels.length * 4);
    labels.forEach((_, i) => pixels.fill(i % 256, i * 4, i * 4 + 4));
    return {
      classes: names,
      size: { height: 2, width: 2, channels: 1 },
      pixels,
      labels: Int32Array.from(labels),
      ids: labels.map((_, i) => `img${i}`),
    };
  }
  const set = synthetic([100, 40, 7, 3, 2]);

  it('is stratified per class', () => {
    const s = splitDataset(set, { seed: 42 });
    assert.deepEqual(classCounts(s.val), [15, 6, 1, 1, 0]);
    assert.deepEqual(classCounts(s.test), [15, 6, 1, 1, 0]);
    assert.deepEqual(classCounts(s.train), [70, 28, 5, 1, 2]);
    const s2 = splitDataset(set, { seed: 42, valFraction: 0.3, testFraction: 0.1 });
    assert.deepEqual(classCounts(s2.val), [30, 12, 2, 1, 1]);
    assert.deepEqual(classCounts(s2.test), [10, 4, 1, 1, 0]);
  });

  it('partitions: no overlap, nothing lost, pixels and labels follow their ids', () => {
    const s = splitDataset(set, { seed: 7 });
    const all = [...s.train.ids, ...s.val.ids, ...s.test.ids];
    assert.equal(new Set(all).size, all.length);
    assert.deepEqual([...all].sort(), [...set.ids].sort());
    for (const part of [s.train, s.val, s.test]) {
      part.ids.forEach((id, k) => {
        const i = Number(id.slice(3));
        assert.equal(part.labels[k], set.labels[i]);
        assert.equal(part.pixels[k * 4 + 3], i % 256);
      });
    }
  });

  it('is deterministic by seed', () => {
    const a = splitDataset(set, { seed: 1 });
    const b = splitDataset(set, { seed: 1 });
    const c = splitDataset(set, { seed: 2 });
    assert.deepEqual(a.val.ids, b.val.ids);
    assert.deepEqual(a.test.ids, b.test.ids);
    assert.deepEqual(a.train.ids, b.train.ids);
    assert.notDeepEqual(a.val.ids, c.val.ids);
  });

  it("a class's split does not depend on the other classes", () => {
    const more = synthetic([100, 40, 50], ['c0', 'c1', 'new']);
    const a = splitDataset(set, { seed: 9 });
    const b = splitDataset(more, { seed: 9 });
    const firstClass = (s: ImageSet) => s.ids.filter((_, k) => s.labels[k] === 0);
    assert.deepEqual(firstClass(a.val), firstClass(b.val));
  });

  it('perClass trims only train, from the same shuffled order', () => {
    const full = splitDataset(set, { seed: 5 });
    const few = splitDataset(set, { seed: 5, perClass: 10 });
    assert.deepEqual(classCounts(few.train), [10, 10, 5, 1, 2]);
    assert.deepEqual(few.val.ids, full.val.ids);
    assert.deepEqual(few.test.ids, full.test.ids);
    assert.ok(few.train.ids.every((id) => full.train.ids.includes(id)));
  });

  it('rejects impossible options (exit 2)', async () => {
    await rejectsWith(async () => splitDataset(set, { seed: 1, valFraction: 0.6, testFraction: 0.4 }), 2, /nothing to train/);
    await rejectsWith(async () => splitDataset(set, { seed: 1, valFraction: -0.1 }), 2, /fraction/);
    await rejectsWith(async () => splitDataset(set, { seed: 1, perClass: 0 }), 2, /positive integer/);
  });

  it('applyPerClass, subset and concat', () => {
    const a = applyPerClass(set, 5, 3);
    assert.deepEqual(classCounts(a), [5, 5, 5, 3, 2]);
    assert.deepEqual(applyPerClass(set, 5, 3).ids, a.ids);
    assert.notDeepEqual(applyPerClass(set, 5, 4).ids, a.ids);
    const sub = subset(set, [5, 1]);
    assert.deepEqual(sub.ids, ['img5', 'img1']);
    assert.deepEqual([...sub.pixels], [5, 5, 5, 5, 1, 1, 1, 1]);
    const both = concat(sub, subset(set, [120]));
    assert.deepEqual(both.ids, ['img5', 'img1', 'img120']);
    assert.deepEqual([...both.labels], [0, 0, 1]);
    assert.equal(both.pixels[8], 120);
    assert.throws(() => concat(sub, synthetic([1, 1])), /different classes/);
  });
});

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { GraftError } from '../src/core/errors.js';
import {
  letterbox,
  placeBox,
  placeObjects,
  randomPlacement,
  unplaceBox,
  type Placement,
  type Size,
} from '../src/data/detection/geometry.js';
import { placeSet } from '../src/data/detection/placed.js';
import { colourFor, drawBoxes, renderPlaced, TRUTH_COLOUR } from '../src/data/detection/render.js';
import type { Box, GroundTruth } from '../src/data/detection/types.js';
import { DecodeError } from '../src/data/images.js';
import { mulberry32 } from '../src/math/random.js';
import { tempDir } from './helpers.js';

const SRC: Size = { width: 300, height: 200 };
const RECT: Box = [60, 40, 90, 70];
const CANVAS: Size = { width: 192, height: 160 };

/** A black w x h RGB image with white rectangles. */
function blackWithWhite(size: Size, rects: Box[]): Buffer {
  const px = Buffer.alloc(size.width * size.height * 3);
  for (const [x, y, w, h] of rects) {
    for (let r = y; r < y + h; r++) px.fill(255, (r * size.width + x) * 3, (r * size.width + x + w) * 3);
  }
  return px;
}

/** The smallest box holding every pixel brighter than mid-grey (first channel), or undefined. */
function brightBox(pixels: Uint8Array, size: Size, channels: number): { box: Box; count: number } | undefined {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  let count = 0;
  for (let y = 0; y < size.height; y++) {
    for (let x = 0; x < size.width; x++) {
      if (pixels[(y * size.width + x) * channels] < 128) continue;
      count++;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x + 1);
      y1 = Math.max(y1, y + 1);
    }
  }
  return count === 0 ? undefined : { box: [x0, y0, x1 - x0, y1 - y0], count };
}

function assertBoxNear(actual: Box, expected: Box, tol: number, what: string): void {
  const edges = (b: Box) => [b[0], b[1], b[0] + b[2], b[1] + b[3]];
  const a = edges(actual);
  const e = edges(expected);
  for (let i = 0; i < 4; i++) {
    assert.ok(
      Math.abs(a[i] - e[i]) <= tol,
      `${what}: edge ${i} at ${a[i]}, expected ${e[i]} (±${tol}); got [${actual}], expected [${expected}]`,
    );
  }
}

const obj = (box: Box, label = 0, ignore = false): GroundTruth => ({ label, box, ignore });

describe('letterbox', () => {
  it('fits a wide image to the canvas width and centres it vertically', () => {
    const p = letterbox({ width: 300, height: 200 }, { width: 160, height: 160 });
    assert.equal(p.scale, 160 / 300);
    // 200 * 0.5333 = 106.67 -> 107 rows, 53 rows of padding: 26 above, 27 below.
    assert.deepEqual(
      { dx: p.dx, dy: p.dy, flip: p.flip, width: p.width, height: p.height },
      { dx: 0, dy: 26, flip: false, width: 160, height: 160 },
    );
  });

  it('fits a tall image to the canvas height and centres it horizontally', () => {
    const p = letterbox({ width: 200, height: 400 }, { width: 320, height: 256 });
    assert.equal(p.scale, 0.64);
    assert.deepEqual([p.dx, p.dy, p.flip], [96, 0, false]);
    assertBoxNear(placeBox([0, 0, 200, 400], p), [96, 0, 128, 256], 1e-9, 'whole image');
    const odd = letterbox({ width: 100, height: 300 }, { width: 101, height: 150 });
    assert.deepEqual([odd.scale, odd.dx, odd.dy], [0.5, 25, 0]);
  });

  it('rejects sizes that are not whole positive pixels', () => {
    assert.throws(() => letterbox({ width: 0, height: 10 }, CANVAS), RangeError);
    assert.throws(() => letterbox(SRC, { width: 10.5, height: 10 }), RangeError);
  });
});

describe('randomPlacement', () => {
  it('is reproducible from the seed and keeps a smaller image inside the canvas, crops a larger one', () => {
    const draw = (seed: number) => {
      const rand = mulberry32(seed);
      return Array.from({ length: 50 }, () => randomPlacement(SRC, CANVAS, rand));
    };
    const a = draw(7);
    const b = draw(7);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, draw(8));
    const base = letterbox(SRC, CANVAS).scale;
    for (const p of a) {
      assert.ok(p.scale >= base * 0.6 - 1 / 300 && p.scale <= base * 1.4 + 1 / 300, `scale ${p.scale}`);
      assert.ok(Math.abs(p.scale * 300 - Math.round(p.scale * 300)) < 1e-9, `longer side ${p.scale * 300} px`);
      assert.ok(Number.isInteger(p.dx) && Number.isInteger(p.dy));
      const rw = Math.round(300 * p.scale);
      const rh = Math.round(200 * p.scale);
      if (rw <= CANVAS.width) assert.ok(p.dx >= 0 && p.dx + rw <= CANVAS.width, `dx ${p.dx} for ${rw}`);
      else assert.ok(p.dx <= 0 && p.dx + rw >= CANVAS.width, `dx ${p.dx} for ${rw}`);
      if (rh <= CANVAS.height) assert.ok(p.dy >= 0 && p.dy + rh <= CANVAS.height, `dy ${p.dy} for ${rh}`);
      else assert.ok(p.dy <= 0 && p.dy + rh >= CANVAS.height, `dy ${p.dy} for ${rh}`);
    }
    const flips = a.filter((p) => p.flip).length;
    assert.ok(flips > 10 && flips < 40, `${flips} flips in 50`);
    assert.ok(a.some((p) => p.dx < 0) && a.some((p) => p.dx > 0));
  });

  it('honours its options', () => {
    const r = mulberry32(3);
    for (let i = 0; i < 20; i++) {
      const p = randomPlacement(SRC, CANVAS, r, { scale: [1, 1], flip: false });
      assert.equal(p.flip, false);
      assert.equal(Math.round(p.scale * 300), Math.round(letterbox(SRC, CANVAS).scale * 300));
    }
    assert.throws(() => randomPlacement(SRC, CANVAS, r, { scale: [1.2, 0.8] }), RangeError);
  });
});

describe('placeBox and unplaceBox', () => {
  it('round-trip, flipped and cropped alike', () => {
    const rand = mulberry32(11);
    const boxes: Box[] = [RECT, [0, 0, 300, 200], [120.5, 33.25, 10, 7.5]];
    const placements: Placement[] = [letterbox(SRC, CANVAS), { scale: 2, dx: -100, dy: -30, flip: true, width: 192, height: 160 }];
    for (let i = 0; i < 20; i++) placements.push(randomPlacement(SRC, CANVAS, rand));
    for (const p of placements) {
      for (const box of boxes) {
        const placed = placeBox(box, p);
        // Boxes off the canvas come back too: unplaceBox clips to the image only.
        const back = unplaceBox(placed, p, SRC);
        back.forEach((v, k) => assert.ok(Math.abs(v - box[k]) < 1e-9, `[${back}] vs [${box}] through ${JSON.stringify(p)}`));
      }
    }
  });

  it('maps by the formula, mirrors, and clips the way back to the image', () => {
    const p: Placement = { scale: 0.5, dx: 10, dy: 20, flip: true, width: 100, height: 80 };
    // x' = 60 * 0.5 + 10 = 40 .. 85, mirrored: 15 .. 60.
    assert.deepEqual(placeBox(RECT, p), [15, 40, 45, 35]);
    // Mirrored back to x = -20 .. 20 on the canvas, that is -60 .. 20 in the image, clipped to 0 .. 20.
    assert.deepEqual(unplaceBox([80, 0, 40, 200], p, SRC), [0, 0, 20, 200]);
    assert.deepEqual(unplaceBox([0, 0, 5, 5], p, { width: 100, height: 100 })[2], 0);
  });
});

describe('placeObjects', () => {
  const p: Placement = { scale: 1, dx: -50, dy: 0, flip: false, width: 100, height: 100 };

  it('clips boxes to the canvas and drops what is mostly outside or thinner than a pixel', () => {
    const placed = placeObjects(
      [
        obj([40, 10, 20, 20], 1, true), // half on the canvas: kept, clipped
        obj([45, 30, 20, 20], 2), // three quarters on
        obj([0, 0, 10, 10], 3), // wholly off
        obj([43, 10, 10, 20], 4), // 30% on: below 35%
        obj([80, 10, 0.5, 20], 5), // half a pixel wide
        obj([100, 85, 30, 30], 6), // half on: clipped below
      ],
      p,
    );
    assert.deepEqual(placed, [obj([0, 10, 10, 20], 1, true), obj([0, 30, 15, 20], 2), obj([50, 85, 30, 15], 6)]);
  });

  it('applies minVisible and flips', () => {
    const half = [obj([40, 10, 20, 20])];
    assert.equal(placeObjects(half, p, { minVisible: 0.5 }).length, 1);
    assert.equal(placeObjects(half, p, { minVisible: 0.51 }).length, 0);
    assert.deepEqual(placeObjects([obj([60, 10, 20, 20])], { ...p, flip: true }), [obj([70, 10, 20, 20])]);
  });
});

describe('renderPlaced', () => {
  let dir: string;
  let png: string;
  let rotated: string;

  before(async () => {
    dir = tempDir('graft-geometry-');
    png = join(dir, 'rect.png');
    rotated = join(dir, 'rotated.jpg');
    const raw = { raw: { width: SRC.width, height: SRC.height, channels: 3 as const } };
    await sharp(blackWithWhite(SRC, [RECT]), raw)
      .png()
      .toFile(png);
    // Stored 300x200, seen 200x300 after EXIF orientation 6 (90 degrees clockwise): the rectangle is at [90, 60, 70, 90].
    await sharp(blackWithWhite(SRC, [RECT]), raw)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(rotated);
  });

  /** Render through `p` and check the bright pixels against placeObjects. */
  async function check(file: string, box: Box, p: Placement): Promise<'kept' | 'dropped'> {
    const pixels = await renderPlaced(file, p, 3);
    assert.equal(pixels.length, p.width * p.height * 3);
    const bright = brightBox(pixels, p, 3);
    const [placed] = placeObjects([obj(box)], p);
    if (placed) {
      assert.ok(bright, `nothing bright where [${placed.box}] is expected, ${JSON.stringify(p)}`);
      assertBoxNear(bright.box, placed.box, 1.5, JSON.stringify(p));
      return 'kept';
    }
    // Dropped only when mostly outside: what is visible is under 35% of the placed area (and a rim of a pixel).
    const [, , w, h] = placeBox(box, p);
    const visible = bright?.count ?? 0;
    assert.ok(visible <= 0.35 * w * h + 2 * (w + h), `dropped with ${visible} of ${w * h} pixels visible, ${JSON.stringify(p)}`);
    return 'dropped';
  }

  it('puts the pixels where letterbox puts the box', async () => {
    const p = letterbox(SRC, CANVAS);
    assert.equal(await check(png, RECT, p), 'kept');
    // The padding is black and the rest of the image too: nothing bright outside the box.
    const wide = letterbox(SRC, { width: 96, height: 200 });
    assert.equal(await check(png, RECT, wide), 'kept');
  });

  it('puts the pixels where 20 seeded random placements put the box, flipped and cropped too', async () => {
    const rand = mulberry32(2024);
    const seen = { flip: 0, plain: 0, crop: 0, kept: 0, dropped: 0 };
    for (let i = 0; i < 20; i++) {
      const p = randomPlacement(SRC, CANVAS, rand);
      seen[p.flip ? 'flip' : 'plain']++;
      if (p.dx < 0 || p.dy < 0) seen.crop++;
      seen[await check(png, RECT, p)]++;
    }
    assert.ok(seen.flip > 0 && seen.plain > 0 && seen.crop > 0 && seen.kept > 0, JSON.stringify(seen));
  });

  it('drops the box only when it is mostly cut off', async () => {
    // Up to 3x the letterbox: the canvas is a small crop and the rectangle often falls (partly) outside it.
    const rand = mulberry32(99);
    const seen = { kept: 0, dropped: 0, clipped: 0 };
    for (let i = 0; i < 20; i++) {
      const p = randomPlacement(SRC, CANVAS, rand, { scale: [1.5, 3] });
      const outcome = await check(png, RECT, p);
      seen[outcome]++;
      const [x, y, w, h] = placeBox(RECT, p);
      if (outcome === 'kept' && (x < 0 || y < 0 || x + w > p.width || y + h > p.height)) seen.clipped++;
    }
    assert.ok(seen.dropped > 0 && seen.clipped > 0, JSON.stringify(seen));
  });

  it('follows EXIF orientation as placeBox sees it', async () => {
    const seen = { width: 200, height: 300 };
    const box: Box = [90, 60, 70, 90];
    assert.equal(await check(rotated, box, letterbox(seen, CANVAS)), 'kept');
    assert.equal(await check(rotated, box, { ...randomPlacement(seen, CANVAS, mulberry32(5)), flip: true }), 'kept');
  });

  it('gives one channel of luma for greyscale', async () => {
    const p = letterbox(SRC, CANVAS);
    const grey = await renderPlaced(png, p, 1);
    assert.equal(grey.length, p.width * p.height);
    const [placed] = placeObjects([obj(RECT)], p);
    assertBoxNear(brightBox(grey, p, 1)!.box, placed.box, 1.5, 'greyscale');
    const rgb = await renderPlaced(png, p, 3);
    for (let i = 0; i < grey.length; i += 97) assert.equal(grey[i], rgb[i * 3]);
  });

  it('throws DecodeError for bytes that are not an image, a usage error for a missing file', async () => {
    const p = letterbox(SRC, CANVAS);
    await assert.rejects(renderPlaced(new TextEncoder().encode('not an image'), p, 3), DecodeError);
    await assert.rejects(renderPlaced(join(dir, 'missing.png'), p, 3), (e: unknown) => e instanceof GraftError && e.exitCode === 2);
  });
});

describe('drawBoxes', () => {
  let dir: string;
  let png: string;

  before(async () => {
    dir = tempDir('graft-draw-');
    png = join(dir, 'black.png');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#000000' } })
      .png()
      .toFile(png);
  });

  const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));

  it('draws predictions solid in their class colour and truth dashed, at the original size', async () => {
    const out = join(dir, 'drawn.png');
    await drawBoxes(
      png,
      [
        { box: RECT, label: 'pedestrian', score: 0.93 },
        { box: [160, 100, 100, 60], label: 'a <b> & "c"', kind: 'truth' },
      ],
      out,
    );
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [300, 200]);
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 2);
    const pred = hex(colourFor('pedestrian'));
    // The left and bottom edges, the middle of the box untouched.
    for (const [x, y] of [
      [60, 75],
      [105, 110],
      [150, 90],
    ]) {
      assert.ok(near(at(x, y), pred), `(${x}, ${y}) is ${at(x, y)}, expected ${pred}`);
    }
    assert.deepEqual(at(105, 75), [0, 0, 0]);
    // The tag above the box, filled in the same colour.
    assert.ok(near(at(60, 24), pred), `tag at (60, 24) is ${at(60, 24)}`);
    // The truth's left edge is dashed: some of it in TRUTH_COLOUR, some gaps.
    const edge = Array.from({ length: 50 }, (_, i) => near(at(160, 102 + i), hex(TRUTH_COLOUR)));
    assert.ok(edge.filter(Boolean).length >= 10, 'truth colour on its edge');
    assert.ok(edge.filter((v) => !v).length >= 5, 'gaps in the dashes');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
    );
  });

  it('keeps EXIF orientation, takes the format from the extension and refuses an unknown one', async () => {
    const jpg = join(dir, 'rotated.jpg');
    await sharp({ create: { width: 300, height: 200, channels: 3, background: '#202020' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(jpg);
    const out = join(dir, 'rotated-drawn.webp');
    await drawBoxes(jpg, [{ box: [10, 10, 50, 50], label: 'cat', score: 0.5 }], out);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 200, 300]);
    await assert.rejects(drawBoxes(png, [], join(dir, 'x.gif')), (e: unknown) => e instanceof GraftError && e.exitCode === 2);
    await writeFile(join(dir, 'junk.png'), 'junk');
    await assert.rejects(drawBoxes(join(dir, 'junk.png'), [], join(dir, 'y.png')), DecodeError);
  });

  it('replaces a file already at its destination only with force', async () => {
    const out = join(dir, 'mine.png');
    await writeFile(out, 'mine');
    await assert.rejects(
      drawBoxes(png, [{ box: RECT, label: 'cat', score: 0.5 }], out),
      (e: unknown) => e instanceof GraftError && e.exitCode === 2 && /mine\.png already exists \(use --force/.test(e.message),
    );
    assert.equal(readFileSync(out, 'utf8'), 'mine');
    await drawBoxes(png, [{ box: RECT, label: 'cat', score: 0.5 }], out, true);
    assert.equal((await sharp(out).metadata()).width, 300);
  });
});

describe('placeSet', () => {
  it('places the same images the same way wherever the data set sits (a seeded run repeats)', async () => {
    const placed = [];
    for (const folder of ['here', 'elsewhere']) {
      const root = join(tempDir('graft-place-'), folder);
      mkdirSync(root);
      const file = join(root, 'scene.png');
      await sharp(blackWithWhite(SRC, [RECT]), { raw: { ...SRC, channels: 3 } })
        .png()
        .toFile(file);
      const sample = { file, ...SRC, objects: [obj(RECT)] };
      placed.push(await placeSet({ classes: ['box'], samples: [sample] }, { ...CANVAS, channels: 3 }, { augment: 3, seed: 7 }));
    }
    const [a, b] = placed;
    assert.equal(a.placed.length, 4);
    assert.deepEqual(
      a.placed.map((p) => p.placement),
      b.placed.map((p) => p.placement),
    );
    assert.ok(Buffer.from(a.pixels).equals(Buffer.from(b.pixels)));
    // The random copies differ from the letterboxed one.
    assert.notDeepEqual(a.placed[1].placement, a.placed[0].placement);
  });
});

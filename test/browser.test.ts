// graft/browser without a browser: its pixels (src/browser/pixels.ts) against graft's decoding
// (sharp) — the same RGB, resized for each mode and letterboxed for a detector, must come out bit
// for bit the same, so a page's answers are graft predict's — and the models loadModel refuses.
// test/e2e/browser.test.ts runs it in Chromium.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { BrowserModelError, loadModel } from '../src/browser/index.js';
import { fitToInput, flatten, pageRgb, placeOnCanvas } from '../src/browser/pixels.js';
import { letterbox } from '../src/data/detection/geometry.js';
import { renderPlaced } from '../src/data/detection/render.js';
import { decodeImageBuffer } from '../src/data/images.js';
import type { ResizeMode } from '../src/data/types.js';
import { mulberry32 } from '../src/math/random.js';

const rand = mulberry32(11);
const noise = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const png = (data: Uint8Array, width: number, height: number, channels: 3 | 4) =>
  sharp(data, { raw: { width, height, channels } }).png().toBuffer();

function assertSame(ours: Uint8Array, theirs: Uint8Array, what: string) {
  assert.equal(ours.length, theirs.length, what);
  const differing = ours.reduce((n, v, i) => n + (v === theirs[i] ? 0 : 1), 0);
  assert.equal(differing, 0, `${what}: ${differing} of ${ours.length} values differ`);
}

describe('graft/browser pixels', () => {
  // Shrinking by a little, by a lot (box averaging first), enlarging, one axis each way, and a
  // sliver that keeps a single row.
  const cases: [number, number, number, number][] = [
    [40, 24, 16, 16],
    [300, 200, 16, 16],
    [13, 9, 16, 16],
    [40, 10, 16, 16],
    [10, 40, 32, 16],
    [7, 5, 64, 64],
    [1000, 20, 16, 16],
    [16, 16, 16, 16],
  ];
  for (const mode of ['cover', 'fill', 'contain'] as ResizeMode[])
    it(`resizes as sharp does: ${mode}`, async () => {
      for (const [w, h, W, H] of cases) {
        const rgb = noise(w * h * 3);
        const bytes = await png(rgb, w, h, 3);
        for (const channels of [3, 1] as const) {
          const size = { width: W, height: H, channels };
          const theirs = await decodeImageBuffer(bytes, size, mode);
          assertSame(fitToInput({ width: w, height: h, data: rgb }, size, mode), theirs, `${w}x${h} to ${W}x${H}x${channels}`);
        }
      }
    });

  it('flattens transparency onto white as sharp does', async () => {
    const rgba = noise(20 * 12 * 4);
    const theirs = await decodeImageBuffer(await png(rgba, 20, 12, 4), { width: 20, height: 12, channels: 3 }, 'fill');
    assertSame(flatten({ width: 20, height: 12, data: rgba }).data, theirs, 'RGBA 20x12');
  });

  it('letterboxes onto a detector canvas as render.ts does', async () => {
    for (const [w, h, W, H] of [
      [96, 72, 64, 64],
      [64, 48, 64, 64],
      [30, 50, 64, 96],
      [500, 90, 64, 64],
    ]) {
      const rgb = noise(w * h * 3);
      const p = letterbox({ width: w, height: h }, { width: W, height: H });
      for (const channels of [3, 1] as const)
        assertSame(
          placeOnCanvas({ width: w, height: h, data: rgb }, p, channels),
          await renderPlaced(await png(rgb, w, h, 3), p, channels),
          `${w}x${h} on ${W}x${H}x${channels}`,
        );
    }
  });
});

describe('graft/browser loadModel', () => {
  /** A fetch answering graft.json with `meta` (and nothing else). */
  const serving =
    (meta: object | undefined): typeof fetch =>
    async (input) =>
      String(input).endsWith('/graft.json') && meta
        ? new Response(JSON.stringify(meta), { headers: { 'content-type': 'application/json' } })
        : new Response('not found', { status: 404, statusText: 'Not Found' });
  const refused = (meta: object | undefined, message: RegExp) =>
    assert.rejects(loadModel('http://127.0.0.1:1/model', { fetch: serving(meta) }), (e: Error) => {
      assert.ok(e instanceof BrowserModelError, String(e));
      assert.match(e.message, message);
      return true;
    });

  it('refuses a frozen trunk, other kinds and a missing graft.json, saying why', async () => {
    await refused({ kind: 'image', trunk: { path: 'trunk/model.onnx', output: 'x' } }, /frozen trunk \(trunk\/model\.onnx.*graft serve/);
    // A detector on a frozen ONNX base (nanodet) too: its model.json is the head alone.
    await refused(
      { kind: 'detection', trunk: { path: 'trunk/model.onnx', output: 'x', layout: 'nchw' } },
      /frozen trunk \(trunk\/model\.onnx.*graft serve/,
    );
    await refused({ kind: 'text' }, /holds a text model: graft\/browser runs image classifiers \(and audio ones\) and detectors/);
    await refused({ kind: 'multi-task' }, /holds a multi-task model/);
    await refused(undefined, /cannot fetch http:\/\/127\.0\.0\.1:1\/model\/graft\.json: 404 Not Found/);
  });

  it('reads ImageData-shaped RGBA anywhere (a worker, a test)', () => {
    const data = new Uint8ClampedArray([10, 20, 30, 255, 200, 100, 0, 0]);
    assert.deepEqual([...pageRgb({ width: 2, height: 1, data, colorSpace: 'srgb' }).data], [10, 20, 30, 255, 255, 255]);
  });
});

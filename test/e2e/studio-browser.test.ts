// graft studio in a real browser (Debian's Chromium driven by playwright-core): create a project,
// add images of two classes the test draws, train, read the accuracy, try an image in the page
// (TF.js in the page and graft on the server agree within 1e-4), export the zip and load it in
// plain TF.js. Screenshots of each screen go to runs/studio/ for a person to look at.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { unzipSync } from 'fflate';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { root, tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
const SHOTS = join(root, 'runs/studio');

/** A 28x28 gray PNG: a white square on the left or the right of a black field (from i = 10, in the middle: a sample no model can get right, for the gallery of mistakes). */
async function drawn(side: 'left' | 'right', i: number, dir: string): Promise<string> {
  const x = i >= 10 ? 9 : side === 'left' ? 2 + (i % 4) : 14 + (i % 4);
  const svg = `<svg width="28" height="28"><rect width="28" height="28" fill="black"/><rect x="${x}" y="${6 + (i % 5)}" width="10" height="10" fill="white"/></svg>`;
  const file = join(dir, `${side}${i}.png`);
  writeFileSync(file, await sharp(Buffer.from(svg)).png().toBuffer());
  return file;
}

const probabilities = (page: Page, id: string) =>
  page.$$eval(`#${id} [data-label]`, (rows) =>
    Object.fromEntries(rows.map((r) => [r.getAttribute('data-label'), Number(r.getAttribute('data-probability'))])),
  );

describe('graft studio in Chromium', { skip }, () => {
  const dir = tempDir('graft-studio-browser-');
  const images = tempDir('graft-studio-images-');
  let studio: Studio;
  let browser: Browser;
  let page: Page;
  /** The page, or one of its sections, as a PNG a person can look at. */
  const shot = (name: string, section?: string) =>
    section
      ? page.locator(section).screenshot({ path: join(SHOTS, `${name}.png`) })
      : page.screenshot({ path: join(SHOTS, `${name}.png`) });

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await useBackend('wasm');
    studio = await startStudio({ dir, port: 0 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await studio?.close();
  });

  it('creates a project, adds two classes of images, trains, tries, exports', { timeout: 300_000 }, async () => {
    await page.goto(studio.openUrl);
    assert.equal(new URL(page.url()).search, '', "the token leaves the address bar for the page's storage");
    await page.fill('#new-name', 'Squares');
    await shot('1-start');
    await page.click('#create');
    await page.waitForSelector('.card[data-class="Class 1"]');

    for (const [from, side] of [
      ['Class 1', 'left'],
      ['Class 2', 'right'],
    ] as const) {
      await page.fill(`.card[data-class="${from}"] input[aria-label="class name"]`, side);
      await page.press(`.card[data-class="${from}"] input[aria-label="class name"]`, 'Enter');
      await page.waitForSelector(`.card[data-class="${side}"]`);
      const files = await Promise.all(Array.from({ length: 14 }, (_, i) => drawn(side, i, images)));
      await page.setInputFiles(`.card[data-class="${side}"] input[type=file]`, files);
      await page.waitForSelector(`.card[data-class="${side}"] .count:text("14 images")`);
    }
    await shot('2-data', '#data');

    await page.selectOption('#base', 'digits-cnn');
    await page.click('#train details summary');
    await page.fill('#epochs', '3');
    await page.click('#train-button');
    await page.waitForSelector('#status[data-state="done"]', { timeout: 240_000 });
    await page.waitForSelector('#accuracy');
    const accuracy = await page.textContent('#accuracy');
    assert.match(accuracy!, /Validation accuracy \d+\.\d%/);
    const cells = await page.$$eval('#confusion td.cell', (tds) => tds.map((td) => Number(td.textContent)));
    assert.equal(cells.length, 4, 'a 2x2 confusion heatmap');
    const wrong = cells[1] + cells[2];
    assert.equal(await page.$$eval('#mistakes figure', (f) => f.length), wrong, 'one picture per validation sample it gets wrong');
    await shot('3-train', '#train');
    await shot('4-model', '#model');

    const tryImage = await drawn('right', 7, images);
    await page.setInputFiles('#try-file', tryImage);
    await page.waitForSelector('#browser-probabilities');
    const inPage = await probabilities(page, 'browser-probabilities');
    const onServer = await probabilities(page, 'server-probabilities');
    assert.deepEqual(Object.keys(inPage).sort(), ['left', 'right']);
    for (const label of ['left', 'right'])
      assert.ok(Math.abs(inPage[label] - onServer[label]) < 1e-4, `${label}: page ${inPage[label]}, server ${onServer[label]}`);
    await shot('5-try', '#try');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-tfjs')]);
    const zipPath = join(images, 'export.zip');
    await download.saveAs(zipPath);
    await page.waitForSelector('#snippet:has-text("loadLayersModel")');
    await shot('6-export', '#export');
    const entries = unzipSync(readFileSync(zipPath));
    const modelJson = JSON.parse(new TextDecoder().decode(entries['model.json']));
    const meta = JSON.parse(new TextDecoder().decode(entries['graft.json']));
    const weights = entries['weights.bin'];
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest[0].weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const { data, info } = await sharp(tryImage).greyscale().raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, meta.input.width);
    const x = tf.tensor4d(
      Float32Array.from(data, (v) => (v / 255 - meta.normalize.mean[0]) / meta.normalize.std[0]),
      [1, info.height, info.width, 1],
    );
    const plain = (model.predict(x) as tf.Tensor).dataSync();
    meta.labels.forEach((label: string, i: number) =>
      assert.ok(Math.abs(plain[i] - onServer[label]) < 1e-4, `plain tfjs ${label}: ${plain[i]}`),
    );
  });
  // Issue 28.3: a page on another port of 127.0.0.1 (another origin, the same site) tried every
  // request a page may send without asking the studio first: a no-cors multipart upload, a
  // text/plain training request, and plain GETs. None may change anything, and the token must not
  // reach that other server (a cookie would: a browser sends a host's cookies to all its ports).
  it('a page on another port of 127.0.0.1 can neither drive the studio nor learn its token', { timeout: 120_000 }, async () => {
    const id = 'squares';
    const before = JSON.stringify(readdirSync(join(dir, id), { recursive: true }).sort());
    const seen: string[] = [];
    const hostile = createServer((req, res) => {
      seen.push(`${req.url} cookie=${req.headers.cookie ?? ''}`);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><script>
        const studio = ${JSON.stringify(studio.url)};
        (async () => {
          const form = new FormData();
          form.append('files', new Blob(['GIF89a'], { type: 'image/gif' }), 'x.gif');
          const tries = [
            fetch(studio + 'api/projects/${id}/classes/left/samples', { method: 'POST', mode: 'no-cors', credentials: 'include', body: form }),
            fetch(studio + 'api/projects/${id}/train', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"base":"digits-cnn","epochs":1}' }),
            fetch(studio + 'api/projects', { credentials: 'include' }).then((r) => r.text()),
          ];
          const results = await Promise.allSettled(tries);
          await fetch('/done?' + encodeURIComponent(JSON.stringify(results.map((r) => r.status + ':' + (r.value?.type ?? String(r.reason ?? r.value))))));
        })();
      </script>`);
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    try {
      const other = await browser.newPage();
      // The person's studio tab is open in the same browser, with its token stored.
      await other.goto(studio.openUrl);
      const port = (hostile.address() as AddressInfo).port;
      const done = other.waitForRequest((r) => r.url().includes('/done?'), { timeout: 60_000 });
      await other.goto(`http://127.0.0.1:${port}/`);
      await done;
      await other.close();
    } finally {
      hostile.close();
    }
    assert.ok(seen.length >= 2, seen.join('\n'));
    for (const line of seen) assert.ok(!line.includes(studio.token), `the token reached another server: ${line}`);
    const run = await fetch(new URL(`/api/projects/${id}/train/events`, studio.url), { headers: { 'x-graft-token': studio.token } });
    const events = await run.text();
    assert.equal(events.match(/"type":"start"/g)?.length, 1, 'no second training run was started');
    assert.equal(JSON.stringify(readdirSync(join(dir, id), { recursive: true }).sort()), before, 'the project is as it was');
  });
});

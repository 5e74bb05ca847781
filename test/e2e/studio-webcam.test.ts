// graft studio's webcam in Chromium, the camera faked by Chromium's own test pattern
// (--use-fake-device-for-media-stream): holding "Hold to record" takes a frame every 100 ms and
// adds them to the class on release, as Teachable Machine's hold-to-record does.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { root, tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
const SHOTS = join(root, 'runs/studio');

describe('graft studio: webcam burst in Chromium', { skip }, () => {
  const dir = tempDir('graft-studio-webcam-');
  let studio: Studio;
  let browser: Browser;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    studio = await startStudio({ dir, port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
    });
  });
  after(async () => {
    await browser?.close();
    await studio?.close();
  });

  it('holding "Hold to record" adds a burst of frames; releasing stops it', { timeout: 120_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(studio.openUrl);
    await page.fill('#new-name', 'Faces');
    await page.click('#create');
    await page.waitForSelector('.card[data-class="Class 1"]');
    const id = decodeURIComponent(new URL(page.url()).hash.slice('#/p/'.length));
    await page.click('.card[data-class="Class 1"] button:text("Webcam")');
    await page.waitForFunction(() => ((document.querySelector('.card video') as HTMLVideoElement | null)?.videoWidth ?? 0) > 0);
    await page.locator('#data').screenshot({ path: join(SHOTS, 'webcam-1-live.png') });
    const hold = page.locator('.card[data-class="Class 1"] button.hold');
    await hold.hover();
    await page.mouse.down();
    await page.waitForTimeout(1200);
    await page.mouse.up();
    await page.waitForSelector('.card[data-class="Class 1"] .count:not(:text("0 images"))', { timeout: 30_000 });
    const files = readdirSync(join(dir, id, 'samples', 'Class 1'));
    // 1.2 s at one frame per 100 ms: about 12, fewer on a busy machine, never an endless burst.
    assert.ok(files.length >= 4 && files.length <= 14, `${files.length} frames`);
    const first = await sharp(readFileSync(join(dir, id, 'samples', 'Class 1', files[0]))).metadata();
    assert.equal(first.format, 'jpeg');
    assert.ok(first.width! >= 320, `${first.width}x${first.height}`);
    // Frames of a moving pattern differ from one another.
    const last = readFileSync(join(dir, id, 'samples', 'Class 1', files.at(-1)!));
    assert.ok(!last.equals(readFileSync(join(dir, id, 'samples', 'Class 1', files[0]))));
    await page.locator('#data').screenshot({ path: join(SHOTS, 'webcam-2-burst.png') });
  });
});

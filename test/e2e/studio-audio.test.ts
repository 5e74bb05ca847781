// graft studio's sound projects in Chromium, its microphone faked by a WAV file the test makes
// (--use-file-for-fake-audio-capture, looped): one browser per sound, since the file is fixed
// for the browser's life. Background noise, a low voice and a high voice are recorded in the page,
// a model is trained on speech-embedding, the report shows the confusion heatmap, a recorded clip
// plays back, "Listen" names the sound the microphone hears, and the project downloaded as a zip
// opens again as a copy, byte for byte. Screenshots go to runs/studio/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { useBackend } from '../../src/backend/index.js';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { normals, root, tempDir, voiced, wav } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
const SHOTS = join(root, 'runs/studio');
const RATE = 48000;
/** Clips recorded per class. */
const CLIPS = 5;

/** 1.6 s the fake microphone loops: a voiced sound at f0 between two silences, over faint noise. */
function sound(f0: number | undefined): Float32Array {
  const noise = normals(f0 ?? 1);
  const x = Float32Array.from({ length: Math.round(1.6 * RATE) }, () => 0.003 * noise());
  if (f0) voiced(f0, 0.8, RATE).forEach((v, i) => (x[Math.round(0.4 * RATE) + i] += v));
  return x;
}

describe('graft studio: a sound project in Chromium', { skip }, () => {
  const dir = tempDir('graft-studio-audio-');
  const sounds = tempDir('graft-studio-sounds-');
  let studio: Studio;
  let id: string;
  const browsers: Browser[] = [];

  /** A browser whose microphone plays `file`, on the studio's page (the token stored from its URL). */
  async function open(file: string): Promise<Page> {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${file}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    browsers.push(browser);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(studio.openUrl);
    return page;
  }

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await useBackend('wasm');
    studio = await startStudio({ dir, port: 0 });
    for (const [name, f0] of [
      ['noise', undefined],
      ['low', 120],
      ['high', 320],
    ] as const)
      writeFileSync(join(sounds, `${name}.wav`), wav(sound(f0), RATE));
  });
  after(async () => {
    for (const b of browsers) await b.close();
    await studio?.close();
  });

  it('records three sounds from the microphone, trains, plays a clip back, and listens', { timeout: 420_000 }, async () => {
    let page = await open(join(sounds, 'noise.wav'));
    await page.fill('#new-name', 'Voices');
    await page.selectOption('#new-kind', 'audio');
    await page.click('#create');
    await page.waitForSelector('.card[data-class="Background noise"]');
    id = decodeURIComponent(new URL(page.url()).hash.slice('#/p/'.length));

    const record = async (cls: string) => {
      for (let i = 1; i <= CLIPS; i++) {
        await page.click(`.card[data-class="${cls}"] button.record`);
        await page.waitForSelector(`.card[data-class="${cls}"] .count:text("${i} recordings")`, { timeout: 30_000 });
      }
    };
    await record('Background noise');
    page = await open(join(sounds, 'low.wav'));
    await page.goto(`${studio.url}#/p/${encodeURIComponent(id)}`);
    await page.fill('.card[data-class="Class 2"] input[aria-label="class name"]', 'low');
    await page.press('.card[data-class="Class 2"] input[aria-label="class name"]', 'Enter');
    await page.waitForSelector('.card[data-class="low"]');
    // The level shows while recording: a voiced sound lifts it well above the noise floor.
    await page.click('.card[data-class="low"] button.record');
    await page.waitForFunction(() => Number((document.getElementById('level-low') as HTMLMeterElement)?.value) > -40, undefined, {
      timeout: 10_000,
    });
    await page.waitForSelector('.card[data-class="low"] .count:text("1 recordings")');
    for (let i = 2; i <= CLIPS; i++) {
      await page.click('.card[data-class="low"] button.record');
      await page.waitForSelector(`.card[data-class="low"] .count:text("${i} recordings")`, { timeout: 30_000 });
    }
    await page.click('#add-class');
    await page.waitForSelector('.card[data-class="Class 3"]');

    page = await open(join(sounds, 'high.wav'));
    await page.goto(`${studio.url}#/p/${encodeURIComponent(id)}`);
    await page.fill('.card[data-class="Class 3"] input[aria-label="class name"]', 'high');
    await page.press('.card[data-class="Class 3"] input[aria-label="class name"]', 'Enter');
    await page.waitForSelector('.card[data-class="high"]');
    await record('high');
    // Every clip is a WAV in the folder graft train reads, and each card shows its spectrograms.
    for (const cls of ['Background noise', 'low', 'high'])
      assert.equal(readdirSync(join(dir, id, 'samples', cls)).filter((f) => f.endsWith('.wav')).length, CLIPS, cls);
    await page.waitForFunction(
      (n) => [...document.querySelectorAll('.clip img')].filter((i) => (i as HTMLImageElement).naturalWidth > 0).length === n,
      3 * CLIPS,
      { timeout: 30_000 },
    );
    await page.locator('#data').screenshot({ path: join(SHOTS, 'audio-1-data.png') });

    // A clip plays back in the page.
    await page.click('.card[data-class="low"] .clip button.play');
    await page.waitForFunction(() => {
      const a = document.querySelector('.card[data-class="low"] .clip audio') as HTMLAudioElement;
      return a && a.currentTime > 0;
    });

    assert.equal(await page.inputValue('#base'), 'speech-embedding');
    await page.click('#train-button');
    await page.waitForSelector('#status[data-state="done"]', { timeout: 240_000 });
    const accuracy = await page.textContent('#accuracy');
    assert.match(accuracy!, /Validation accuracy \d+\.\d%/);
    assert.equal((await page.$$('#confusion td.cell')).length, 9, 'a 3x3 confusion heatmap');
    await page.locator('#model').screenshot({ path: join(SHOTS, 'audio-2-model.png') });

    // Listening: the microphone (the high voice, looped) is scored on the server every half second.
    await page.click('#listen');
    await page.waitForSelector('#live-answer[data-label="high"]', { timeout: 60_000 });
    await page.locator('#try').screenshot({ path: join(SHOTS, 'audio-3-listen.png') });
    await page.click('#listen');

    // An image is not a recording: the trained sound model refuses it, and says so.
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' }), 'a.png');
    const r = await fetch(new URL(`api/projects/${encodeURIComponent(id)}/predict`, studio.url), {
      method: 'POST',
      headers: { 'x-graft-token': studio.token },
      body: form,
    });
    assert.equal(r.status, 415);
    assert.match(((await r.json()) as { error: string }).error, /send one recording/);

    // The project as one zip, downloaded and opened again from the start page: a new project whose recordings are the same bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-project')]);
    const zipPath = join(sounds, 'voices.zip');
    await download.saveAs(zipPath);
    await page.goto(`${studio.url}#`);
    await page.setInputFiles('#open-archive', zipPath);
    await page.waitForFunction((old) => location.hash.startsWith('#/p/') && decodeURIComponent(location.hash.slice(4)) !== old, id);
    const copy = decodeURIComponent(new URL(page.url()).hash.slice('#/p/'.length));
    await page.waitForSelector(`.card[data-class="high"] .count:text("${CLIPS} recordings")`);
    for (const cls of ['Background noise', 'low', 'high'])
      for (const f of readdirSync(join(dir, id, 'samples', cls)))
        assert.ok(readFileSync(join(dir, copy, 'samples', cls, f)).equals(readFileSync(join(dir, id, 'samples', cls, f))), `${cls}/${f}`);
  });
});

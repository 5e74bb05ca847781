// Issue 28.5: while a run trains, the studio still answers. On the server's own thread a
// mobilenet_v2 run held every request for up to 8.5 s (the probe, LogME and the frozen features
// are long stretches of JavaScript); the run now trains in a worker thread. Slow (a mobilenet_v2
// run), so it is in the end-to-end suite (`npm run test:e2e`), which .ci/run also runs.
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { tempDir } from '../helpers.js';

describe('graft studio while it trains', () => {
  let studio: Studio;
  const headers = () => ({ 'x-graft-token': studio.token });
  const url = (path: string) => new URL(path, studio.url).toString();

  before(async () => {
    await useBackend('wasm');
    studio = await startStudio({ dir: tempDir('graft-studio-busy-'), port: 0 });
  });
  after(() => studio.close());

  it('answers every request within a second while mobilenet_v2 trains', { timeout: 300_000 }, async () => {
    const json = { ...headers(), 'content-type': 'application/json' };
    const created = await (await fetch(url('/api/projects'), { method: 'POST', headers: json, body: '{"name":"busy"}' })).json();
    for (const [c, cls] of ['Class 1', 'Class 2'].entries()) {
      const form = new FormData();
      for (let i = 0; i < 12; i++) {
        const background = c ? { r: 200, g: 20 + 10 * i, b: 20 } : { r: 20, g: 20 + 10 * i, b: 200 };
        const png = await sharp({ create: { width: 64, height: 64, channels: 3, background } })
          .png()
          .toBuffer();
        form.append('files', new Blob([new Uint8Array(png)], { type: 'image/png' }), `${i}.png`);
      }
      const r = await fetch(url(`/api/projects/${created.id}/classes/${encodeURIComponent(cls)}/samples`), {
        method: 'POST',
        headers: headers(),
        body: form,
      });
      assert.equal(r.status, 200);
    }
    const started = await fetch(url(`/api/projects/${created.id}/train`), {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ base: 'mobilenet_v2', epochs: 2 }),
    });
    assert.equal(started.status, 202);
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let finished = false;
    const events = fetch(url(`/api/projects/${created.id}/train/events`), { headers: headers() })
      .then((r) => r.text())
      .finally(() => (finished = true));
    const waits: number[] = [];
    while (!finished) {
      const t0 = performance.now();
      assert.equal((await fetch(url('/api/projects'), { headers: headers() })).status, 200);
      waits.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    loop.disable();
    assert.match(await events, /"type":"done"/);
    const worst = Math.max(...waits);
    assert.ok(waits.length >= 10, `asked ${waits.length} times during the run`);
    assert.ok(worst < 1000, `the slowest answer took ${worst.toFixed(0)} ms (event loop: ${(loop.max / 1e6).toFixed(0)} ms)`);
  });
});

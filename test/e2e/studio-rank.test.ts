// graft studio's "Which base and cut?": every image base's cuts ranked on the project's images
// (LogME), best first. It scores three bases, a minute of work, so it is in the end-to-end suite.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { tempDir } from '../helpers.js';

/** A 28x28 PNG: a bright square on the left ('left') or the right ('right'), shifted by `i`. */
function drawn(side: 'left' | 'right', i: number): Promise<Buffer> {
  const x = side === 'left' ? 2 + (i % 4) : 14 + (i % 4);
  const square = `<svg width="28" height="28"><rect width="28" height="28" fill="black"/><rect x="${x}" y="${6 + (i % 5)}" width="10" height="10" fill="white"/></svg>`;
  return sharp(Buffer.from(square)).png().toBuffer();
}

describe('graft studio ranks bases and cuts', () => {
  let studio: Studio;
  const headers = () => ({ 'x-graft-token': studio.token });
  const url = (path: string) => new URL(path, studio.url).toString();

  before(async () => {
    await useBackend('wasm');
    studio = await startStudio({ dir: tempDir('graft-studio-rank-'), port: 0 });
  });
  after(() => studio.close());

  it('answers "which base and cut?" with every image base\'s best cuts, best first', { timeout: 240_000 }, async () => {
    const json = { ...headers(), 'content-type': 'application/json' };
    const { id } = await (await fetch(url('/api/projects'), { method: 'POST', headers: json, body: '{"name":"squares"}' })).json();
    for (const [cls, side] of [
      ['Class 1', 'left'],
      ['Class 2', 'right'],
    ] as const) {
      const form = new FormData();
      for (let i = 0; i < 10; i++)
        form.append('files', new Blob([new Uint8Array(await drawn(side, i))], { type: 'image/png' }), `${i}.png`);
      const r = await fetch(url(`/api/projects/${id}/classes/${encodeURIComponent(cls)}/samples`), {
        method: 'POST',
        headers: headers(),
        body: form,
      });
      assert.equal(r.status, 200);
    }
    const r = await fetch(url(`/api/projects/${id}/rank`), { method: 'POST', headers: headers() });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    const rows = body as { base: string; cut: string; logme: number }[];
    assert.deepEqual([...new Set(rows.map((x) => x.base))].sort(), ['digits-cnn', 'inception_v3', 'mobilenet_v2']);
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].logme >= rows[i].logme, 'sorted by LogME');
  });
});

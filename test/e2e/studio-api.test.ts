// graft studio's API over real HTTP on 127.0.0.1: a project made, filled with images the test
// draws, trained (digits-cnn, two epochs), reported on, tried and exported; and every request the
// server must refuse (token, Host header, sizes, types, names, a second training run) answered
// with the right status while the workspace stays byte for byte as it was.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { startStudio, type Studio } from '../../src/studio/server.js';
import { graft, root, tempDir, voiced, wav } from '../helpers.js';

/** Every file under `dir` with a hash of its bytes: what "the workspace is unchanged" compares. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A 28x28 PNG: a bright square on the left ('left') or the right ('right'), shifted by `i`. */
function drawn(side: 'left' | 'right', i: number): Promise<Buffer> {
  const x = side === 'left' ? 2 + (i % 4) : 14 + (i % 4);
  const square = Buffer.from(
    `<svg width="28" height="28"><rect width="28" height="28" fill="black"/><rect x="${x}" y="${6 + (i % 5)}" width="10" height="10" fill="white"/></svg>`,
  );
  return sharp(square).png().toBuffer();
}

/** A raw HTTP request, so the Host header can be anything. */
function raw(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('graft studio API', () => {
  const dir = tempDir('graft-studio-');
  let studio: Studio;
  let auth: Record<string, string>;
  const url = (path: string) => new URL(path, studio.url).toString();
  const call = async (path: string, init: RequestInit = {}) => {
    const r = await fetch(url(path), { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
    const text = await r.text();
    return { status: r.status, body: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : text };
  };
  const post = (path: string, body: unknown) =>
    call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const files = (...list: { name: string; bytes: Buffer; type: string }[]) => {
    const form = new FormData();
    for (const f of list) form.append('files', new Blob([new Uint8Array(f.bytes)], { type: f.type }), f.name);
    return form;
  };
  let id: string;

  before(async () => {
    await useBackend('wasm');
    studio = await startStudio({ dir, port: 0, maxFileBytes: 64 * 1024, maxRequestBytes: 256 * 1024 });
    auth = { 'x-graft-token': studio.token };
  });
  after(() => studio.close());

  it('listens on 127.0.0.1 and serves its page with no cookie: the page holds the token', async () => {
    assert.match(studio.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await fetch(studio.openUrl, { redirect: 'manual' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('set-cookie'), null, 'a cookie would be sent to every port of 127.0.0.1');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const page = await fetch(studio.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script src="\/vendor\/tf.min.js">/);
    const vendor = await fetch(url('/vendor/tf.min.js'), { headers: auth });
    assert.equal(vendor.status, 200, 'TF.js is served from the package');
  });

  it('makes a project, classes and samples; unreadable images are reported with the reason', async () => {
    const created = await post('/api/projects', { name: 'Squares: left or right?', kind: 'image' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    id = created.body.id;
    assert.equal(id, 'squares-left-or-right');
    assert.deepEqual(created.body.classes, ['Class 1', 'Class 2']);
    assert.equal(
      (
        await call(`/api/projects/${id}/classes/Class%201`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"left"}',
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await call(`/api/projects/${id}/classes/Class%202`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"right"}',
        })
      ).status,
      200,
    );
    for (const side of ['left', 'right'] as const) {
      const list = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => ({ name: `${side}${i}.png`, bytes: await drawn(side, i), type: 'image/png' })),
      );
      if (side === 'left') list.push({ name: 'broken.png', bytes: Buffer.from('not a png at all'), type: 'image/png' });
      const r = await call(`/api/projects/${id}/classes/${side}/samples`, { method: 'POST', body: files(...list) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.added.length, 10);
      if (side === 'left') {
        assert.equal(r.body.rejected.length, 1);
        assert.equal(r.body.rejected[0].file, 'broken.png');
        assert.ok(r.body.rejected[0].reason.length > 5, r.body.rejected[0].reason);
      }
    }
    const again = await call(`/api/projects/${id}/classes/left/samples`, {
      method: 'POST',
      body: files({ name: 'left0.png', bytes: await drawn('left', 0), type: 'image/png' }),
    });
    assert.deepEqual(again.body.added, ['left0-2.png'], 'a taken name gets a number, nothing is overwritten');
    assert.equal((await call(`/api/projects/${id}/classes/left/samples/left0-2.png`, { method: 'DELETE' })).status, 200);
    const project = await call(`/api/projects/${id}`);
    assert.deepEqual(project.body.counts, { left: 10, right: 10 });
    const listed = await call('/api/projects');
    assert.equal(listed.body[0].id, id);
  });

  it('refuses what it must, and the workspace stays as it was', async () => {
    const before = snapshot(dir);
    const png = await drawn('left', 1);
    const port = new URL(studio.url).port;
    const cases: [string, () => Promise<{ status: number }>, number][] = [
      ['no token', () => raw(url('/api/projects')), 401],
      ['a wrong token', () => raw(url('/?token=' + 'f'.repeat(64))), 401],
      ['a wrong token header', () => raw(url('/api/projects'), { headers: { 'x-graft-token': 'nope' } }), 401],
      ['another Host (DNS rebinding)', () => raw(url('/api/projects'), { headers: { ...auth, host: `evil.example:${port}` } }), 403],
      // Issue 28.3: another port of 127.0.0.1 is another origin, and the same site.
      [
        'a request from another port of 127.0.0.1 (Origin)',
        () =>
          raw(url('/api/projects'), {
            method: 'POST',
            headers: { ...auth, origin: 'http://127.0.0.1:9999', 'content-type': 'application/json' },
            body: Buffer.from('{"name":"x"}'),
          }),
        403,
      ],
      [
        'a request a browser marks same-site, not same-origin',
        () => raw(url(`/api/projects/${id}/train`), { method: 'POST', headers: { ...auth, 'sec-fetch-site': 'same-site' } }),
        403,
      ],
      [
        'a JSON route sent as text/plain (what a page may send without asking)',
        () =>
          raw(url(`/api/projects/${id}/train`), {
            method: 'POST',
            headers: { ...auth, 'content-type': 'text/plain' },
            body: Buffer.from('{"base":"digits-cnn"}'),
          }),
        415,
      ],
      [
        'a JSON route sent as a form',
        () => call(`/api/projects/${id}/train`, { method: 'POST', body: files({ name: 'x.png', bytes: png, type: 'image/png' }) }),
        415,
      ],
      [
        'files sent url-encoded',
        () =>
          raw(url(`/api/projects/${id}/classes/left/samples`), {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
            body: Buffer.from('a=b'),
          }),
        415,
      ],
      [
        'a file over the per-file limit',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files({ name: 'big.png', bytes: Buffer.alloc(65 * 1024, 1), type: 'image/png' }),
          }),
        413,
      ],
      [
        'a request over the per-request limit',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files(
              ...Array.from({ length: 5 }, (_, i) => ({ name: `p${i}.png`, bytes: Buffer.alloc(60 * 1024, 1), type: 'image/png' })),
            ),
          }),
        413,
      ],
      [
        'a type that is not an image',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files({ name: 'run.sh', bytes: Buffer.from('rm -rf /'), type: 'application/x-sh' }),
          }),
        415,
      ],
      [
        'a name climbing out with ../',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files({ name: '../../escape.png', bytes: png, type: 'image/png' }),
          }),
        400,
      ],
      [
        'an absolute name',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files({ name: '/tmp/escape.png', bytes: png, type: 'image/png' }),
          }),
        400,
      ],
      [
        'a NUL byte in a name',
        () =>
          call(`/api/projects/${id}/classes/left/samples`, {
            method: 'POST',
            body: files({ name: 'a\u0000.png', bytes: png, type: 'image/png' }),
          }),
        400,
      ],
      ['a class path climbing out', () => call(`/api/projects/${id}/classes/..%2F..%2Fx/samples/a.png`, { method: 'DELETE' }), 400],
      ['a project path climbing out', () => call('/api/projects/..%2F..%2Fetc'), 400],
      ['an unknown project', () => call('/api/projects/nowhere'), 404],
      ['a class name with a slash', () => post(`/api/projects/${id}/classes`, { name: 'a/b' }), 400],
      [
        'malformed JSON',
        () => call('/api/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' }),
        400,
      ],
    ];
    for (const [what, send, status] of cases) {
      const r = await send();
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r)}`);
      assert.deepEqual(snapshot(dir), before, `${what}: the workspace changed`);
    }
  });

  it('trains once at a time, streams epochs, reports, predicts and exports', async () => {
    const settings = { base: 'digits-cnn', epochs: 3 };
    const first = await post(`/api/projects/${id}/train`, settings);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const second = await post(`/api/projects/${id}/train`, settings);
    assert.equal(second.status, 409);
    assert.match(second.body.error, /training already running/);
    const events = await fetch(url(`/api/projects/${id}/train/events`), { headers: auth });
    const stream = await events.text();
    const parsed = stream
      .split('\n\n')
      .filter((x) => x.startsWith('data: '))
      .map((x) => JSON.parse(x.slice(6)));
    const last = parsed.at(-1);
    assert.equal(last.type, 'done', JSON.stringify(last));
    assert.ok(
      parsed.some((e) => e.type === 'epoch'),
      'epochs are streamed',
    );
    // Issue 28.2: no learning rate given (the Advanced default) once gave NaN from epoch 2.
    for (const e of parsed.filter((x) => x.type === 'epoch')) assert.ok(Number.isFinite(e.loss), `a finite loss: ${JSON.stringify(e)}`);
    const report = await call(`/api/projects/${id}/report`);
    assert.equal(report.status, 200);
    assert.deepEqual(report.body.classes, ['left', 'right']);
    assert.equal(
      report.body.val.confusion.flat().reduce((a: number, b: number) => a + b, 0),
      report.body.val.n,
    );
    assert.ok(Array.isArray(report.body.mistakes));
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await drawn('right', 2))], { type: 'image/png' }), 'try.png');
    const p = await call(`/api/projects/${id}/predict`, { method: 'POST', body: form });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const sum = p.body.probabilities.reduce((a: number, x: { probability: number }) => a + x.probability, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    const zip = await fetch(url(`/api/projects/${id}/export?format=tfjs`), { headers: auth });
    assert.equal(zip.status, 200);
    const entries = unzipSync(new Uint8Array(await zip.arrayBuffer()));
    for (const name of ['model.json', 'weights.bin', 'graft.json', 'README.txt']) assert.ok(entries[name], `${name} in the zip`);
    const onnx = unzipSync(
      new Uint8Array(await (await fetch(url(`/api/projects/${id}/export?format=onnx`), { headers: auth })).arrayBuffer()),
    );
    assert.ok(onnx['model.onnx'].length > 1000 && onnx['model.onnx.json']);
  });

  it("reads a finished run's events again, as often as asked, and keeps serving (issue 28.1)", async () => {
    const read = async () =>
      (await (await fetch(url(`/api/projects/${id}/train/events`), { headers: auth })).text())
        .split('\n\n')
        .filter((x) => x.startsWith('data: '))
        .map((x) => JSON.parse(x.slice(6)).type as string);
    const first = await read();
    const second = await read();
    assert.equal(first[0], 'start');
    assert.equal(first.at(-1), 'done');
    assert.ok(first.filter((t) => t === 'epoch').length >= 1, first.join());
    assert.deepEqual(second, first, 'every saved event once, in order, then the end');
    assert.equal((await call('/api/projects')).status, 200, 'the studio is still up');
  });

  it("trains with the form left empty: the trainer's default epochs and learning rate (issue 28.2)", async () => {
    assert.equal((await post(`/api/projects/${id}/train`, { base: 'digits-cnn' })).status, 202);
    const parsed = (await (await fetch(url(`/api/projects/${id}/train/events`), { headers: auth })).text())
      .split('\n\n')
      .filter((x) => x.startsWith('data: '))
      .map((x) => JSON.parse(x.slice(6)));
    assert.equal(parsed.at(-1).type, 'done', JSON.stringify(parsed.at(-1)));
    const epochs = parsed.filter((e) => e.type === 'epoch');
    assert.ok(epochs.length >= 2, `epochs ran: ${epochs.length}`);
    assert.equal(epochs[0].epochs, 10, "the head stage plans TRAIN_DEFAULTS' 10 epochs");
    for (const e of epochs) assert.ok(Number.isFinite(e.loss), `a finite loss: ${JSON.stringify(e)}`);
  });

  it('answers an image it cannot read with a 400 that names no path of the server (issue 28.5)', async () => {
    const tryIt = async (bytes: Buffer, name: string, type = 'image/png') => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
      return call(`/api/projects/${id}/predict`, { method: 'POST', body: form });
    };
    // A PNG whose header claims 50000x50000 pixels (its IHDR rewritten, CRC fixed).
    const png = await drawn('left', 0);
    png.writeUInt32BE(50000, 16);
    png.writeUInt32BE(50000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><rect width="28" height="28"/></svg>');
    for (const [what, r] of [
      ['not an image', await tryIt(Buffer.from('definitely not pixels'), 'x.png')],
      ['a 50000x50000 claim', await tryIt(png, 'huge.png')],
      ['an SVG named .png', await tryIt(svg, 'vector.png')],
    ] as const) {
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.doesNotMatch(r.body.error, /\/tmp|graft-studio-|\//, `${what}: no path in ${r.body.error}`);
    }
    const long = await tryIt(await drawn('right', 1), `a.${'x'.repeat(300)}`);
    assert.equal(long.status, 200, `the client's file name plays no part: ${JSON.stringify(long.body)}`);
  });

  it('stores no SVG as an image and serves samples as what their name says, never sniffed (issue 28.5)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><script>alert(1)</script></svg>');
    const r = await call(`/api/projects/${id}/classes/left/samples`, {
      method: 'POST',
      body: files({ name: 'vector.png', bytes: svg, type: 'image/png' }),
    });
    assert.deepEqual(r.body.added, []);
    assert.equal(r.body.rejected[0]?.file, 'vector.png');
    assert.ok(!existsSync(join(dir, id, 'samples/left/vector.png')));
    const served = await fetch(url(`/api/projects/${id}/classes/left/samples/left1.png`), { headers: auth });
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
  });

  it('follows no symbolic link planted in the workspace (issue 28.4)', async () => {
    const outside = tempDir('graft-studio-outside-');
    mkdirSync(join(outside, 'victim'));
    writeFileSync(join(outside, 'victim/keep.png'), await drawn('left', 0));
    writeFileSync(join(outside, 'secret.png'), 'not yours');
    const created = await post('/api/projects', { name: 'Planted', kind: 'image' });
    const planted = created.body.id as string;
    await post(`/api/projects/${planted}/classes`, { name: 'victim' });
    // samples/ itself a link to a folder outside the workspace.
    symlinkSync(outside, join(dir, planted, 'samples'));
    const del = await call(`/api/projects/${planted}/classes/victim`, { method: 'DELETE' });
    assert.equal(del.status, 403, JSON.stringify(del.body));
    assert.ok(existsSync(join(outside, 'victim/keep.png')), 'the folder outside is untouched');
    const get = await call(`/api/projects/${planted}/classes/victim/samples/keep.png`);
    assert.equal(get.status, 403);
    // A link to a file, inside a real class folder: not listed, not served, not deleted through.
    rmSync(join(dir, planted, 'samples'));
    mkdirSync(join(dir, planted, 'samples/victim'), { recursive: true });
    symlinkSync(join(outside, 'secret.png'), join(dir, planted, 'samples/victim/secret.png'));
    const listed = await call(`/api/projects/${planted}`);
    assert.deepEqual(listed.body.samples.victim, []);
    assert.equal((await call(`/api/projects/${planted}/classes/victim/samples/secret.png`)).status, 403);
    assert.equal((await call(`/api/projects/${planted}/classes/victim/samples/secret.png`, { method: 'DELETE' })).status, 403);
    assert.equal(readFileSync(join(outside, 'secret.png'), 'utf8'), 'not yours');
    // The model folder too: a planted model/ link is neither read nor written through.
    symlinkSync(outside, join(dir, planted, 'model'));
    assert.equal((await call(`/api/projects/${planted}/model/graft.json`)).status, 403);
    assert.equal((await call(`/api/projects/${planted}/export?format=tfjs`)).status, 403);
    assert.equal((await call(`/api/projects/${planted}`, { method: 'DELETE' })).status, 200, 'the project itself can still go');
    assert.ok(existsSync(join(outside, 'victim/keep.png')) && existsSync(join(outside, 'secret.png')), 'and only the links go with it');
  });

  it('cancels a run and leaves the trained model as it was', async () => {
    const before = snapshot(join(dir, id, 'model'));
    assert.equal((await post(`/api/projects/${id}/train`, { base: 'digits-cnn', epochs: 200 })).status, 202);
    const events = await fetch(url(`/api/projects/${id}/train/events`), { headers: auth });
    const reader = events.body!.getReader();
    let seen = '';
    let cancelled = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
      if (!cancelled && seen.includes('"type":"epoch"')) {
        cancelled = true;
        assert.deepEqual((await post(`/api/projects/${id}/train/cancel`, {})).body, { cancelled: true });
      }
    }
    assert.match(seen, /"type":"cancelled"/);
    assert.deepEqual(snapshot(join(dir, id, 'model')), before);
  });

  it('a text project: texts typed and uploaded as CSV, trained on use-lite, tried', { timeout: 240_000 }, async () => {
    const created = await post('/api/projects', { name: 'Reviews', kind: 'text' });
    const textId = created.body.id;
    const good = [
      'a wonderful film',
      'great acting and a lovely story',
      'superb, I loved it',
      'delightful from start to end',
      'excellent and moving',
    ];
    const bad = ['an awful film', 'terrible acting, boring story', 'dreadful, I hated it', 'dull from start to end', 'poor and tedious'];
    assert.equal((await post(`/api/projects/${textId}/classes/Class%201/texts`, { texts: good })).body.added, 5);
    const csv = files({
      name: 'bad.csv',
      bytes: Buffer.from(`text,source\n${bad.map((t) => `"${t}",web`).join('\n')}\n`),
      type: 'text/csv',
    });
    const up = await call(`/api/projects/${textId}/classes/Class%202/samples`, { method: 'POST', body: csv });
    assert.equal(up.body.added, 5, JSON.stringify(up.body));
    const png = files({ name: 'x.png', bytes: await drawn('left', 0), type: 'image/png' });
    assert.equal((await call(`/api/projects/${textId}/classes/Class%202/samples`, { method: 'POST', body: png })).status, 415);
    assert.equal((await post(`/api/projects/${textId}/train`, { base: 'use-lite', epochs: 20 })).status, 202);
    const stream = await (await fetch(url(`/api/projects/${textId}/train/events`), { headers: auth })).text();
    assert.match(stream, /"type":"done"/, stream.slice(-500));
    const p = await post(`/api/projects/${textId}/predict`, { text: 'a lovely, wonderful story' });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual(p.body.probabilities.map((x: { label: string }) => x.label).sort(), ['Class 1', 'Class 2']);
  });

  it('a sound project: recordings checked and stored as graft train reads them, drawn as spectrograms; bad ones refused, the workspace unchanged', async () => {
    const created = await post('/api/projects', { name: 'Whistles', kind: 'audio' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const sid = created.body.id as string;
    assert.deepEqual(created.body.classes, ['Background noise', 'Class 2'], 'a sound project records the background first');
    assert.deepEqual((await call('/api/bases')).body.audio[0], 'speech-embedding', 'the stronger speech base first');
    const low = Buffer.from(wav(voiced(140, 0.6), 16000));
    const samples = `/api/projects/${sid}/classes/Class%202/samples`;
    const up = await call(samples, {
      method: 'POST',
      body: files(
        { name: 'low.wav', bytes: low, type: 'audio/wav' },
        { name: 'low8k.wav', bytes: Buffer.from(wav(voiced(150, 0.5, 8000), 8000)), type: 'audio/x-wav' },
        { name: 'quiet.wav', bytes: Buffer.from(wav(new Float32Array(8000), 16000)), type: 'audio/wav' },
      ),
    });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual(up.body.added, ['low.wav', 'low8k.wav']);
    assert.deepEqual(
      up.body.rejected.map((r: { file: string }) => r.file),
      ['quiet.wav'],
    );
    assert.match(up.body.rejected[0].reason, /silent/);
    assert.deepEqual(readdirSync(join(dir, sid, 'samples', 'Class 2')).sort(), ['low.wav', 'low8k.wav'], 'the folder graft train reads');
    const project = await call(`/api/projects/${sid}`);
    assert.deepEqual(project.body.samples['Class 2'], ['low.wav', 'low8k.wav']);
    assert.equal(project.body.counts['Class 2'], 2);
    const served = await fetch(url(`${samples}/low.wav`), { headers: auth });
    assert.equal(served.headers.get('content-type'), 'audio/wav');
    assert.ok(Buffer.from(await served.arrayBuffer()).equals(low));
    const picture = await fetch(url(`${samples}/low.wav/spectrogram`), { headers: auth });
    assert.equal(picture.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await picture.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [198, 64], '2 s at 16 kHz: (32000 - 400) / 160 + 1 frames, 64 mel bands');

    const before = snapshot(dir);
    const refused: [string, Promise<{ status: number }>, number][] = [
      [
        'an image',
        call(samples, { method: 'POST', body: files({ name: 'a.png', bytes: await drawn('left', 1), type: 'image/png' }) }),
        415,
      ],
      [
        'a recording named as an image',
        call(samples, { method: 'POST', body: files({ name: 'a.png', bytes: low, type: 'audio/wav' }) }),
        415,
      ],
      [
        'a good file then one with a bad name',
        call(samples, {
          method: 'POST',
          body: files({ name: 'ok.wav', bytes: low, type: 'audio/wav' }, { name: 'x.txt', bytes: low, type: 'audio/wav' }),
        }),
        415,
      ],
      ['a path for a name', call(samples, { method: 'POST', body: files({ name: '../up.wav', bytes: low, type: 'audio/wav' }) }), 400],
      ['the spectrogram of nothing', call(`${samples}/none.wav/spectrogram`), 404],
      ['a spectrogram of a path', call(`${samples}/..%2F..%2Fproject.json/spectrogram`), 400],
      [
        'a predict before training',
        call(`/api/projects/${sid}/predict`, { method: 'POST', body: files({ name: 'a.wav', bytes: low, type: 'audio/wav' }) }),
        404,
      ],
    ];
    for (const [what, r, status] of refused) assert.equal((await r).status, status, what);
    assert.deepEqual(snapshot(dir), before, 'a refused request changes nothing');
  });

  it('downloads a project as one zip and opens it again as a new project, byte for byte; refuses a bad archive and writes nothing', async () => {
    const zipped = await fetch(url(`/api/projects/${id}/archive`), { headers: auth });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers.get('content-type'), 'application/zip');
    const archive = Buffer.from(await zipped.arrayBuffer());
    const entries = unzipSync(new Uint8Array(archive));
    assert.ok(entries['project.json'] && !Object.keys(entries).some((k) => k.startsWith('model/')), Object.keys(entries).join(', '));
    const open = (bytes: Uint8Array, type = 'application/zip') => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes)], { type }), 'project.zip');
      return call('/api/archives', { method: 'POST', body: form });
    };
    const opened = await open(archive);
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    assert.notEqual(opened.body.id, id, 'a new project beside the old one');
    const samples = (project: string) =>
      Object.fromEntries(Object.entries(snapshot(join(dir, project))).filter(([k]) => k.startsWith('/samples/')));
    assert.ok(Object.keys(samples(id)).length > 10);
    assert.deepEqual(samples(opened.body.id), samples(id), 'every sample byte for byte');
    assert.deepEqual(opened.body.classes, JSON.parse(new TextDecoder().decode(entries['project.json'])).classes);

    const before = snapshot(dir);
    const png = await drawn('left', 3);
    const zip = (files: Record<string, Uint8Array>) => zipSync(files);
    const bad: [string, Uint8Array, number, RegExp, string?][] = [
      ['not a zip', new Uint8Array(png), 400, /not a readable zip/],
      ['a zip sent as an image', archive, 415, /send one zip/, 'image/png'],
      ['no project.json', zip({ 'samples/left/a.png': png }), 400, /no project\.json/],
      ['a path out of the project', zip({ 'project.json': entries['project.json'], 'samples/../evil.png': png }), 400, /not allowed/],
      [
        'a deeper path',
        zip({ 'project.json': entries['project.json'], 'samples/left/../../evil.png': png }),
        400,
        /holds project\.json and samples/,
      ],
      [
        'a class the project lacks',
        zip({ 'project.json': entries['project.json'], 'samples/middle/a.png': png }),
        400,
        /not one of the project's classes/,
      ],
      [
        'a file that is no image',
        zip({ 'project.json': entries['project.json'], 'samples/left/a.png': new TextEncoder().encode('<svg/>') }),
        400,
        /./,
      ],
      [
        'an entry over the file limit',
        zip({ 'project.json': entries['project.json'], 'samples/left/big.png': new Uint8Array(65 * 1024) }),
        413,
        /over/,
      ],
      [
        'a kind it does not know',
        zip({ 'project.json': new TextEncoder().encode('{"name":"x","kind":"video","classes":["a"]}') }),
        400,
        /kind/,
      ],
    ];
    for (const [what, bytes, status, message, type] of bad) {
      const r = await open(bytes, type);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), message, what);
    }
    assert.deepEqual(snapshot(dir), before, 'a refused archive leaves nothing behind');
  });

  it('a detection project: images with their size, boxes checked and kept as COCO JSON; bad ones refused, the workspace unchanged', async () => {
    const created = await post('/api/projects', { name: 'Boxes', kind: 'detection' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const did = created.body.id as string;
    assert.deepEqual(created.body.classes, ['object']);
    const png = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const up = await call(`/api/projects/${did}/images`, { method: 'POST', body: files({ name: 'a.png', bytes: png, type: 'image/png' }) });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual(up.body.added, ['a.png']);
    const put = (file: string, boxes: unknown) =>
      call(`/api/projects/${did}/images/${file}/boxes`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ boxes }),
      });
    // A box drawn past the edge is clipped to the image.
    const ok = await put('a.png', [{ label: 'object', box: [50, 30, 20, 20] }]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.boxes, [{ label: 'object', box: [50, 30, 10, 10] }]);
    const coco = JSON.parse(readFileSync(join(dir, did, 'annotations.json'), 'utf8'));
    assert.deepEqual(coco.images, [{ id: 1, file_name: 'images/a.png', width: 60, height: 40 }]);
    assert.deepEqual(coco.annotations[0].bbox, [50, 30, 10, 10]);
    assert.deepEqual(coco.categories, [{ id: 1, name: 'object' }]);
    // Renaming the class relabels its boxes.
    assert.equal(
      (
        await call(`/api/projects/${did}/classes/object`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"dot"}',
        })
      ).status,
      200,
    );
    assert.deepEqual((await call(`/api/projects/${did}`)).body.samples[0].boxes, [{ label: 'dot', box: [50, 30, 10, 10] }]);
    assert.equal((await call(`/api/projects/${did}`)).body.counts.dot, 1);

    // Pascal VOC and YOLO folders, zipped, added as graft train reads them (VOC's corners are 1-based).
    const zipped = (entries: Record<string, Uint8Array>) => {
      const form = new FormData();
      form.append('file', new Blob([zipSync(entries)], { type: 'application/zip' }), 'boxes.zip');
      return call(`/api/projects/${did}/boxes-import`, { method: 'POST', body: form });
    };
    const text = (t: string) => new TextEncoder().encode(t);
    const voc = await zipped({
      'v.png': new Uint8Array(png),
      'v.xml': text(
        '<annotation><filename>v.png</filename><size><width>60</width><height>40</height><depth>3</depth></size><object><name>cat</name><difficult>0</difficult><bndbox><xmin>11</xmin><ymin>6</ymin><xmax>30</xmax><ymax>25</ymax></bndbox></object></annotation>',
      ),
    });
    assert.equal(voc.status, 200, JSON.stringify(voc.body));
    assert.equal(voc.body.format, 'voc');
    assert.deepEqual(voc.body.added, ['v.png']);
    const yolo = await zipped({
      'images/y.png': new Uint8Array(png),
      'labels/y.txt': text('0 0.5 0.5 0.5 0.5\n'),
      'classes.txt': text('dot\n'),
    });
    assert.equal(yolo.status, 200, JSON.stringify(yolo.body));
    assert.equal(yolo.body.format, 'yolo');
    const fromCoco = await zipped({
      'set.json': text(
        JSON.stringify({
          images: [{ id: 7, file_name: 'pics/c.png', width: 60, height: 40 }],
          annotations: [{ id: 1, image_id: 7, category_id: 3, bbox: [2, 3, 10, 12], area: 120, iscrowd: 0 }],
          categories: [{ id: 3, name: 'dot' }],
        }),
      ),
      'pics/c.png': new Uint8Array(png),
    });
    assert.equal(fromCoco.status, 200, JSON.stringify(fromCoco.body));
    assert.equal(fromCoco.body.format, 'coco');
    const after = (await call(`/api/projects/${did}`)).body;
    assert.deepEqual(after.classes, ['dot', 'cat'], "the data set's new class added");
    const byFile = Object.fromEntries(after.samples.map((im: { file: string; boxes: unknown }) => [im.file, im.boxes]));
    assert.deepEqual(byFile['v.png'], [{ label: 'cat', box: [10, 5, 20, 20] }]);
    assert.deepEqual(byFile['y.png'], [{ label: 'dot', box: [15, 10, 30, 20] }]);
    assert.deepEqual(byFile['c.png'], [{ label: 'dot', box: [2, 3, 10, 12] }]);

    const before = snapshot(dir);
    const refused: [string, Promise<{ status: number }>, number][] = [
      ['a zip with a path out of its folder', zipped({ '../v.png': new Uint8Array(png) }), 400],
      ['a zip of no detection data', zipped({ 'notes.txt': text('hello') }), 400],
      ['a class the project lacks', put('a.png', [{ label: 'cat2', box: [1, 1, 5, 5] }]), 400],
      ['a box outside the image', put('a.png', [{ label: 'dot', box: [70, 50, 5, 5] }]), 400],
      ['not numbers', put('a.png', [{ label: 'dot', box: [1, 1, 'x', 5] }]), 400],
      ['not a list', put('a.png', { label: 'dot' }), 400],
      ['boxes of no image', put('b.png', []), 404],
      ['boxes of a path (no such image: the name is never a path)', put('..%2Fproject.json', []), 404],
      [
        'an image to a class folder',
        call(`/api/projects/${did}/classes/dot/samples`, { method: 'POST', body: files({ name: 'b.png', bytes: png, type: 'image/png' }) }),
        400,
      ],
      [
        'a recording as an image',
        call(`/api/projects/${did}/images`, {
          method: 'POST',
          body: files({ name: 'b.wav', bytes: Buffer.from(wav(voiced(140, 0.3), 16000)), type: 'audio/wav' }),
        }),
        415,
      ],
      [
        'a good image then a bad name',
        call(`/api/projects/${did}/images`, {
          method: 'POST',
          body: files({ name: 'b.png', bytes: png, type: 'image/png' }, { name: 'c.txt', bytes: png, type: 'image/png' }),
        }),
        415,
      ],
      [
        'a threshold out of range',
        call(`/api/projects/${did}/predict`, { method: 'POST', body: files({ name: 'a.png', bytes: png, type: 'image/png' }) }),
        404,
      ],
    ];
    for (const [what, r, status] of refused) assert.equal((await r).status, status, what);
    assert.deepEqual(snapshot(dir), before, 'a refused request changes nothing');
  });

  it('keeps its projects across a restart', async () => {
    const again = await startStudio({ dir, port: 0 });
    try {
      const r = await fetch(new URL('/api/projects', again.url), { headers: { 'x-graft-token': again.token } });
      const listed = (await r.json()) as { id: string; trained: boolean }[];
      assert.ok(
        listed.some((p) => p.id === id && p.trained),
        JSON.stringify(listed),
      );
      const old = await fetch(new URL('/api/projects', again.url), { headers: auth });
      assert.equal(old.status, 401, "the old server's token does not open the new one");
    } finally {
      await again.close();
    }
  });

  it('graft studio refuses a --base it cannot load before it starts', () => {
    const r = graft('studio', '--dir', join(dir, 'cli'), '--no-open', '--base', join(dir, 'nowhere/model.json'));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^error: .*nowhere/m);
  });

  it('graft studio prints its URL with the token, serves it, and stops on SIGTERM', async () => {
    const extraBase = join(root, 'models/digits-cnn/model.json');
    const child = spawn(
      process.execPath,
      [join(root, 'bin/graft.js'), 'studio', '--dir', join(dir, 'cli'), '--port', '0', '--no-open', '--base', extraBase],
      {
        cwd: root,
      },
    );
    const opened = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    try {
      const page = await fetch(opened);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /graft studio/);
      const headers = { 'x-graft-token': new URL(opened).searchParams.get('token')! };
      const bases = await (await fetch(new URL('/api/bases', opened), { headers })).json();
      assert.deepEqual(bases.image, ['mobilenet_v2', 'inception_v3', 'digits-cnn', extraBase], 'a base given with --base is offered');
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    const code = await new Promise<number | null>((resolve) => {
      child.removeAllListeners('exit');
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});

describe('graft studio --allowed-hosts', () => {
  it('answers the Host names it was given as its own (the page from there too), and refuses others', async () => {
    const studio = await startStudio({ dir: tempDir('graft-studio-hosts-'), port: 0, allowedHosts: ['studio.lan'] });
    try {
      const port = new URL(studio.url).port;
      const projects = (host: string, origin?: string) =>
        raw(new URL('/api/projects', studio.url).toString(), {
          headers: { 'x-graft-token': studio.token, host, ...(origin ? { origin } : {}) },
        });
      assert.equal((await projects(`studio.lan:${port}`)).status, 200);
      assert.equal((await projects('studio.lan')).status, 200, 'a bare name: a proxy on the scheme port');
      assert.equal((await projects(`studio.lan:${port}`, `http://studio.lan:${port}`)).status, 200, "the page's own origin");
      assert.equal((await projects(`studio.lan:${port}`, `http://127.0.0.1:${port}`)).status, 403, 'another origin');
      assert.equal((await projects(`evil.example:${port}`)).status, 403);
    } finally {
      await studio.close();
    }
  });
});

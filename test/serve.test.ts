// graft serve over HTTP on 127.0.0.1: TF Serving's predict API (JSON with base64 images, raw image
// bodies, multipart), the answers equal graft's own predictions, concurrent requests batched,
// Prometheus metrics, 200 malformed requests answered 4xx without harm, SIGTERM finishing in-flight
// work and exiting 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { useBackend } from '../src/backend/index.js';
import { loadModel } from '../src/kinds/index.js';
import { startServer, type Server } from '../src/serve/server.js';
import { graft, root, sweep, tempDir } from './helpers.js';

async function square(x: number, y: number): Promise<Buffer> {
  const svg = `<svg width="28" height="28"><rect width="28" height="28" fill="black"/><rect x="${x}" y="${y}" width="10" height="10" fill="white"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

describe('graft serve', () => {
  const dir = tempDir('graft-serve-');
  const model = join(dir, 'squares');
  let server: Server;
  let probe: Buffer;
  const url = (path: string) => new URL(path, server.url).toString();
  const predict = (body: unknown, name = 'squares') =>
    fetch(url(`/v1/models/${name}:predict`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  before(async () => {
    for (const side of ['left', 'right']) {
      mkdirSync(join(dir, 'data', side), { recursive: true });
      for (let i = 0; i < 12; i++)
        writeFileSync(join(dir, 'data', side, `${i}.png`), await square(side === 'left' ? 2 + (i % 4) : 15 + (i % 3), 4 + (i % 8)));
    }
    const r = graft('train', '--base', 'digits-cnn', '--data', join(dir, 'data'), '--out', model, '--epochs', '3', '--unfreeze', '0');
    assert.equal(r.code, 0, r.stderr);
    const rows = ['text,label'];
    for (const w of ['wonderful', 'great', 'lovely', 'superb', 'delightful', 'excellent']) rows.push(`a ${w} film,pos`, `${w} acting,pos`);
    for (const w of ['awful', 'terrible', 'boring', 'dreadful', 'dull', 'poor']) rows.push(`an ${w} film,neg`, `${w} acting,neg`);
    writeFileSync(join(dir, 'reviews.csv'), rows.join('\n'));
    const t = graft('train', '--base', 'use-lite', '--scratch', '--data', join(dir, 'reviews.csv'), '--out', join(dir, 'reviews'));
    assert.equal(t.code, 0, t.stderr);
    for (const [word, from, to] of [
      ['rise', 300, 1500],
      ['fall', 1500, 300],
    ] as const) {
      mkdirSync(join(dir, 'words', word), { recursive: true });
      for (let i = 0; i < 10; i++)
        writeFileSync(join(dir, 'words', word, `${i}.wav`), sweep(from * (1 + 0.03 * i), to * (1 + 0.03 * i), 0.5));
    }
    const a = graft('train', '--base', 'speech-cnn', '--data', join(dir, 'words'), '--out', join(dir, 'words-model'), '--epochs', '5');
    assert.equal(a.code, 0, a.stderr);
    // Two tasks on one trunk: the square's side, and whether it sits high or low.
    const manifest = ['path,side,height'];
    for (const side of ['left', 'right'])
      for (let i = 0; i < 12; i++) manifest.push(`data/${side}/${i}.png,${side},${4 + (i % 8) < 8 ? 'high' : 'low'}`);
    writeFileSync(join(dir, 'tasks.csv'), manifest.join('\n'));
    const m = graft(
      'train',
      '--base',
      'digits-cnn',
      '--data',
      join(dir, 'tasks.csv'),
      '--task',
      'side',
      '--task',
      'height',
      '--out',
      join(dir, 'tasks'),
      '--epochs',
      '2',
    );
    assert.equal(m.code, 0, m.stderr);
    probe = await square(16, 9);
    writeFileSync(join(dir, 'probe.png'), probe);
    await useBackend('wasm');
    server = await startServer({
      models: { squares: model, reviews: join(dir, 'reviews'), words: join(dir, 'words-model'), tasks: join(dir, 'tasks') },
      port: 0,
      maxBatch: 8,
      maxDelayMs: 20,
      maxBodyBytes: 256 * 1024,
    });
  });
  after(() => server?.close());

  it('describes the model, and answers as graft predict does, from JSON, a raw image and multipart', async () => {
    const meta = await (await fetch(url('/v1/models/squares'))).json();
    assert.equal(meta.model_version_status[0].state, 'AVAILABLE');
    assert.deepEqual(meta.labels, ['left', 'right']);
    assert.deepEqual(meta.input.height, 28);
    const own = await loadModel(model);
    const [expected] = await own.predict([join(dir, 'probe.png')], { top: 2 });
    // The kind takes the file's bytes as well, decoded as the file is: the same answer, named as given.
    const fromBytes = await own.predict([{ bytes: probe }, { bytes: probe, name: 'probe', type: 'image/png' }], { top: 2 });
    assert.deepEqual(fromBytes, [
      { ...expected, file: 'input 1' },
      { ...expected, file: 'probe' },
    ]);
    await own.dispose();
    const byLabel = Object.fromEntries(
      (expected as { top: { label: string; probability: number }[] }).top.map((t) => [t.label, t.probability]),
    );
    const json = await (await predict({ instances: [{ b64: probe.toString('base64') }] })).json();
    const raw = await (
      await fetch(url('/v1/models/squares:predict'), {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Uint8Array(probe),
      })
    ).json();
    const form = new FormData();
    form.append('a', new Blob([new Uint8Array(probe)], { type: 'image/png' }), 'a.png');
    form.append('b', new Blob([new Uint8Array(await square(3, 5))], { type: 'image/png' }), 'b.png');
    const multi = await (await fetch(url('/v1/models/squares:predict'), { method: 'POST', body: form })).json();
    assert.equal(multi.predictions.length, 2);
    for (const answer of [json.predictions[0], raw.predictions[0], multi.predictions[0]])
      json.labels.forEach((label: string, i: number) =>
        assert.ok(Math.abs(answer[i] - byLabel[label]) < 1e-4, `${label}: ${answer[i]} vs ${byLabel[label]}`),
      );
    const api = await (await fetch(url('/openapi.json'))).json();
    assert.ok(api.paths['/v1/models/{name}:predict'].post);
  });

  it('serves a text classifier from a list of texts, as graft predict does', async () => {
    const texts = ['a lovely film', 'boring acting'];
    const r = await fetch(url('/v1/models/reviews:predict'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: texts }),
    });
    assert.equal(r.status, 200);
    const body = await r.json();
    const own = await loadModel(join(dir, 'reviews'));
    const expected = (await own.predict(texts, { top: 2 })) as { top: { label: string; probability: number }[] }[];
    await own.dispose();
    expected.forEach((e, i) =>
      e.top.forEach((t) => assert.ok(Math.abs(body.predictions[i][body.labels.indexOf(t.label)] - t.probability) < 1e-6)),
    );
    const image = await fetch(url('/v1/models/reviews:predict'), {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array(probe),
    });
    assert.equal(image.status, 400, 'an image to a text model');
  });

  it('serves a recording model through its own predict: raw audio/wav and base64 JSON', async () => {
    const wav = sweep(320, 1600, 0.6);
    const raw = await fetch(url('/v1/models/words:predict'), {
      method: 'POST',
      headers: { 'content-type': 'audio/wav' },
      body: new Uint8Array(wav),
    });
    assert.equal(raw.status, 200);
    const body = await raw.json();
    assert.deepEqual([...body.labels].sort(), ['fall', 'rise']);
    const top = body.predictions[0].top as { label: string; probability: number }[];
    assert.equal(top[0].label, 'rise', JSON.stringify(top));
    const json = await (await predict({ instances: [{ b64: Buffer.from(wav).toString('base64') }] }, 'words')).json();
    assert.deepEqual(json.predictions[0], body.predictions[0]);
    const meta = await (await fetch(url('/v1/models/words'))).json();
    assert.equal(meta.kind, 'image', 'a recording model is an image classifier whose medium is audio');
    assert.equal(meta.input.type, 'audio');
    // The kind's own predict on the bytes: what serve answered, and what it says of the file holding them.
    writeFileSync(join(dir, 'probe.wav'), wav);
    const own = await loadModel(join(dir, 'words-model'));
    const [file, bytes, typed] = await own.predict(
      [join(dir, 'probe.wav'), { bytes: wav }, { bytes: wav, name: 'probe', type: 'audio/wav' }],
      { top: 5 },
    );
    await own.dispose();
    assert.deepEqual(bytes, { ...file, file: 'input 2' });
    assert.deepEqual(typed, { ...file, file: 'probe' });
    assert.deepEqual(JSON.parse(JSON.stringify(body.predictions[0])), JSON.parse(JSON.stringify({ top: (file as { top: unknown }).top })));
    const image = await fetch(url('/v1/models/words:predict'), {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array(probe),
    });
    assert.equal(image.status, 400);
    assert.match((await image.json()).error, /an image, not a recording/);
    assert.equal((await predict({ instances: [{ b64: Buffer.from('RIFF....junk').toString('base64') }] }, 'words')).status, 400);
  });

  it('serves a multi-task model: an answer per task, as graft predict gives', async () => {
    const r = await predict({ instances: [{ b64: probe.toString('base64') }] }, 'tasks');
    assert.equal(r.status, 200);
    const body = await r.json();
    const own = await loadModel(join(dir, 'tasks'));
    const [expected, fromBytes] = await own.predict([join(dir, 'probe.png'), { bytes: probe, name: 'probe.png' }], { top: 5 });
    await own.dispose();
    assert.deepEqual(fromBytes, { ...expected, file: 'probe.png' });
    const { file: _file, ...answer } = expected as unknown as Record<string, unknown>;
    assert.deepEqual(JSON.parse(JSON.stringify(body.predictions[0])), JSON.parse(JSON.stringify(answer)));
    assert.deepEqual([...body.labels].sort(), ['high', 'left', 'low', 'right']);
  });

  it('batches concurrent requests, and counts them in /metrics', async () => {
    const b64 = probe.toString('base64');
    const answers = await Promise.all(Array.from({ length: 24 }, () => predict({ instances: [{ b64 }] })));
    assert.ok(answers.every((r) => r.status === 200));
    const metrics = await (await fetch(url('/metrics'))).text();
    const value = (name: string) => Number(new RegExp(`^${name}\\{model="squares"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const [sum, count] = [value('graft_batch_size_sum'), value('graft_batch_size_count')];
    assert.ok(sum / count > 1.5, `mean batch ${sum}/${count}: concurrent requests should share batches`);
    assert.match(metrics, /graft_requests_total\{model="squares",status="200"\} \d+/);
    assert.match(metrics, /graft_request_seconds_bucket\{le="0.1",model="squares"\} \d+/);
  });

  it('answers 200 malformed requests of every kind with 4xx and a reason, then a good one', async () => {
    const corrupt = Buffer.from('not an image').toString('base64');
    const bad: [() => Promise<Response>, number][] = [
      [
        () =>
          fetch(url('/v1/models/squares:predict'), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"instances": [',
          }),
        400,
      ],
      [() => predict({ instances: [{ b64: corrupt }] }), 400],
      [() => predict({ instances: [{ b64: '!!!' }] }), 400],
      [() => predict({ instances: [] }), 400],
      [() => predict({ nope: 1 }), 400],
      [() => predict({ instances: ['a text, to an image model'] }), 400],
      [() => predict({ instances: [42] }), 400],
      [
        () =>
          fetch(url('/v1/models/nowhere:predict'), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"instances":["x"]}',
          }),
        404,
      ],
      [() => fetch(url('/v1/models/squares:predict'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415],
      [
        () =>
          fetch(url('/v1/models/squares:predict'), {
            method: 'POST',
            headers: { 'content-type': 'image/png' },
            body: new Uint8Array(300 * 1024),
          }),
        413,
      ],
      [() => fetch(url('/v1/models/squares:predict'), { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'garbage' }), 400],
    ];
    for (let i = 0; i < 200; i += 10) {
      const round = await Promise.all(
        Array.from({ length: 10 }, async (_, k) => {
          const [send, status] = bad[(i + k) % bad.length];
          const r = await send();
          const body = await r.json();
          return { status: r.status, expected: status, error: body.error as string };
        }),
      );
      for (const r of round) {
        assert.equal(r.status, r.expected, r.error);
        assert.ok(r.error && !r.error.includes('\n'), 'a one-line reason');
      }
    }
    const good = await predict({ instances: [{ b64: probe.toString('base64') }] });
    assert.equal(good.status, 200);
    assert.equal((await (await fetch(url('/healthz'))).json()).status, 'ok');
  });

  it('graft serve exits 0 on SIGTERM after answering the request in flight', async () => {
    const child = spawn(process.execPath, [join(root, 'bin/graft.js'), 'serve', '--model', model, '--port', '0'], { cwd: root });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /serving squares at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const inFlight = fetch(new URL('/v1/models/squares:predict', base), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: Array.from({ length: 64 }, () => ({ b64: probe.toString('base64') })) }),
      });
      await new Promise((r) => setTimeout(r, 30));
      const exited = new Promise<number | null>((resolve) => {
        child.removeAllListeners('exit');
        child.on('exit', resolve);
      });
      child.kill('SIGTERM');
      const answer = await inFlight;
      assert.equal(answer.status, 200);
      assert.equal((await answer.json()).predictions.length, 64);
      // It stops once the answer is out, not after the kept-alive connection times out (72 s).
      const answered = performance.now();
      assert.equal(await exited, 0);
      assert.ok(performance.now() - answered < 10_000, `exited ${(performance.now() - answered) / 1000} s after answering`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('graft serve --allowed-hosts answers those Host names too (403 to any other); a bad name is exit 2', async () => {
    const child = spawn(
      process.execPath,
      [join(root, 'bin/graft.js'), 'serve', '--model', model, '--port', '0', '--allowed-hosts', 'Models.Internal,proxy.example:8080'],
      { cwd: root },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /serving squares at http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      /** GET /healthz with this Host header (fetch sets its own). */
      const status = (host: string) =>
        new Promise<number>((resolve, reject) =>
          request({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
            .on('error', reject)
            .end(),
        );
      const answers = Object.fromEntries(
        await Promise.all(
          [
            `models.internal:${port}`,
            'models.internal',
            'proxy.example:8080',
            `127.0.0.1:${port}`,
            `proxy.example:${port}`,
            `evil.example:${port}`,
            'evil.example',
          ].map(async (h) => [h, await status(h)]),
        ),
      );
      assert.deepEqual(answers, {
        [`models.internal:${port}`]: 200,
        'models.internal': 200,
        'proxy.example:8080': 200,
        [`127.0.0.1:${port}`]: 200,
        [`proxy.example:${port}`]: 403,
        [`evil.example:${port}`]: 403,
        'evil.example': 403,
      });
    } finally {
      child.kill('SIGKILL');
    }
    for (const bad of ['http://models.internal/', 'a b', 'x,', 'x:99999']) {
      const r = graft('serve', '--model', model, '--allowed-hosts', bad);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: --allowed-hosts: .* is not a host name/m);
    }
  });

  it('refuses a model it cannot serve, and no --model, with one line', () => {
    const none = graft('serve');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^error: graft serve needs --model/m);
    assert.ok(readFileSync(join(model, 'graft.json')).length > 0);
  });
});

// graft serve against hostile clients (issue 28), on 127.0.0.1: a multipart body over the limit in
// total (413 before it is all sent, the connection closed), one bad instance among good ones in a
// batch (only its own request fails), WAVs whose header lies (400 with the reason, no server path),
// slow bodies (cut at the request timeout) and shutdown with slow clients connected (cut after a
// short grace, the answer in flight still given), a Host header naming another server (403) and
// unknown routes (graft's one-line error); and `graft predict` naming a lying WAV in its one line.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { decodeWav } from '../../src/data/audio/wav.js';
import { DecodeError } from '../../src/data/images.js';
import { DynamicBatcher } from '../../src/serve/batcher.js';
import { startServer, type Server } from '../../src/serve/server.js';
import { graft, sweep, tempDir } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A canonical 44-byte-header WAV with one field overwritten: its header lies. */
function lying(wav: Buffer, field: 'channels' | 'rate' | 'dataSize', value: number): Buffer {
  const b = Buffer.from(wav);
  if (field === 'channels') b.writeUInt16LE(value, 22);
  else b.writeUInt32LE(value, field === 'rate' ? 24 : 40);
  return b;
}

async function square(x: number, y: number): Promise<Buffer> {
  const svg = `<svg width="28" height="28"><rect width="28" height="28" fill="black"/><rect x="${x}" y="${y}" width="10" height="10" fill="white"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A message a client may see: one line, no stack, and no path of the server's (a temporary file, a model directory). */
function assertClean(error: unknown, context: string): void {
  assert.equal(typeof error, 'string', `${context}: {"error": "..."}`);
  const e = error as string;
  assert.ok(e.length > 0 && !e.includes('\n'), `${context}: one line: ${e}`);
  assert.ok(!e.includes(tmpdir()) && !/(^|[\s(:'"])\/\w+\//.test(e) && !/\bat .*:\d+:\d+/.test(e), `${context}: names a path: ${e}`);
}

interface RawAnswer {
  status: number | undefined;
  body: string;
  /** ms from the first byte sent until the server closed the connection. */
  closedAfter: number;
}

/** Bytes sent on a plain TCP connection, then a byte every `drip` ms until the server closes it (or `giveUp` ms pass). */
function slowClient(port: number, head: string, drip: number): { socket: Socket; done: Promise<RawAnswer> } {
  const socket = connect(port, '127.0.0.1');
  const start = performance.now();
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    if (head) socket.write(head);
    if (drip > 0) timer = setInterval(() => socket.writable && socket.write('x'), drip);
  });
  const done = new Promise<RawAnswer>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      resolve({
        status: status ? Number(status) : undefined,
        body: received.split('\r\n\r\n')[1] ?? '',
        closedAfter: performance.now() - start,
      });
    }),
  );
  return { socket, done };
}

/** Resolves to 'timeout' if `p` takes longer than `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

describe('graft serve against hostile clients', () => {
  const dir = tempDir('graft-serve-hostile-');
  let server: Server;
  let port: number;
  let good: Buffer;
  let image: Buffer;
  const LIMIT = 256 * 1024;
  const url = (path: string) => new URL(path, server.url).toString();
  const post = async (name: string, body: Buffer, type: string) => {
    const r = await fetch(url(`/v1/models/${name}:predict`), {
      method: 'POST',
      headers: { 'content-type': type },
      body: new Uint8Array(body),
    });
    return { status: r.status, body: (await r.json()) as { error?: string; predictions?: unknown[] } };
  };

  before(async () => {
    for (const [word, from, to] of [
      ['rise', 300, 1500],
      ['fall', 1500, 300],
    ] as const) {
      mkdirSync(join(dir, 'words', word), { recursive: true });
      for (let i = 0; i < 6; i++)
        writeFileSync(join(dir, 'words', word, `${i}.wav`), sweep(from * (1 + 0.03 * i), to * (1 + 0.03 * i), 0.5));
    }
    const a = graft('train', '--base', 'speech-cnn', '--data', join(dir, 'words'), '--out', join(dir, 'words-model'), '--epochs', '1');
    assert.equal(a.code, 0, a.stderr);
    const manifest = ['path,side,height'];
    for (const side of ['left', 'right']) {
      mkdirSync(join(dir, 'data', side), { recursive: true });
      for (let i = 0; i < 6; i++) {
        writeFileSync(join(dir, 'data', side, `${i}.png`), await square(side === 'left' ? 2 + (i % 4) : 15 + (i % 3), 4 + (i % 8)));
        manifest.push(`data/${side}/${i}.png,${side},${i % 2 ? 'high' : 'low'}`);
      }
    }
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
      '1',
    );
    assert.equal(m.code, 0, m.stderr);
    good = Buffer.from(sweep(320, 1600, 0.6));
    image = await sharp(await square(16, 9))
      .jpeg()
      .toBuffer();
    await useBackend('wasm');
    server = await startServer({
      models: { words: join(dir, 'words-model'), tasks: join(dir, 'tasks') },
      port: 0,
      maxDelayMs: 100,
      maxBodyBytes: LIMIT,
    });
    port = Number(new URL(server.url).port);
  });
  after(() => server?.close());

  it('refuses a multipart body over the limit in total with 413 before it is all sent, and reads no further (item 6)', async () => {
    // 40 parts of 200 KB (8 MB), each under the 256 KB limit: chunked (no length to refuse up front), paced.
    const boundary = 'graftboundary';
    const part = (i: number) =>
      Buffer.concat([
        Buffer.from(
          `--${boundary}\r\ncontent-disposition: form-data; name="f${i}"; filename="${i}.png"\r\ncontent-type: image/png\r\n\r\n`,
        ),
        Buffer.alloc(200 * 1024, i),
        Buffer.from('\r\n'),
      ]);
    const req = request(url('/v1/models/tasks:predict'), {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    req.on('error', () => {}); // the server closes the connection once it has answered
    const drained = () =>
      new Promise<void>((resolve) => {
        const done = () => (clearTimeout(timer), req.off('drain', done), resolve());
        const timer = setTimeout(done, 200);
        req.once('drain', done);
      });
    let sent = 0;
    let sentWhenAnswered = -1;
    const answer = new Promise<{ status: number; body: string }>((resolve) =>
      req.on('response', (res) => {
        sentWhenAnswered = sent;
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }),
    );
    const closed = new Promise<void>((resolve) => req.on('socket', (s) => s.on('close', () => resolve())));
    for (let i = 0; i < 40 && sentWhenAnswered < 0; i++) {
      const chunk = part(i);
      if (!req.write(chunk)) await Promise.race([drained(), answer]);
      sent += chunk.length;
      await sleep(5);
    }
    if (sentWhenAnswered < 0) req.end(`--${boundary}--\r\n`);
    const r = await within(answer, 10_000);
    assert.notEqual(r, 'timeout', 'no answer');
    const { status, body } = r as { status: number; body: string };
    assert.equal(status, 413, body);
    assertClean(JSON.parse(body).error, 'multipart over the limit');
    const total = 40 * part(0).length;
    assert.ok(sentWhenAnswered >= 0 && sentWhenAnswered < total / 4, `answered after ${sentWhenAnswered} of ${total} bytes`);
    // The client stopped sending; the server does not wait for the rest (until the request timeout, 30 s).
    assert.notEqual(await within(closed, 3000), 'timeout', 'the connection is closed after the 413: the rest is not read');

    // With a length over the limit: refused before a byte of the body is sent.
    const declared = slowClient(
      port,
      `POST /v1/models/tasks:predict HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${2 ** 31}\r\n\r\n`,
      0,
    );
    const d = await within(declared.done, 3000);
    declared.socket.destroy();
    assert.notEqual(d, 'timeout', 'a declared length over the limit waits for the body');
    assert.equal((d as RawAnswer).status, 413);
    assertClean(JSON.parse((d as RawAnswer).body).error, 'content-length over the limit');
  });

  it('fails only the bad instance in a batch: a lying WAV beside four good ones, a truncated JPEG beside three good images (item 7)', async () => {
    const audio = await Promise.all([
      post('words', lying(good, 'rate', 1), 'audio/wav'),
      ...Array.from({ length: 4 }, () => post('words', good, 'audio/wav')),
    ]);
    assert.deepEqual(
      audio.map((r) => r.status),
      [400, 200, 200, 200, 200],
      JSON.stringify(audio.map((r) => r.body.error)),
    );
    assertClean(audio[0].body.error, 'the lying WAV');
    assert.match(audio[0].body.error!, /sample rate of 1 Hz/);
    const truncated = image.subarray(0, Math.floor(image.length / 2));
    const images = await Promise.all([
      post('tasks', truncated, 'image/jpeg'),
      ...Array.from({ length: 3 }, () => post('tasks', image, 'image/jpeg')),
    ]);
    assert.deepEqual(
      images.map((r) => r.status),
      [400, 200, 200, 200],
      JSON.stringify(images.map((r) => r.body.error)),
    );
    assertClean(images[0].body.error, 'the truncated JPEG');
    for (const r of images.slice(1)) assert.ok((r.body.predictions![0] as { tasks: object }).tasks, 'an answer per task');
    // In one request of several, the bad one is named by its index.
    const form = new FormData();
    form.append('a', new Blob([new Uint8Array(image)], { type: 'image/jpeg' }), 'a.jpg');
    form.append('b', new Blob([new Uint8Array(truncated)], { type: 'image/jpeg' }), 'b.jpg');
    const both = await fetch(url('/v1/models/tasks:predict'), { method: 'POST', body: form });
    assert.equal(both.status, 400);
    assert.match(((await both.json()) as { error: string }).error, /^instances\[1\]: /);
  });

  it('runs a batch that fails again one instance at a time, so only the failing one is rejected (item 7)', async () => {
    const runs: number[][] = [];
    const batcher = new DynamicBatcher<number, number>(
      async (batch) => {
        runs.push(batch);
        if (batch.includes(13)) throw new Error('13 is unlucky');
        return batch.map((x) => x * 2);
      },
      { maxBatch: 8, maxDelayMs: 20 },
    );
    const results = await Promise.allSettled([1, 13, 3, 4].map((x) => batcher.submit([x])));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value[0] : (r.reason as Error).message)),
      [2, '13 is unlucky', 6, 8],
    );
    assert.deepEqual(runs[0], [1, 13, 3, 4], 'they shared a batch first');
  });

  it('refuses WAVs whose header lies with 400 and the reason, naming no server path (item 8)', async () => {
    const lies: [string, Buffer, RegExp][] = [
      ['sample rate 1', lying(good, 'rate', 1), /sample rate of 1 Hz/],
      ['sample rate 0xFFFFFFFF', lying(good, 'rate', 0xffffffff), /sample rate of 4294967295 Hz/],
      ['sample rate 0', lying(good, 'rate', 0), /no sample rate/],
      ['65535 channels', lying(good, 'channels', 65535), /65535 channels/],
      ['more data than the file holds', lying(good, 'dataSize', 10 * good.length), /cut off/],
    ];
    for (const [what, bytes, reason] of lies) {
      const r = await post('words', bytes, 'audio/wav');
      assert.equal(r.status, 400, `${what}: ${r.body.error}`);
      assertClean(r.body.error, what);
      assert.match(r.body.error!, reason, what);
      assert.throws(
        () => decodeWav(bytes, 'lies.wav'),
        (e: unknown) => e instanceof DecodeError && reason.test(e.reason) && e.message.includes('lies.wav'),
        what,
      );
    }
    // A detector's or multi-task model's own error names the file it read: the client is told "the instance".
    const text = await post('tasks', Buffer.from('GIF89a then nothing'), 'image/gif');
    assert.equal(text.status, 400);
    assertClean(text.body.error, 'a broken GIF');
  });

  it('cuts bodies and headers that arrive too slowly at the request timeout, with 408 (item 9)', async () => {
    const slow = await startServer({ models: { tasks: join(dir, 'tasks') }, port: 0, requestTimeoutMs: 1500, headersTimeoutMs: 700 });
    const port = Number(new URL(slow.url).port);
    const started = performance.now();
    const head = `POST /v1/models/tasks:predict HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: image/png\r\ncontent-length: 100000\r\n\r\n`;
    const clients = [
      ...Array.from({ length: 16 }, () => slowClient(port, head, 150)), // a byte of the body every 150 ms
      ...Array.from({ length: 4 }, () => slowClient(port, 'POST /v1/models/tasks:predict HTTP/1.1\r\n', 150)), // headers, slowly
      slowClient(port, '', 0), // connected, and silent
    ];
    const answers = await within(Promise.all(clients.map((c) => c.done)), 6000);
    for (const c of clients) c.socket.destroy();
    await slow.close();
    assert.notEqual(answers, 'timeout', `still open after ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const a of answers as RawAnswer[]) assert.ok(a.closedAfter < 4000, `closed after ${a.closedAfter} ms`);
    const bodies = (answers as RawAnswer[]).slice(0, 16);
    for (const a of bodies) {
      assert.equal(a.status, 408, a.body);
      assertClean(JSON.parse(a.body).error, 'a slow body');
    }
  });

  it('answers 403 to a Host header that is not its own, and 404 in one line to unknown routes (item 10)', async () => {
    const get = (path: string, host: string) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`])
      assert.equal((await get('/healthz', host)).status, 200, host);
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`]) {
      const r = await get('/v1/models/tasks', host);
      assert.equal(r.status, 403, host);
      assert.deepEqual(Object.keys(r.body), ['error'], host);
      assertClean(r.body.error, host);
    }
    const missing = await get('/no/such/route', `127.0.0.1:${port}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.body), ['error']);
    assertClean(missing.body.error, 'an unknown route');
  });

  it('closes with slow clients connected after a short grace, still answering the request in flight (item 9)', async () => {
    const closing = await startServer({ models: { tasks: join(dir, 'tasks') }, port: 0, closeGraceMs: 300 });
    const p = Number(new URL(closing.url).port);
    const head = `POST /v1/models/tasks:predict HTTP/1.1\r\nhost: 127.0.0.1:${p}\r\ncontent-type: image/png\r\ncontent-length: 100000\r\n\r\n`;
    const clients = [
      ...Array.from({ length: 20 }, () => slowClient(p, head, 200)),
      ...Array.from({ length: 4 }, () => slowClient(p, 'GET /healthz HTTP/1.1\r\n', 200)),
    ];
    await sleep(300);
    const b64 = image.toString('base64');
    const inFlight = fetch(new URL('/v1/models/tasks:predict', closing.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: Array.from({ length: 48 }, () => ({ b64 })) }),
    });
    await sleep(50);
    const started = performance.now();
    const closed = closing.close();
    try {
      const answer = await inFlight;
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { predictions: unknown[] }).predictions.length, 48);
      assert.notEqual(await within(closed, 5000), 'timeout', 'close() waits for the slow clients');
      const seconds = (performance.now() - started) / 1000;
      assert.ok(seconds < 3, `closed in ${seconds.toFixed(1)} s`);
    } finally {
      for (const c of clients) c.socket.destroy();
      await closed;
    }
  });

  it('graft predict names a recording whose header lies in its one error line (item 12)', () => {
    const file = join(dir, 'liar.wav');
    writeFileSync(file, lying(good, 'channels', 65535));
    const r = graft('predict', '--model', join(dir, 'words-model'), file);
    assert.notEqual(r.code, 0);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.ok(errors[0].includes(file), errors[0]);
    assert.match(errors[0], /65535 channels/);
  });
});

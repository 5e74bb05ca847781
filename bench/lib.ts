// Shared helpers for bench/run.ts workloads: timing, medians, and the PyTorch peer.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PYTHON = '/usr/bin/python3';
export const PEER_SCRIPT = process.env.GRAFT_PEER_SCRIPT ?? path.resolve(ROOT, '../shared/peers/torch_reference.py');

export interface BenchOptions {
  quick: boolean;
  json: boolean;
  /** Progress lines go to stderr so that stdout stays a table / one JSON line. */
  log: (msg: string) => void;
}

export type Metric = 'imagesPerS' | 'msPerImage' | 'seconds';

export interface Side {
  imagesPerS?: number;
  msPerImage?: number;
  seconds?: number;
  backend?: string;
  threads?: number;
  /** Images per measured run, and the per-run values the median was taken over. */
  images?: number;
  batch?: number;
  runs?: number[];
  [k: string]: unknown;
}

export interface WorkloadResult {
  name: string;
  metric: Metric;
  graft: Side;
  cpu: Side | null;
  pytorch: Side | null;
  /** PyTorch using every core (informational: graft's wasm backend runs on one thread in Node). */
  pytorchAllCores?: Side | null;
  /** Further sides a workload compares (e.g. the same trunk on TF.js wasm, a naive loop). */
  others?: Record<string, Side | null>;
  /** Speed ratios, > 1 means graft is faster: graft speed / other speed. */
  ratio: Record<string, number | boolean | null>;
  notes: string[];
}

export interface Workload {
  name: string;
  metric: Metric;
  describe: string;
  run(opts: BenchOptions): Promise<WorkloadResult>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function round(x: number, digits = 3): number {
  const f = 10 ** Math.max(0, digits - Math.ceil(Math.log10(Math.abs(x) + 1e-12)));
  return Math.round(x * f) / f;
}

let peerStatus: { ok: boolean; why?: string; version?: string } | null = null;

/** Is the PyTorch peer usable here? (`/usr/bin/python3 -c 'import torch'` must succeed.) */
export function peerAvailable(): { ok: boolean; why?: string; version?: string } {
  if (peerStatus) return peerStatus;
  if (!existsSync(PEER_SCRIPT)) return (peerStatus = { ok: false, why: `peer missing (${PEER_SCRIPT} not found)` });
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) return (peerStatus = { ok: false, why: `peer missing (${PYTHON} -c 'import torch' failed)` });
  return (peerStatus = { ok: true, version: r.stdout.trim() });
}

export const CORES = os.availableParallelism?.() ?? os.cpus().length;

/**
 * Run the PyTorch reference `repeats` times and take the median of `key` (the peer prints one JSON
 * object on its last stdout line). Returns null when the peer is missing or fails.
 */
export function runPeer(
  workload: string,
  key: 'images_per_s' | 'ms_per_image' | 'seconds',
  threads: number,
  repeats: number,
  extra: string[],
  log: (m: string) => void,
  /** A peer script of graft's own (bench/peers/), for a workload the shared peer lacks. */
  script = PEER_SCRIPT,
): Side | null {
  const avail = peerAvailable();
  if (!avail.ok) {
    log(`  pytorch: ${avail.why}`);
    return null;
  }
  const runs: number[] = [];
  let last: Record<string, unknown> = {};
  for (let i = 0; i < repeats; i++) {
    const args = script === PEER_SCRIPT ? [script, workload] : [script];
    const r = spawnSync(PYTHON, [...args, '--threads', String(threads), ...extra], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const lines = (r.stdout ?? '').trim().split('\n');
    try {
      last = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    } catch {
      log(`  pytorch ${workload} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}`);
      return null;
    }
    runs.push(last[key] as number);
    log(`  pytorch ${workload} threads=${threads} run ${i + 1}/${repeats}: ${key} ${round(runs[i])}`);
  }
  const value = median(runs);
  const side: Side =
    key === 'images_per_s' ? { imagesPerS: round(value) } : key === 'seconds' ? { seconds: round(value) } : { msPerImage: round(value) };
  return {
    ...side,
    threads: last.threads as number,
    version: last.version as string,
    n: last.n as number,
    runs: runs.map((v) => round(v)),
  };
}

export function fmt(side: Side | null | undefined, metric: Metric): string {
  if (side == null) return 'n/a';
  const v = side[metric];
  if (typeof v !== 'number') return 'n/a';
  return metric === 'imagesPerS' ? `${round(v)} img/s` : metric === 'seconds' ? `${round(v)} s` : `${round(v)} ms/img`;
}

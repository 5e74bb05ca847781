// Multi-threaded wasm in Node. tfjs-backend-wasm 4.22 ships a threaded-SIMD build but turns it
// off under Node (tensorflow/tfjs#3830): its pthread workers are created from blob: URLs Node
// cannot load, the C++ side caps the pool at half the logical cores (1 on a 2-core machine), and
// the pool threads keep the process alive. graft works around all three from its own code,
// without touching node_modules; results are bit-identical to one thread (test/cli.test.ts).
// Measured here (2 cores, idle): Keras MNIST CNN training 1.42x, MobileNetV2 forward 1.30x; under
// load from another process 2 threads were slightly slower, so it is opt-in (--threads).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import wt from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);

interface PThreadPool {
  runningWorkers: wt.Worker[];
  unusedWorkers: wt.Worker[];
}

/** Patch, run `init`, restore: the patches only need to hold while the wasm module starts. */
async function withPatches<T>(patches: (() => () => void)[], init: () => Promise<T>): Promise<T> {
  const restores = patches.map((apply) => apply());
  try {
    return await init();
  } finally {
    restores.forEach((restore) => restore());
  }
}

/** Load the blob: worker script as eval code whose URL.createObjectURL yields the on-disk glue JS. */
function evalBlobWorkers(glueJs: string, workerJs: string): () => () => void {
  const code = `URL.createObjectURL=()=>${JSON.stringify(glueJs)};URL.revokeObjectURL=()=>{};\n${workerJs.replace(/\n/g, '\\n')}`;
  return () => {
    const Original = wt.Worker;
    class BlobWorker extends Original {
      constructor(file: string | URL, opts?: wt.WorkerOptions) {
        if (typeof file === 'string' && file.startsWith('blob:')) super(code, { ...opts, eval: true });
        else super(file, opts);
      }
    }
    (wt as { Worker: typeof wt.Worker }).Worker = BlobWorker;
    return () => {
      (wt as { Worker: typeof wt.Worker }).Worker = Original;
    };
  };
}

/** Report at least 2 x threads logical cores while the module reads its cap. */
function enoughCores(threads: number): () => () => void {
  return () => {
    const cpus = os.cpus;
    (os as { cpus: typeof os.cpus }).cpus = () => {
      const c = cpus();
      return Array.from({ length: Math.max(c.length, 2 * threads) }, (_, i) => c[i % c.length]);
    };
    return () => {
      (os as { cpus: typeof os.cpus }).cpus = cpus;
    };
  };
}

/**
 * Initialise the wasm backend with `threads` XNNPACK threads (1: the stock single-threaded build).
 * Falls back to one thread if the threaded build's files are not where 4.22 keeps them.
 */
export async function initWasm(threads: number): Promise<boolean> {
  let glueJs = '';
  let workerJs = '';
  try {
    glueJs = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
    workerJs = (
      require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as { wasmWorkerContents: string }
    ).wasmWorkerContents;
  } catch {
    threads = 1;
  }
  if (!existsSync(glueJs)) threads = 1;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
  setThreadsCount(threads);
  const before = { u: process.listeners('uncaughtException'), r: process.listeners('unhandledRejection') };
  const ok = await withPatches(threads > 1 ? [evalBlobWorkers(glueJs, workerJs), enoughCores(threads)] : [], () => tf.setBackend('wasm'));
  // Emscripten's process listeners rethrow, making Node print a 40-60 KB minified source line
  // for any stray error; graft reports its own errors.
  for (const l of process.listeners('uncaughtException')) if (!before.u.includes(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.r.includes(l)) process.removeListener('unhandledRejection', l);
  // Pool threads are ref'd for the life of the module: unref them so the process can exit, and
  // drop the idle workers emscripten pre-spawns.
  const pool = (tf.backend() as unknown as { wasm?: { PThread?: PThreadPool } }).wasm?.PThread;
  if (pool) {
    for (const w of pool.runningWorkers) w.unref();
    for (const w of pool.unusedWorkers) void w.terminate();
    pool.unusedWorkers = [];
  }
  return ok;
}

export const wasmThreads = (): number =>
  tf.getBackend() === 'wasm'
    ? ((tf.backend() as unknown as { wasm: { _get_threads_count?: () => number } }).wasm._get_threads_count?.() ?? 1)
    : 0;

// Backend selection: wasm (default, with graft's training kernels), cpu (reference), tensorflow (tfjs-node if the user has it).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GraftError, usageError } from '../core/errors.js';
import { initWasm } from './wasm-threads.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

export interface BackendOptions {
  /**
   * XNNPACK threads for the wasm backend (default: GRAFT_THREADS, else 1). Fixed by the first
   * wasm initialisation in a process.
   */
  threads?: number;
}

let wasmStarted = false;

/** Threads asked for through the environment (GRAFT_THREADS), 1 when unset. */
export function envThreads(): number {
  const raw = process.env.GRAFT_THREADS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw usageError(`GRAFT_THREADS must be a whole number ≥ 1, got "${raw}"`);
  return n;
}

export async function useBackend(name: BackendName = 'wasm', opts: BackendOptions = {}): Promise<BackendName> {
  // PROD mutes TF.js's console advice to install tfjs-node (which cannot install here) and its
  // debug-only checks; graft's own errors and warnings are the only things it prints.
  tf.env().set('PROD', true);
  if (name === 'tensorflow') {
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      throw new GraftError('backend "tensorflow" needs @tensorflow/tfjs-node, which is not installed (use --backend wasm or cpu)', 2);
    }
  }
  if (name === 'wasm') {
    const { registerWasmTrainingKernels } = await import('./kernels/index.js');
    registerWasmTrainingKernels();
    if (!wasmStarted) {
      wasmStarted = true;
      if (!(await initWasm(opts.threads ?? envThreads()))) throw new GraftError('backend "wasm" failed to initialise', 1);
    }
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new GraftError(`backend "${name}" failed to initialise`, 1);
  }
  await tf.ready();
  return name;
}

export { wasmThreads } from './wasm-threads.js';
export { tf };

// Backend selection: wasm (default, with graft's training kernels), cpu (reference), tensorflow (tfjs-node if the user has it).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GraftError } from '../errors.js';

export type BackendName = 'wasm' | 'cpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['wasm', 'cpu', 'tensorflow'];

export async function useBackend(name: BackendName = 'wasm'): Promise<BackendName> {
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
  }
  if (tf.getBackend() !== name) {
    const ok = await tf.setBackend(name);
    if (!ok) throw new GraftError(`backend "${name}" failed to initialise`, 1);
  }
  await tf.ready();
  return name;
}

export { tf };

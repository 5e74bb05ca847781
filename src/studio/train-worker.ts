// The studio's training worker: one worker thread per run, so the server's event loop stays free
// while a base's features, the probe and the epochs compute (on the main thread a mobilenet_v2
// run held every request for up to 8.5 s). It speaks TrainEvents to the server and reads Cancel
// from a shared flag, which it sees after every batch even while its own event loop is busy.
import { parentPort, workerData } from 'node:worker_threads';
import { useBackend } from '../backend/index.js';
import { setOnnxThreads } from '../backend/onnx-runtime.js';
import { Cancelled, trainProject } from './project-training.js';
import type { TrainEvent, TrainWorkerData } from './run-types.js';
import { Workspace } from './workspace.js';

const data = workerData as TrainWorkerData;
const port = parentPort!;
const emit = (e: TrainEvent) => port.postMessage(e);
const flag = new Int32Array(data.cancel);
const isCancelled = () => Atomics.load(flag, 0) === 1;

try {
  await useBackend(data.backend, { threads: data.wasmThreads || undefined });
  setOnnxThreads(data.onnxThreads);
  const report = await trainProject(new Workspace(data.dir), data.id, data.settings, emit, isCancelled);
  emit({ type: 'done', report });
} catch (e) {
  emit(e instanceof Cancelled || isCancelled() ? { type: 'cancelled' } : { type: 'failed', message: (e as Error).message.split('\n')[0] });
}

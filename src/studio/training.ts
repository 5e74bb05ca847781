// One training run per project at a time, on graft's own training calls in a worker thread
// (train-worker.ts, project-training.ts): the events it streams (stage, epoch, done, failed,
// cancelled) are kept so a page that connects late still draws the whole curve, and Cancel stops
// at the next batch. The model is saved (atomically) only when a run finishes, so a cancelled or
// failed run leaves the project as it was.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { wasmThreads, type BackendName } from '../backend/index.js';
import { defaultOnnxThreads } from '../backend/onnx-runtime.js';
import { isFinal, type TrainEvent, type TrainSettings, type TrainWorkerData } from './run-types.js';
import { StudioError, type Workspace } from './workspace.js';

export class TrainingRun {
  readonly events: TrainEvent[] = [];
  private listeners = new Set<(e: TrainEvent) => void>();
  /** Shared with the worker: it reads Cancel after every batch, however busy its own event loop. */
  readonly cancelFlag = new SharedArrayBuffer(4);
  finished = false;

  emit(e: TrainEvent): void {
    if (this.finished) return;
    this.events.push(e);
    if (isFinal(e)) this.finished = true;
    for (const l of this.listeners) l(e);
  }

  /** Every event so far, then each new one; returns the unsubscribe. */
  subscribe(l: (e: TrainEvent) => void): () => void {
    for (const e of this.events) l(e);
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  cancel(): void {
    Atomics.store(new Int32Array(this.cancelFlag), 0, 1);
  }
}

const here = fileURLToPath(import.meta.url);
const workerModule = new URL(`./train-worker${extname(here)}`, import.meta.url);
/**
 * The worker's module beside this one. Built, it is plain JavaScript. From the source tree it is
 * TypeScript, which a worker thread cannot load by itself (tsx's loader hooks belong to the thread
 * that registered them), so a two-line module registers them in the worker first.
 */
const WORKER: URL =
  extname(here) === '.ts'
    ? new URL(
        'data:text/javascript,' +
          encodeURIComponent(
            `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(workerModule.href)});`,
          ),
      )
    : workerModule;

/** The runs of one studio: at most one per project. */
export class Trainer {
  private runs = new Map<string, TrainingRun>();

  constructor(private readonly workspace: Workspace) {}

  current(id: string): TrainingRun | undefined {
    return this.runs.get(id);
  }

  /** Starts a run, or refuses: 409 while one is going for the project, 400 without two classes of samples (a detector: one class, two boxes). */
  async start(id: string, settings: TrainSettings): Promise<TrainingRun> {
    const existing = this.runs.get(id);
    if (existing && !existing.finished) throw new StudioError(409, 'training already running for this project');
    const summary = await this.workspace.summary(id);
    // A detector of one class is a detector; a classifier of one class says nothing.
    const least = summary.kind === 'detection' ? 1 : 2;
    if (summary.classes.length < least) throw new StudioError(400, `a ${summary.kind} project needs at least ${least} classes to train`);
    const empty = summary.classes.filter((c) => summary.counts[c] < 2);
    if (empty.length)
      throw new StudioError(
        400,
        `every class needs at least 2 ${summary.kind === 'detection' ? 'boxes' : 'samples'} (${empty.join(', ')})`,
      );
    // Checked again after the await: a second request may have started one meanwhile.
    if (this.runs.get(id) && !this.runs.get(id)!.finished) throw new StudioError(409, 'training already running for this project');
    const run = new TrainingRun();
    this.runs.set(id, run);
    run.emit({ type: 'start', settings });
    const workerData: TrainWorkerData = {
      dir: this.workspace.dir,
      id,
      settings,
      cancel: run.cancelFlag,
      backend: tf.getBackend() as BackendName,
      wasmThreads: wasmThreads(),
      onnxThreads: defaultOnnxThreads(),
    };
    const worker = new Worker(WORKER, { workerData });
    worker.on('message', (e: TrainEvent) => run.emit(e));
    worker.on('error', (e) => run.emit({ type: 'failed', message: e.message.split('\n')[0] }));
    worker.on('exit', (code) => run.emit({ type: 'failed', message: `training stopped unexpectedly (worker exit code ${code})` }));
    return run;
  }

  cancel(id: string): boolean {
    const run = this.runs.get(id);
    if (!run || run.finished) return false;
    run.cancel();
    return true;
  }

  /** Waits for every run to end (the server's close). */
  async settle(): Promise<void> {
    for (const run of this.runs.values()) run.cancel();
    await Promise.all(
      [...this.runs.values()]
        .filter((r) => !r.finished)
        .map((r) => new Promise<void>((resolve) => r.subscribe(() => r.finished && resolve()))),
    );
  }
}

// One training run per project at a time, on graft's own training calls: the events it streams
// (stage, epoch, done, failed, cancelled) are kept so a page that connects late still draws the
// whole curve, and Cancel stops at the next batch. The model is saved (atomically) only when a run
// finishes, so a cancelled or failed run leaves the project as it was.
import { basename, join } from 'node:path';
import type { Callback, EpochLogs } from '../core/callbacks.js';
import { loadImageBase } from '../bases/index.js';
import { loadDataSplits } from '../data/index.js';
import type { Metrics } from '../evaluate/metrics.js';
import { writeFileAtomically } from '../io/atomic.js';
import { trainImageClassifier } from '../kinds/image.js';
import { trainTextClassifier } from '../kinds/text.js';
import { StudioError, type Workspace } from './workspace.js';

export interface TrainSettings {
  base: string;
  epochs?: number;
  learningRate?: number;
  /** Training samples per class (the rest still validate and test). */
  perClass?: number;
  /** Blocks below the cut to fine-tune (0: the head only). */
  unfreeze?: number;
}

export type TrainEvent =
  | { type: 'start'; settings: TrainSettings }
  | { type: 'step'; message: string }
  | { type: 'epoch'; stage: string; epoch: number; epochs: number; loss: number; metrics: Record<string, number> }
  | { type: 'done'; report: TrainReport }
  | { type: 'failed'; message: string }
  | { type: 'cancelled' };

export interface Mistake {
  /** The sample (image: `class/file`; text: its id). */
  sample: string;
  truth: string;
  predicted: string;
  probability: number;
}

export interface TrainReport {
  base: string;
  classes: string[];
  counts: { train: number; val: number; test: number };
  val: Metrics;
  test: Metrics;
  /** Validation samples the model gets wrong, what it said instead. */
  mistakes: Mistake[];
  /** Set when graft's check finds the base's features barely beat raw pixels. */
  negativeTransfer?: string;
  seconds: number;
}

export const REPORT_FILE = 'report.json';

class Cancelled extends Error {}

export class TrainingRun {
  readonly events: TrainEvent[] = [];
  private listeners = new Set<(e: TrainEvent) => void>();
  private cancelled = false;
  finished = false;

  emit(e: TrainEvent): void {
    this.events.push(e);
    if (e.type === 'done' || e.type === 'failed' || e.type === 'cancelled') this.finished = true;
    for (const l of this.listeners) l(e);
  }

  /** Every event so far, then each new one; returns the unsubscribe. */
  subscribe(l: (e: TrainEvent) => void): () => void {
    for (const e of this.events) l(e);
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  cancel(): void {
    this.cancelled = true;
  }

  /** The callback training runs with: events out, and the cancel check after every batch. */
  callback(): Callback {
    const check = () => {
      if (this.cancelled) throw new Cancelled('cancelled');
    };
    return {
      onBatchEnd: check,
      onEpochBegin: check,
      onStep: (message: string) => this.emit({ type: 'step', message }),
      onStageBegin: (stage: string) => {
        check();
        this.emit({ type: 'step', message: `stage: ${stage}` });
      },
      onEpochEnd: (logs: EpochLogs) =>
        this.emit({ type: 'epoch', stage: logs.stage, epoch: logs.epoch, epochs: logs.epochs, loss: logs.loss, metrics: logs.metrics }),
    };
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }
}

/** The runs of one studio: at most one per project. */
export class Trainer {
  private runs = new Map<string, TrainingRun>();

  constructor(private readonly workspace: Workspace) {}

  current(id: string): TrainingRun | undefined {
    return this.runs.get(id);
  }

  /** Starts a run, or refuses: 409 while one is going for the project, 400 without two classes of samples. */
  async start(id: string, settings: TrainSettings): Promise<TrainingRun> {
    const existing = this.runs.get(id);
    if (existing && !existing.finished) throw new StudioError(409, 'training already running for this project');
    const summary = await this.workspace.summary(id);
    if (summary.classes.length < 2) throw new StudioError(400, 'a project needs at least 2 classes to train');
    const empty = summary.classes.filter((c) => summary.counts[c] < 2);
    if (empty.length) throw new StudioError(400, `every class needs at least 2 samples (${empty.join(', ')})`);
    // Checked again after the await: a second request may have started one meanwhile.
    if (this.runs.get(id) && !this.runs.get(id)!.finished) throw new StudioError(409, 'training already running for this project');
    const run = new TrainingRun();
    this.runs.set(id, run);
    run.emit({ type: 'start', settings });
    void this.train(id, settings, run).then(
      (report) => run.emit({ type: 'done', report }),
      (e: unknown) =>
        run.emit(e instanceof Cancelled || run.isCancelled ? { type: 'cancelled' } : { type: 'failed', message: (e as Error).message }),
    );
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

  private async train(id: string, s: TrainSettings, run: TrainingRun): Promise<TrainReport> {
    const t0 = performance.now();
    const project = await this.workspace.read(id);
    const budget = { epochs: s.epochs, learningRate: s.learningRate, seed: 0 };
    const callbacks = [run.callback()];
    if (project.kind === 'text') {
      const r = await trainTextClassifier({
        base: s.base,
        data: this.workspace.textsTable(id),
        perClass: s.perClass,
        ...budget,
        callbacks,
      });
      try {
        return await this.keep(id, run, r, { base: s.base, classes: r.model.classes, mistakes: [] }, t0);
      } finally {
        await r.model.dispose();
      }
    }
    const base = await loadImageBase(s.base);
    run.emit({ type: 'step', message: 'reading images' });
    const splits = await loadDataSplits(this.workspace.samplesDir(id), {
      size: base.input,
      resize: base.resize,
      medium: base.medium,
      classes: project.classes,
      seed: 0,
      perClass: s.perClass,
    });
    const r = await trainImageClassifier({ base, data: splits, unfreeze: s.unfreeze ?? 0, ...budget, callbacks });
    try {
      const val = splits.val;
      const predictions = await r.model.predict(val.ids, { top: 1 });
      const mistakes = predictions.flatMap((p, i) => {
        const truth = val.classes[val.labels[i]];
        const top = p.top[0];
        return top.label === truth
          ? []
          : [{ sample: `${truth}/${basename(val.ids[i])}`, truth, predicted: top.label, probability: top.probability }];
      });
      const check = r.cutChoice?.check;
      const negativeTransfer = check?.negative
        ? `${s.base}'s features at ${check.cut} barely beat the raw pixels (linear probe ${(check.probe * 100).toFixed(1)}% vs ${(check.pixelsProbe * 100).toFixed(1)}%): this base may not suit these images`
        : undefined;
      return await this.keep(id, run, r, { base: s.base, classes: r.model.meta.labels, mistakes, negativeTransfer }, t0);
    } finally {
      await r.model.dispose();
    }
  }

  /** A finished run's model saved and its report written beside it, unless Cancel came during the last batch. */
  private async keep(
    id: string,
    run: TrainingRun,
    r: {
      model: { save(dir: string, o: { force: boolean }): Promise<void> };
      counts: TrainReport['counts'];
      metrics: { val: Metrics; test: Metrics };
    },
    about: Pick<TrainReport, 'base' | 'classes' | 'mistakes' | 'negativeTransfer'>,
    t0: number,
  ): Promise<TrainReport> {
    if (run.isCancelled) throw new Cancelled('cancelled');
    await r.model.save(this.workspace.modelDir(id), { force: true });
    const report: TrainReport = {
      ...about,
      counts: r.counts,
      val: r.metrics.val,
      test: r.metrics.test,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomically(join(this.workspace.modelDir(id), REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
    return report;
  }
}

// Dynamic batching, as Triton and TorchServe do it: instances from concurrent requests wait in one
// queue until `maxBatch` of them are there or the oldest has waited `maxDelayMs`, then run as one
// batch; each request gets its own results back. One batch runs at a time per model, so a busy
// server fills batches while the previous one runs. A batch that fails is run again one instance
// at a time, so an instance that cannot be run (a file its decoder refuses, whatever slipped past
// the checks before batching) fails its own request only, never the others that shared its batch.

export interface BatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
  /** Each batch's size, as it starts (metrics). */
  onBatch?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class DynamicBatcher<I, O> {
  private queue: Waiting<I, O>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly run: (batch: I[]) => Promise<O[]>,
    private readonly o: BatcherOptions,
  ) {}

  /** The results for `items`, in order, once the batches holding them have run. */
  submit(items: readonly I[]): Promise<O[]> {
    const done = items.map((item) => new Promise<O>((resolve, reject) => this.queue.push({ item, resolve, reject })));
    this.schedule();
    return Promise.all(done);
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.o.maxBatch || this.o.maxDelayMs <= 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else this.timer ??= setTimeout(() => ((this.timer = undefined), void this.flush()), this.o.maxDelayMs);
  }

  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.queue.splice(0, this.o.maxBatch);
    this.o.onBatch?.(batch.length);
    try {
      const out = await this.run(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(out[i]));
    } catch (e) {
      if (batch.length === 1) batch[0].reject(e);
      else
        for (const w of batch)
          try {
            w.resolve((await this.run([w.item]))[0]);
          } catch (alone) {
            w.reject(alone);
          }
    } finally {
      this.running = false;
      // What arrived during the run has waited already: it goes next, without a further delay.
      if (this.queue.length) void this.flush();
    }
  }
}

// Trials on stderr, for every command that runs them (sweep, experiment --workers): on a terminal
// a bar over them with ETA and what each worker runs; elsewhere a line as each starts and ends.
import cliProgress from 'cli-progress';
import type { SweepCallback, TrialEvent } from '../sweep/events.js';
import type { Trial } from '../sweep/grid.js';
import type { TrialResult } from '../sweep/trial.js';
import { note } from './shared.js';

export const describeTrial = (t: Trial) =>
  `#${t.index} ${Object.entries(t.values)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;

/** One line for a finished trial: its metric (if trials have one), or why it failed. */
function ended(r: TrialResult, metric: string | undefined, reused: boolean): string {
  const what = r.status === 'failed' ? `failed: ${r.error}` : metric ? `${metric} ${r.metrics[metric]?.toFixed(4) ?? '-'}` : 'done';
  return `${what} (${reused ? 'result already there' : `${r.seconds.toFixed(1)} s on ${r.worker}`})`;
}

/** Trials on stderr; `metric`, if given, is each finished trial's number its line shows. */
export class SweepProgress implements SweepCallback {
  private bar?: cliProgress.SingleBar;
  private readonly running = new Map<string, string>();
  private readonly tty = !!process.stderr.isTTY;

  constructor(private readonly metric?: string) {}

  onProgress(_what: string, done: number, total: number): void {
    if (!this.tty) return;
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        { format: 'trials [{bar}] {value}/{total} | ETA {eta_formatted} | {info}', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, done, { info: '' });
    }
    this.bar.update(done, { info: this.info() });
  }

  onTrial(e: TrialEvent): void {
    if (e.kind === 'start') this.running.set(e.worker, describeTrial(e.trial));
    else for (const [w, t] of this.running) if (t === describeTrial(e.trial)) this.running.delete(w);
    if (this.tty) this.bar?.update({ info: this.info() });
    else if (e.kind === 'start') note(`trial ${describeTrial(e.trial)} started on ${e.worker}`);
    else note(`trial ${describeTrial(e.trial)} ${ended(e.result, this.metric, e.reused)}`);
  }

  stop(): void {
    this.bar?.stop();
  }

  private info(): string {
    return [...this.running].map(([w, t]) => `${w}: ${t}`).join('; ');
  }
}

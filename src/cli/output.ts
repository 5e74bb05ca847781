// Everything the CLI shows a person: tables, warnings, progress, and the --json last line.
import cliProgress from 'cli-progress';
import { pct } from '../evaluate/report.js';
import type { EpochInfo } from '../train/fit.js';

export const log = (line = '') => process.stdout.write(line + '\n');
export const note = (line: string) => process.stderr.write(line + '\n');
export const warn = (line: string) => process.stderr.write(`warning: ${line}\n`);

/** The machine-readable result: one JSON object, the last line of stdout. */
export const printJson = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

export { pct, table } from '../evaluate/report.js';

/** Progress on stderr: a bar with ETA on a terminal, one line per step elsewhere (CI logs, pipes). */
export class Progress {
  private bar?: cliProgress.SingleBar;
  private label = '';
  private readonly tty = !!process.stderr.isTTY;

  /** Counted work (images decoded, features computed): one bar per label, silent off a terminal. */
  step(label: string, done: number, total: number): void {
    if (label !== this.label || !this.bar) {
      this.start(label, total);
      this.label = label;
    }
    this.update(done);
    if (done >= total) this.stop();
  }

  start(label: string, total: number): void {
    this.stop();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { info: '' });
  }

  update(value: number, info = ''): void {
    this.bar?.update(value, { info });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.label = '';
  }

  /** Training epochs: the bar moves per epoch on a TTY; otherwise one line each. */
  epoch(e: EpochInfo): void {
    this.epochLine(
      e.stage,
      e.epoch,
      e.epochs,
      `loss ${e.loss.toFixed(4)} acc ${pct(e.accuracy)} val_loss ${e.valLoss.toFixed(4)} val_acc ${isNaN(e.valAccuracy) ? '-' : pct(e.valAccuracy)}`,
      e.seconds,
    );
  }

  /** One epoch of `stage` with what to show about it. */
  epochLine(stage: string, epoch: number, epochs: number, info: string, seconds?: number): void {
    if (this.tty) {
      if (epoch === 1) this.start(`${stage} epochs`, epochs);
      this.update(epoch, info);
    } else {
      note(`${stage} epoch ${epoch}/${epochs} ${info}${seconds === undefined ? '' : ` (${seconds.toFixed(1)} s)`}`);
    }
  }
}

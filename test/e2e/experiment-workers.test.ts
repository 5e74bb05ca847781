// graft experiment --workers and --queue: a grid experiment's cells run as sweep trials (local
// processes, or jobs two `graft worker`s take from a real Redis) give the table the experiment
// gives in one process; a cell that fails is one error line naming it; an experiment that is no
// grid refuses the flags.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { graft, root, tempDir, type Run } from '../helpers.js';
import { RedisServer, redisSkip } from './redis.js';

const BIN = join(root, 'bin/graft.js');
// The cheapest grid: digits-transfer's 10-labels row, one seed: two cells (transfer, scratch).
const EXPERIMENT = ['experiment', 'digits-transfer', '--variant', 'few-labels', '--seeds', '1'];

interface Row {
  labelsPerClass: number;
  transfer: { accuracy: number; runs: number[] };
  scratch: { accuracy: number; runs: number[] };
  gain: unknown;
}

/** The table's numbers (training seconds differ from run to run). */
const accuracies = (r: Run) =>
  (r.json!.rows as Row[]).map((row) => ({
    labels: row.labelsPerClass,
    transfer: row.transfer.runs,
    scratch: row.scratch.runs,
    gain: row.gain,
  }));

const errorLines = (r: Run) => r.stderr.split('\n').filter((l) => l.startsWith('error:'));

describe('graft experiment on workers', () => {
  const dir = tempDir('graft-experiment-workers-');
  let inProcess: Run;

  before(() => {
    // One thread, as each trial has (GRAFT_THREADS=1): ONNX Runtime's threads change the last digits.
    inProcess = graft(...EXPERIMENT, '--runs', join(dir, 'one'), '--threads', '1', '--json');
    assert.equal(inProcess.code, 0, inProcess.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--workers 2 gives the in-process table, each cell a trial', () => {
    const began = performance.now();
    const r = graft(...EXPERIMENT, '--runs', join(dir, 'two'), '--workers', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(accuracies(r), accuracies(inProcess));
    assert.match(r.stderr, /trial #1 labels=10 seed=1 setup=transfer started on local-/);
    const cells = readdirSync(join(dir, 'two')).find((f) => f.endsWith('-cells'))!;
    assert.equal(readdirSync(join(dir, 'two', cells, 'trials')).length, 2, 'a trial per cell');
    assert.ok(r.stdout.includes('| 10 '), r.stdout);
    console.log(`# 2 cells on 2 workers: ${((performance.now() - began) / 1000).toFixed(1)} s`);
  });

  it('an experiment that is no grid refuses --workers (exit 2); --cell is checked', () => {
    // --queue is refused by the same check, before Redis is asked.
    const r = graft('experiment', 'transfer-layers', '--runs', join(dir, 'refused'), '--workers', '2');
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(errorLines(r), [
      'error: transfer-layers runs in one process, not as a grid of cells; --workers and --queue take digits-transfer, pennfudan, fsdd-transfer',
    ]);
    const bad = graft(...EXPERIMENT, '--cell', '[1]');
    assert.equal(bad.code, 2, bad.stderr);
    assert.deepEqual(errorLines(bad), ['error: --cell must be a JSON object, got [1]']);
  });

  describe('--queue on a real Redis', { skip: redisSkip }, () => {
    const redis = new RedisServer(dir);
    const workers: ChildProcess[] = [];
    const worker = (env: NodeJS.ProcessEnv = process.env) =>
      workers.push(spawn(process.execPath, [BIN, 'worker', '--queue', redis.url], { cwd: root, env, stdio: 'ignore' }));
    const stop = async (signal: NodeJS.Signals) => {
      for (const w of workers.splice(0))
        if (w.exitCode === null && w.signalCode === null) {
          const exited = new Promise((done) => w.once('exit', done));
          w.kill(signal);
          await exited;
        }
    };
    before(async () => {
      await redis.start();
      worker();
      worker();
    });
    after(async () => {
      await stop('SIGKILL');
      await redis.stop('SIGKILL');
    });

    it('two graft workers give the in-process table', () => {
      const r = graft(...EXPERIMENT, '--runs', join(dir, 'queued'), '--queue', redis.url, '--json');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(accuracies(r), accuracies(inProcess));
    });

    it('a cell that fails is one error line naming it, exit 1', async () => {
      // A worker machine set up wrong, which only the cells' processes notice (the worker itself
      // starts no backend): every cell fails there.
      await stop('SIGTERM');
      worker({ ...process.env, GRAFT_THREADS: '0' });
      const r = graft(...EXPERIMENT, '--runs', join(dir, 'broken'), '--queue', redis.url);
      assert.equal(r.code, 1, r.stderr);
      const errors = errorLines(r);
      assert.equal(errors.length, 1, r.stderr);
      assert.match(
        errors[0],
        /^error: digits-transfer: cell #1 \(labels=10 seed=1 setup=transfer\) failed: GRAFT_THREADS must be a whole number ≥ 1, got "0" \(2 of 2 cells failed\); the cells' table is in /,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack without --verbose');
    });
  });
});

// graft sweep on this machine: the spec checked before any trial, the grid and its content-hash
// ids, trials run in worker processes, a bad trial's row saying why with exit code 3 (partial),
// the best model kept, and a trial whose result is committed not run again.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sweepTrials } from '../../src/sweep/grid.js';
import { parseSweepSpec } from '../../src/sweep/spec.js';
import { bestTrial } from '../../src/sweep/table.js';
import { runTrial, type TrialResult } from '../../src/sweep/trial.js';
import { makeImageFolder } from '../fixtures.js';
import { graft, tempDir } from '../helpers.js';

const SPEC = `command: train
flags:
  base: digits-cnn
  data: data
  epochs: 1
  unfreeze: 0
axes:
  lr: [1e-3, -1]
  seed: [1]
`;

describe('sweep specs and grids', () => {
  it('crosses the axes, the first varying slowest, with ids from what each trial runs', async () => {
    const spec = await parseSweepSpec(
      'command: train\nflags: {base: digits-cnn, perClass: 5}\naxes: {lr: [0.1, 0.01], seed: [1, 2, 3]}',
      '/x/s.yaml',
    );
    const trials = sweepTrials(spec);
    assert.equal(trials.length, 6);
    assert.deepEqual(trials[1].values, { lr: 0.1, seed: 2 });
    assert.deepEqual(trials[1].args, ['--base', 'digits-cnn', '--per-class', '5', '--lr', '0.1', '--seed', '2']);
    assert.equal(new Set(trials.map((t) => t.id)).size, 6, 'distinct trials, distinct ids');
    const again = sweepTrials(
      await parseSweepSpec('command: train\nflags: {base: digits-cnn, per-class: 5}\naxes: {lr: [0.01], seed: [2]}', '/x/t.yaml'),
    );
    assert.equal(again[0].id, trials[4].id, 'the same trial in another spec file of the same folder has the same id');
    const elsewhere = sweepTrials(
      await parseSweepSpec('command: train\nflags: {base: digits-cnn, per-class: 5}\naxes: {lr: [0.01], seed: [2]}', '/y/t.yaml'),
    );
    assert.notEqual(elsewhere[0].id, trials[4].id, 'relative paths read from another folder: another trial');
    assert.equal(spec.metric, 'val.accuracy');
  });

  it('refuses a spec that cannot be swept, naming what is wrong', async () => {
    const refused = async (text: string, pattern: RegExp) => await assert.rejects(parseSweepSpec(text, 's.yaml'), pattern);
    await refused('command: rank\naxes: {seed: [1]}', /command/);
    await refused('command: train\naxes: {}', /at least one axis/);
    await refused('command: train\naxes: {seed: []}', /axes\.seed/);
    await refused('command: train\nflags: {out: m}\naxes: {seed: [1]}', /--out is the sweep's/);
    await refused('command: train\nflags: {seed: 1}\naxes: {seed: [1]}', /both a flag and an axis/);
    await refused('command: train\naxes: {seed: [1, 1]}', /repeats a value/);
    await refused('command: train\naxes: {seed: [1]}\nextra: 1', /extra|unrecognized/i);
    await refused('command: [', /not valid YAML/);
  });

  it('picks the best finished trial by the metric and goal, the earlier on a tie', () => {
    const row = (index: number, acc: number | undefined): TrialResult => ({
      id: String(index),
      index,
      values: {},
      seconds: 1,
      worker: 'w',
      status: 'done',
      metrics: acc === undefined ? {} : { 'val.accuracy': acc },
      report: {},
    });
    const rows = [row(1, 0.5), row(2, 0.9), row(3, 0.9), row(4, undefined), row(5, 0.1)];
    assert.equal(bestTrial(rows, 'val.accuracy', 'max')?.index, 2);
    assert.equal(bestTrial(rows, 'val.accuracy', 'min')?.index, 5);
    assert.equal(bestTrial(rows, 'val.loss', 'min'), undefined);
  });
});

describe('graft sweep (local worker processes)', () => {
  const dir = tempDir('graft-sweep-');
  before(async () => {
    await makeImageFolder(join(dir, 'data'), { perClass: 10, size: 28 });
    writeFileSync(join(dir, 'spec.yaml'), SPEC);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every trial, says why the bad one failed, exits 3 (partial), keeps the best model; a second sweep runs nothing again', async () => {
    const out = join(dir, 'out');
    const r = graft('sweep', join(dir, 'spec.yaml'), '--out', out, '--workers', '2', '--json');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim().split('\n').pop()!, /^error: 1 of 2 trials failed/);
    const table = readFileSync(join(out, 'sweep.md'), 'utf8');
    assert.match(table, /\| 2 \| -1 .*failed: option '--lr <rate>' argument '-1' is invalid/);
    assert.match(table, /\| 1 \| 0\.001 .*best \(max val\.accuracy\)/);
    const json = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { best: string; trials: TrialResult[] };
    assert.deepEqual(r.json?.best, json.best);
    assert.deepEqual(
      json.trials.map((t) => t.status),
      ['done', 'failed'],
    );
    assert.ok(existsSync(join(out, 'best', 'model.json')), 'the best model is kept');
    assert.equal(JSON.parse(readFileSync(join(out, 'best', 'graft.json'), 'utf8')).base, 'digits-cnn');

    const backend = graft('sweep', join(dir, 'spec.yaml'), '--out', join(dir, 'never'), '--backend', 'cpu');
    assert.equal(backend.code, 2, 'a flag that would not reach the trials is refused');
    assert.match(backend.stderr, /^error: --backend applies to each trial's own command/);
    const again = graft('sweep', join(dir, 'spec.yaml'), '--out', out);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^error: --out .* holds a finished sweep/);
    const forced = graft('sweep', join(dir, 'spec.yaml'), '--out', out, '--force');
    assert.equal(forced.code, 3);
    assert.equal((forced.stderr.match(/result already there/g) ?? []).length, 2, forced.stderr);
    for (const t of json.trials)
      assert.equal(readdirSync(join(out, 'trials', t.id)).filter((f) => f.startsWith('attempt-')).length, 1, 'one attempt per trial');
  });

  it('commits a trial once: a second run of the same trial finds its result', async () => {
    const trialsDir = join(dir, 'trials-direct');
    const [trial] = sweepTrials(await parseSweepSpec(SPEC.replace('[1e-3, -1]', '[-2]'), join(dir, 'spec.yaml')));
    const first = await runTrial(trial, { trialsDir, worker: 'a' });
    assert.equal(first.reused, false);
    assert.equal(first.result.status, 'failed');
    const second = await runTrial(trial, { trialsDir, worker: 'b' });
    assert.equal(second.reused, true);
    assert.equal(second.result.worker, 'a', 'the result committed first stands');
  });
});

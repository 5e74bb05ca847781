// graft sweep --queue and graft worker against a real redis-server (Debian's; .ci/run installs
// it), started here on a free loopback port with its data in a temp dir, append-only so a restart
// keeps the queue. Two workers must give a 12-trial seeded sweep the local run's numbers; a
// worker SIGKILLed mid-trial, or Redis restarted mid-sweep, must still leave every trial in the
// table exactly once; a worker SIGTERMed mid-trial must finish it and take no other; graft
// extract's shards spread over two workers fill a shared cache; a
// queue URL pointing nowhere is one error line.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TrialResult } from '../../src/sweep/trial.js';
import { makeImageFolder } from '../fixtures.js';
import { extractDigits, featuresComputedByTrain, graft, root, tempDir, type Run } from '../helpers.js';
import { RedisServer, redisSkip, sleep, until } from './redis.js';

const BIN = join(root, 'bin/graft.js');

interface Sweep {
  spec: string;
  trials: TrialResult[];
}

describe('graft sweep --queue on a real Redis', { skip: redisSkip }, () => {
  const dir = tempDir('graft-sweep-queue-');
  const cache = join(dir, 'cache');
  const env = { ...process.env, GRAFT_CACHE_DIR: cache };
  const redis = new RedisServer(dir);
  const children: ChildProcess[] = [];
  let url: string;

  /** A graft process left running, its output in a log file; stopped in `after` if the test did not. */
  const start = (name: string, args: string[]) => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'w');
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, stdio: ['ignore', fd, fd] });
    children.push(child);
    return { child, log: () => readFileSync(log, 'utf8') };
  };
  const worker = (name: string, ...extra: string[]) => start(name, ['worker', '--queue', url, ...extra]);
  // Already gone (an exit code, or killed by a signal), or when it goes.
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve(child.exitCode)
      : new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const sweepJson = (out: string) => JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as Sweep;

  const spec = (name: string, axes: string, epochs = 1) => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, `command: train\nflags:\n  base: digits-cnn\n  data: data\n  epochs: ${epochs}\n  unfreeze: 0\naxes:\n${axes}`);
    return path;
  };

  before(async () => {
    await makeImageFolder(join(dir, 'data'), { perClass: 12, size: 28, classes: ['a', 'b', 'c'] });
    await redis.start();
    url = redis.url;
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await redis.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('two workers finish a 12-trial seeded sweep with the local run’s numbers; --status lists the trials done', async (t) => {
    const grid = spec('grid', '  lr: [0.01, 0.001]\n  seed: [1, 2, 3]\n  per-class: [4, 8]\n');
    let began = performance.now();
    const local = graft('sweep', grid, '--out', join(dir, 'local'), '--workers', '2');
    const localSeconds = (performance.now() - began) / 1000;
    assert.equal(local.code, 0, local.stderr);
    const w1 = worker('w1');
    const w2 = worker('w2');
    began = performance.now();
    const queued = graft('sweep', grid, '--out', join(dir, 'queued'), '--queue', url);
    t.diagnostic(
      `12 trials: local --workers 2 ${localSeconds.toFixed(1)} s, queue with 2 workers ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
    assert.equal(queued.code, 0, queued.stderr);
    const a = sweepJson(join(dir, 'local')).trials;
    const b = sweepJson(join(dir, 'queued')).trials;
    assert.equal(b.length, 12);
    for (const [i, r] of b.entries()) {
      assert.equal(r.status, 'done');
      assert.equal(r.id, a[i].id, 'the same trial, the same id');
      assert.deepEqual(r.status === 'done' && r.metrics, a[i].status === 'done' && a[i].metrics, `trial ${i + 1}'s metrics`);
      const losses = (x: TrialResult) =>
        x.status === 'done' ? (x.report.stages as { bestValLoss: number }[]).map((s) => s.bestValLoss) : [];
      assert.deepEqual(losses(r), losses(a[i]), `trial ${i + 1}'s validation losses`);
    }
    assert.ok(new Set(b.map((r) => r.worker)).size === 2, 'both workers ran trials');
    assert.ok(existsSync(join(dir, 'queued', 'best', 'model.json')));
    assert.equal(sweepJson(join(dir, 'queued')).trials.length, 12);

    const status = graft('sweep', '--status', '--queue', url, '--json');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^0 active, 0 waiting, 0 delayed, 0 failed, 12 done$/m);
    assert.equal((status.json?.jobs as unknown[]).length, 12);

    // Submitted again, the sweep is the same flow: nothing runs, the table comes back.
    const again = graft('sweep', grid, '--out', join(dir, 'queued'), '--queue', url, '--force');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(graft('sweep', '--status', '--queue', url).stdout.split('\n')[0], '0 active, 0 waiting, 0 delayed, 0 failed, 12 done');
    for (const w of [w1, w2]) w.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([exited(w1.child), exited(w2.child)]), [0, 0], 'SIGTERM stops an idle worker cleanly');
  });

  it('a worker SIGKILLed mid-trial: another takes its trial, every trial appears once, the bad one says why (exit 3)', async () => {
    const grid = spec('killed', '  lr: [0.01, -1]\n  seed: [4, 5]\n', 4);
    const out = join(dir, 'killed');
    const a = worker('kill-a', '--lock', '2');
    const client = start('kill-client', ['sweep', grid, '--out', out, '--queue', url]);
    await until('worker a to start a trial', () => /started/.test(a.log()));
    a.child.kill('SIGKILL');
    const b = worker('kill-b', '--lock', '2');
    assert.equal(await exited(client.child), 3, client.log());
    const { trials } = sweepJson(out);
    assert.equal(trials.length, 4);
    assert.equal(new Set(trials.map((r) => r.id)).size, 4);
    assert.deepEqual(
      trials.map((r) => r.status),
      ['done', 'done', 'failed', 'failed'],
    );
    for (const r of trials.filter((r) => r.status === 'failed')) assert.match(r.status === 'failed' ? r.error : '', /--lr/);
    // One committed result per trial folder, whoever ran it.
    for (const r of trials) assert.ok(existsSync(join(out, 'trials', r.id, 'result.json')));
    assert.match(b.log(), /started/, 'worker b took the trial worker a held');
    assert.match(client.log(), /^error: 2 of 4 trials failed/m);
    b.child.kill('SIGTERM');
    assert.equal(await exited(b.child), 0);
  });

  it('SIGTERM mid-trial: the worker finishes its trial, takes no other and exits 0; another worker does the rest', async () => {
    const grid = spec('term', '  seed: [8, 9]\n', 3);
    const out = join(dir, 'term');
    const a = worker('term-a');
    const client = start('term-client', ['sweep', grid, '--out', out, '--queue', url]);
    await until('worker a to start a trial', () => / started$/m.test(a.log()));
    a.child.kill('SIGTERM');
    assert.equal(await exited(a.child), 0, a.log());
    assert.equal((a.log().match(/ started$/gm) ?? []).length, 1, 'no trial taken after SIGTERM');
    assert.match(a.log(), / done in /, 'the running trial finished');
    const b = worker('term-b');
    assert.equal(await exited(client.child), 0, client.log());
    const { trials } = sweepJson(out);
    assert.deepEqual(
      trials.map((r) => r.status),
      ['done', 'done'],
    );
    assert.equal(new Set(trials.map((r) => r.worker)).size, 2, 'one trial each');
    b.child.kill('SIGTERM');
    assert.equal(await exited(b.child), 0);
  });

  it('Redis restarted mid-sweep (append-only): the sweep completes', async () => {
    const grid = spec('restart', '  lr: [0.01, 0.001]\n  seed: [6, 7]\n', 3);
    const out = join(dir, 'restart');
    const w = worker('restart-w');
    const client = start('restart-client', ['sweep', grid, '--out', out, '--queue', url]);
    await until('a trial to start', () => /started/.test(w.log()));
    await redis.stop('SIGKILL');
    await sleep(1500);
    await redis.start();
    assert.equal(await exited(client.child), 0, client.log());
    const { trials } = sweepJson(out);
    assert.deepEqual(
      trials.map((r) => r.status),
      ['done', 'done', 'done', 'done'],
    );
    assert.equal(readdirSync(join(out, 'trials')).length, 4);
    w.child.kill('SIGTERM');
    assert.equal(await exited(w.child), 0);
  });

  it('graft extract --queue: two workers fill the shared cache; train on the same data and cut computes nothing', async () => {
    const shared = join(dir, 'shared-cache');
    const workers = [worker('x1'), worker('x2')];
    const data = join(dir, 'data');
    const r = extractDigits(data, '--cache-dir', shared, '--shards', '4', '--queue', url, '--out', join(dir, 'extract'), '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([r.json?.images, r.json?.computed], [36, 36]);
    assert.equal(new Set((r.json?.trials as TrialResult[]).map((t) => t.worker)).size, 2, 'both workers took shards');
    assert.equal(featuresComputedByTrain(data, shared, join(dir, 'extract-model')), 0);
    for (const w of workers) w.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all(workers.map((w) => exited(w.child))), [0, 0]);
  });

  it('--queue pointing nowhere is one error line, before anything is written', () => {
    const grid = spec('nowhere', '  seed: [1]\n');
    const r: Run = graft('sweep', grid, '--out', join(dir, 'nowhere'), '--queue', `redis://127.0.0.1:${redis.port === 1 ? 2 : 1}`);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stderr.trim().split('\n'), [`error: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1`]);
    assert.equal(existsSync(join(dir, 'nowhere')), false);
    const w = graft('worker', '--queue', 'redis://127.0.0.1:1');
    assert.equal(w.code, 1);
    assert.match(w.stderr, /^error: cannot reach Redis/);
  });
});

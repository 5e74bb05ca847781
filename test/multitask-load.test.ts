// Multi-task data from a JSONL manifest (lists for multi-label and multi-output regression, null
// for "no label"), task specs as the CLI takes them, and a data set's labels put in a model's order.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { alignTasks, loadMultiTask, parseTaskArg } from '../src/data/multitask/load.js';
import { taskMetrics } from '../src/evaluate/tasks.js';
import { writeSolid } from './fixtures.js';
import { tempDir } from './helpers.js';

const size = { height: 8, width: 8, channels: 3 as const };

describe('multi-task data', () => {
  it('parses NAME[:KIND[:COLUMN]]', () => {
    assert.deepEqual(parseTaskArg('digit'), { name: 'digit', kind: 'classification' });
    assert.deepEqual(parseTaskArg('box:regression:bbox'), { name: 'box', kind: 'regression', column: 'bbox' });
    assert.throws(() => parseTaskArg('a:b:c:d'), /expected NAME\[:KIND\[:COLUMN\]\]/);
    assert.throws(() => parseTaskArg('a:softmax'), /kind must be one of/);
  });

  it('reads a JSONL manifest: a class, a list of labels, a list of numbers, null or a missing key as unlabelled, unreadable files skipped', async () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) await writeSolid(join(dir, `${i}.png`), [40 * i, 20, 200], 8, 8, i + 1);
    const rows = [
      { path: '0.png', Kind: 'b', tags: ['x', 'y'], box: [0.1, 0.2] },
      { path: '1.png', kind: 'a', tags: [], box: null },
      { path: '2.png', kind: null, tags: ['y'], box: [0.5, 0.6] },
      { path: 'missing.png', kind: 'a', tags: ['x'], box: [0, 0] },
      { path: '3.png', kind: 'a', box: [1, 2] },
    ];
    const file = join(dir, 'm.jsonl');
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const skipped: string[] = [];
    const { set, tasks } = await loadMultiTask(file, {
      size,
      tasks: [
        { name: 'kind', kind: 'classification' },
        { name: 'tags', kind: 'multi-label' },
        { name: 'pos', kind: 'regression', column: 'box' },
      ],
      callbacks: [{ onSkip: (s) => skipped.push(s.path) }],
    });
    assert.equal(set.ids.length, 4);
    assert.deepEqual(skipped, [join(dir, 'missing.png')]);
    assert.deepEqual(tasks, [
      { name: 'kind', kind: 'classification', classes: ['a', 'b'] },
      { name: 'tags', kind: 'multi-label', classes: ['x', 'y'] },
      { name: 'pos', kind: 'regression', outputs: 2, column: 'box' },
    ]);
    const kind = set.tasks.kind as { labels: Int32Array };
    assert.deepEqual(Array.from(kind.labels), [1, 0, -1, 0]);
    const tags = set.tasks.tags as { targets: Float32Array };
    assert.deepEqual(Array.from(tags.targets), [1, 1, 0, 0, 0, 1, NaN, NaN]);
    const pos = set.tasks.pos as { targets: Float32Array };
    assert.deepEqual(Array.from(pos.targets), [0.1, 0.2, NaN, NaN, 0.5, 0.6, 1, 2].map(Math.fround));
  });

  it("refuses a list for a classification, reads a regression's [] as unlabelled and drops empty labels from a list", async () => {
    const dir = tempDir();
    await writeSolid(join(dir, '0.png'), [10, 20, 30], 8, 8, 1);
    await writeSolid(join(dir, '1.png'), [30, 20, 10], 8, 8, 2);
    const file = join(dir, 'm.jsonl');
    const tasks = [
      { name: 'tags', kind: 'multi-label' as const },
      { name: 'y', kind: 'regression' as const },
    ];
    writeFileSync(
      file,
      [
        { path: '0.png', tags: ['', 'x'], y: [] },
        { path: '1.png', tags: [], y: 2 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const { set, tasks: specs } = await loadMultiTask(file, { size, tasks });
    assert.deepEqual(specs[0].classes, ['x']);
    assert.deepEqual(Array.from((set.tasks.tags as { targets: Float32Array }).targets), [1, 0]);
    assert.deepEqual(Array.from((set.tasks.y as { targets: Float32Array }).targets), [NaN, 2]);
    writeFileSync(file, JSON.stringify({ path: '0.png', kind: ['a', 'b'] }));
    await assert.rejects(
      loadMultiTask(file, { size, tasks: [{ name: 'kind', kind: 'classification' }] }),
      /m.jsonl:1: task kind is a classification, one label per sample, not a list/,
    );
  });

  it('averages accuracy over the tasks that have one and a labelled sample (NaN when none does)', () => {
    const set = {
      size,
      pixels: new Uint8Array(2 * 8 * 8 * 3),
      ids: ['a', 'b'],
      tasks: {
        c: { kind: 'classification' as const, classes: ['p', 'q'], labels: Int32Array.of(0, 1) },
        d: { kind: 'classification' as const, classes: ['p', 'q'], labels: Int32Array.of(-1, -1) },
        r: { kind: 'regression' as const, outputs: 1, targets: Float32Array.of(1, NaN) },
      },
    };
    const specs = [
      { name: 'c', kind: 'classification' as const, classes: ['p', 'q'] },
      { name: 'd', kind: 'classification' as const, classes: ['p', 'q'] },
      { name: 'r', kind: 'regression' as const },
    ];
    const outputs = [
      tf.tensor2d([
        [0.9, 0.1],
        [0.8, 0.2],
      ]),
      tf.tensor2d([
        [0.9, 0.1],
        [0.8, 0.2],
      ]),
      tf.tensor2d([[3], [5]]),
    ];
    const m = taskMetrics(specs, set, outputs);
    assert.equal(m.meanAccuracy, 0.5, 'task d has no labelled sample: left out, not counted as 0');
    assert.deepEqual(
      m.tasks.map((t) => t.n),
      [2, 0, 1],
    );
    assert.equal(m.tasks[2].mse, 4);
    assert.ok(Number.isNaN(taskMetrics([specs[2]], set, [outputs[2]]).meanAccuracy));
    tf.dispose(outputs);
  });

  it("puts labels in a model's class order and refuses classes the model does not know", () => {
    const set = {
      size,
      pixels: new Uint8Array(3 * 8 * 8 * 3),
      ids: ['a', 'b', 'c'],
      tasks: {
        kind: { kind: 'classification' as const, classes: ['a', 'b'], labels: Int32Array.of(1, -1, 0) },
        tags: { kind: 'multi-label' as const, classes: ['y'], targets: Float32Array.of(1, NaN, 0) },
      },
    };
    const aligned = alignTasks(set, [
      { name: 'kind', kind: 'classification', classes: ['b', 'c', 'a'] },
      { name: 'tags', kind: 'multi-label', classes: ['x', 'y'] },
    ]);
    assert.deepEqual(Array.from((aligned.tasks.kind as { labels: Int32Array }).labels), [0, -1, 2]);
    assert.deepEqual(Array.from((aligned.tasks.tags as { targets: Float32Array }).targets), [0, 1, NaN, NaN, 0, 0]);
    assert.throws(
      () => alignTasks(set, [{ name: 'kind', kind: 'classification', classes: ['a', 'z'] }]),
      /classes not known to the model: b/,
    );
    assert.throws(() => alignTasks(set, [{ name: 'other', kind: 'classification', classes: ['a', 'b'] }]), /no labels for task other/);
  });
});

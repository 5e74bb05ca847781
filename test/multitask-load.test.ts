// Multi-task data from a JSONL manifest (lists for multi-label and multi-output regression, null
// for "no label"), task specs as the CLI takes them, and a data set's labels put in a model's order.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alignTasks, loadMultiTask, parseTaskArg } from '../src/data/multitask/load.js';
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

  it('reads a JSONL manifest: a class, a list of labels, a list of numbers, null as unlabelled, unreadable files skipped', async () => {
    const dir = tempDir();
    for (let i = 0; i < 4; i++) await writeSolid(join(dir, `${i}.png`), [40 * i, 20, 200], 8, 8, i + 1);
    const rows = [
      { path: '0.png', Kind: 'b', tags: ['x', 'y'], box: [0.1, 0.2] },
      { path: '1.png', kind: 'a', tags: [], box: null },
      { path: '2.png', kind: null, tags: ['y'], box: [0.5, 0.6] },
      { path: 'missing.png', kind: 'a', tags: ['x'], box: [0, 0] },
      { path: '3.png', kind: 'a', tags: null, box: [1, 2] },
    ];
    const file = join(dir, 'm.jsonl');
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const skipped: string[] = [];
    const { set, tasks } = await loadMultiTask(file, { size, tasks: [{ name: 'kind', kind: 'classification' }, { name: 'tags', kind: 'multi-label' }, { name: 'pos', kind: 'regression', column: 'box' }], onSkip: (s) => skipped.push(s.path) });
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

  it('puts labels in a model\'s class order and refuses classes the model does not know', () => {
    const set = {
      size,
      pixels: new Uint8Array(3 * 8 * 8 * 3),
      ids: ['a', 'b', 'c'],
      tasks: {
        kind: { kind: 'classification' as const, classes: ['a', 'b'], labels: Int32Array.of(1, -1, 0) },
        tags: { kind: 'multi-label' as const, classes: ['y'], targets: Float32Array.of(1, NaN, 0) },
      },
    };
    const aligned = alignTasks(set, [{ name: 'kind', kind: 'classification', classes: ['b', 'c', 'a'] }, { name: 'tags', kind: 'multi-label', classes: ['x', 'y'] }]);
    assert.deepEqual(Array.from((aligned.tasks.kind as { labels: Int32Array }).labels), [0, -1, 2]);
    assert.deepEqual(Array.from((aligned.tasks.tags as { targets: Float32Array }).targets), [0, 1, NaN, NaN, 0, 0]);
    assert.throws(() => alignTasks(set, [{ name: 'kind', kind: 'classification', classes: ['a', 'z'] }]), /classes not known to the model: b/);
    assert.throws(() => alignTasks(set, [{ name: 'other', kind: 'classification', classes: ['a', 'b'] }]), /no labels for task other/);
  });
});

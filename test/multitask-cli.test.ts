// `graft train --task …`, `graft predict` and `graft eval` on multi-task models, and `--config`,
// run as a user would, on small images the test writes: a colour (classification), a brightness
// level (regression) and tags (multi-label), some samples labelled for some tasks only.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { writeSolid, type Rgb } from './fixtures.js';
import { graft, saveTinyBase, tempDir } from './helpers.js';

const dir = tempDir('graft-mt-cli-');
let base = '';
let manifest = '';
let nested = '';
const KINDS: { colour: string; light: boolean; rgb: Rgb }[] = [
  { colour: 'red', light: true, rgb: [230, 70, 70] },
  { colour: 'red', light: false, rgb: [120, 20, 20] },
  { colour: 'blue', light: true, rgb: [70, 70, 230] },
  { colour: 'blue', light: false, rgb: [20, 20, 120] },
];

before(async () => {
  base = await saveTinyBase(tempDir());
  const rows = ['path,colour,brightness,tags'];
  for (let i = 0; i < 48; i++) {
    const k = KINDS[i % 4];
    const file = `img/${i}.png`;
    await writeSolid(join(dir, file), k.rgb, 16, 16, i + 1, 20);
    await writeSolid(join(dir, 'nested', k.colour, i % 6 === 5 ? '_' : k.light ? 'light' : 'dark', `${i}.png`), k.rgb, 16, 16, i + 1, 20);
    const tags = [k.colour === 'red' ? 'warm' : '', k.light ? 'bright' : ''].filter(Boolean).join('|');
    // Partial labels: every 5th sample has no colour, every 7th no brightness.
    rows.push([file, i % 5 === 4 ? '' : k.colour, i % 7 === 6 ? '' : (k.light ? 0.8 : 0.3).toString(), tags || 'none'].join(','));
  }
  manifest = join(dir, 'data.csv');
  writeFileSync(manifest, rows.join('\n') + '\n');
  nested = join(dir, 'nested');
});

const TASKS = ['--task', 'colour', '--task', 'level:regression:brightness', '--task', 'tags:multi-label'];
const FAST = ['--epochs', '3', '--unfreeze', '0', '--cut', 'top_conv', '--head', 'linear'];

describe('graft train --task (multi-task)', () => {
  const out = join(dir, 'model');

  it('trains one head per task from a manifest with a column per task, and saves every task, kind and label in graft.json', () => {
    const r = graft('train', '--base', base, '--data', manifest, ...TASKS, ...FAST, '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.equal(meta.kind, 'multi-task');
    assert.deepEqual(meta.tasks, [
      { name: 'colour', kind: 'classification', classes: ['blue', 'red'] },
      { name: 'level', kind: 'regression', outputs: 1, column: 'brightness' },
      { name: 'tags', kind: 'multi-label', classes: ['bright', 'none', 'warm'] },
    ]);
    const test = (r.json!.metrics as { test: { tasks: Record<string, { n: number; accuracy?: number; mse?: number }> } }).test.tasks;
    assert.deepEqual(Object.keys(test), ['colour', 'level', 'tags']);
    assert.ok(test.colour.n > 0 && test.colour.accuracy !== undefined);
    assert.ok(test.level.mse !== undefined && Number.isFinite(test.level.mse));
    assert.match(r.stdout, /\| colour +\| classification +\|/);
  });

  it('export refuses a multi-task model (its model.json is the export) with exit 2', () => {
    const r = graft('export', '--model', out, '--out', join(dir, 'mt.onnx'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .* is a multi-task model/);
  });

  it("predict prints every task's answer for each image", () => {
    const r = graft('predict', '--model', out, join(dir, 'img/0.png'), join(dir, 'img/3.png'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const p = r.json!.predictions as {
      file: string;
      tasks: Record<string, { kind: string; top?: unknown[]; values?: number[]; labels?: string[] }>;
    }[];
    assert.equal(p.length, 2);
    assert.deepEqual(Object.keys(p[0].tasks), ['colour', 'level', 'tags']);
    assert.equal(p[0].tasks.colour.top!.length, 2);
    assert.equal(p[0].tasks.level.values!.length, 1);
    assert.ok(Array.isArray(p[0].tasks.tags.labels));
    for (const name of ['colour', 'level', 'tags']) assert.match(r.stdout, new RegExp(`^  ${name}\\b`, 'm'));
  });

  it('eval reports each task on its labelled test samples and their mean accuracy, on the split train made', () => {
    const r = graft('eval', '--model', out, '--data', manifest, '--json');
    assert.equal(r.code, 0, r.stderr);
    const m = r.json!.metrics as { meanAccuracy: number; tasks: Record<string, { n: number; accuracy?: number }> };
    const saved = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8')).metrics.test;
    assert.equal(m.tasks.colour.accuracy, saved.tasks[0].accuracy, 'same split and model as at training');
    assert.equal(m.meanAccuracy, saved.meanAccuracy);
    const all = graft('eval', '--model', out, '--data', manifest, '--split', 'all', '--json');
    assert.equal(all.code, 0, all.stderr);
    // Every 5th of 48 samples has no colour label.
    assert.equal((all.json!.metrics as typeof m).tasks.colour.n, 48 - 9);
  });

  it('reads nested folders, one level per task, `_` leaving a task unlabelled', () => {
    const o = join(dir, 'nested-model');
    const r = graft('train', '--base', base, '--data', nested, '--task', 'colour', '--task', 'shade', ...FAST, '--out', o, '--json');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(o, 'graft.json'), 'utf8'));
    assert.deepEqual(
      meta.tasks.map((t: { classes: string[] }) => t.classes),
      [
        ['blue', 'red'],
        ['dark', 'light'],
      ],
    );
    const all = graft('eval', '--model', o, '--data', nested, '--split', 'all', '--json');
    const tasks = (all.json!.metrics as { tasks: Record<string, { n: number }> }).tasks;
    assert.deepEqual([tasks.colour.n, tasks.shade.n], [48, 40]);
  });

  it('refuses bad task specs, a missing column and single-task flags, with one error line and exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--task', 'colour:categorical'], /kind must be one of classification, multi-label, regression/],
      [['--task', 'colour', '--task', 'x:classification:nope'], /missing column nope/],
      [
        ['--task', 'colour', '--per-class', '3'],
        /--per-class applies to image classification, text classification, not to multi-task training/,
      ],
      [['--task', 'colour', '--task', 'level:regression:brightness', '--task-weights', '1'], /--task-weights must be 'uncertainty' or 2/],
      [['--task', 'colour', '--task', 'colour'], /task colour is given twice/],
      [['--task', 'colour', '--task', 'tags:multi-label', '--task-weights', '1,'], /--task-weights must be/],
      [['--task', 'colour', '--task-weights', '0'], /not all 0/],
    ];
    for (const [args, message] of cases) {
      const r = graft('train', '--base', base, '--data', manifest, ...args, '--out', join(dir, 'never'));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^error: /);
    }
  });
});

describe('--config', () => {
  it('takes every flag from a YAML file (task as a list, kebab or camel keys), the command line winning', () => {
    const out = join(dir, 'from-config');
    const config = join(dir, 'graft.yaml');
    writeFileSync(
      config,
      [
        `base: ${base}`,
        `data: ${manifest}`,
        `out: ${out}`,
        'task:',
        '  - colour',
        '  - tags:multi-label',
        'epochs: 3',
        'batch-size: 8',
        'unfreeze: 0',
        'cut: top_conv',
        'taskWeights: uncertainty',
        'seed: 4',
        'no-cache: true',
      ].join('\n') + '\n',
    );
    const r = graft('train', '--config', config, '--epochs', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(
      meta.tasks.map((t: { name: string }) => t.name),
      ['colour', 'tags'],
    );
    assert.equal(meta.training.seed, 4);
    assert.equal(meta.training.weights, 'uncertainty');
    assert.ok(meta.training.stages[0].epochsRun <= 2, 'the command line --epochs 2 wins over the file');
  });

  it('accepts JSON, and rejects unknown keys, wrong types and a missing file with one error line and exit 2', () => {
    const good = join(dir, 'predict.json');
    writeFileSync(good, JSON.stringify({ model: join(dir, 'model'), top: 1 }));
    const p = graft('predict', '--config', good, join(dir, 'img/1.png'), '--json');
    assert.equal(p.code, 0, p.stderr);
    assert.equal((p.json!.predictions as { tasks: { colour: { top: unknown[] } } }[])[0].tasks.colour.top.length, 1);
    const cases: [string, string, RegExp][] = [
      ['unknown.yaml', 'epoch: 3\n', /unknown.yaml: .*"epoch".*train takes: .*epochs/],
      ['type.json', JSON.stringify({ epochs: [1, 2] }), /type.json: epochs: /],
      ['bool.yaml', 'force: "yes"\n', /bool.yaml: force: /],
      ['value.yaml', 'epochs: -1\n', /--epochs must be an integer/],
      ['broken.yaml', 'epochs: [1\n', /broken.yaml: not valid YAML/],
    ];
    for (const [name, text, message] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const r = graft('train', '--config', file, '--base', base, '--data', manifest, '--out', join(dir, 'never'));
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const twice = graft('train', '--config', good, '--config', good);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /^error: give --config once/);
    const folder = graft('train', '--config', dir);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /^error: cannot read config file .*EISDIR/);
    const missing = graft('train', '--config', join(dir, 'absent.yaml'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: config file not found/);
    // Read up to 1 MiB: a larger file, or a device that never ends, is refused without filling the memory.
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, `epochs: 1\n${'#'.repeat(2 * 1024 * 1024)}\n`);
    for (const file of [huge, ...(existsSync('/dev/zero') ? ['/dev/zero'] : [])]) {
      const r = graft('train', '--config', file, '--base', base, '--data', manifest, '--out', join(dir, 'never'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^error: config file .* is larger than 1 MiB/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

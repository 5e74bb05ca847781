// The CLI end to end on tiny data the tests make: a small base saved as model.json, image folders
// with good and bad files. Each case checks exit code, the one-line error and what is on disk.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Help } from 'commander';
import { COMMANDS, loadCommand } from '../src/cli/main.js';
import { decodeImageFile } from '../src/data/images.js';
import { EMPTY_CLASS, makeImageFolder, write16BitPng, writeExifRotatedJpeg, writeGrayscalePng, writeRgbaPng } from './fixtures.js';
import { saveTinyGraphModel } from './graph-fixture.js';
import { graft, root, saveTinyBase, tempDir, type Run } from './helpers.js';
import { saveTinyOnnx } from './onnx-fixture.js';
import type { OnnxImageInput, OnnxSidecar } from '../src/kinds/image.js';

/** The error contract: exactly one line on stderr starting "error:", no stack trace. */
function assertOneLineError(r: Run, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('warning:'));
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

let dir: string;
let base: string;
let data: string;
const quick = ['--epochs', '2', '--backend', 'cpu'];

before(async () => {
  dir = tempDir();
  base = await saveTinyBase(join(dir, 'base'));
  data = (
    await makeImageFolder(join(dir, 'data'), {
      classes: ['blue', 'red', 'café au lait'],
      perClass: 8,
      size: 20,
      extensions: ['png', 'jpg'],
    })
  ).root;
});

/** `graft train` on the test's base and data, into `out`. */
const train = (out: string, ...args: string[]) => graft('train', '--base', base, '--data', data, '--out', out, ...args);

describe('commands loaded when they run', () => {
  it("main.ts's table says what each command's own module says", async () => {
    for (const c of COMMANDS) {
      const cmd = await loadCommand(c);
      assert.equal(cmd.name(), c.name);
      assert.equal(cmd.description(), c.description, c.name);
      assert.equal(new Help().subcommandTerm(cmd), `${c.name} [options]${c.args ? ` ${c.args}` : ''}`);
    }
  });

  it('graft --help lists every command; graft CMD --help and graft help CMD are complete', () => {
    const r = graft('--help');
    assert.equal(r.code, 0, r.stderr);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c.name} \\[options\\]`, 'm'));
    for (const args of [
      ['train', '--help'],
      ['help', 'train'],
    ]) {
      const t = graft(...args);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /^Usage: graft train \[options\]/m);
      assert.match(t.stdout, /--epochs/);
      assert.match(t.stdout, /--train-engine/);
    }
  });
});

describe('graft train', () => {
  it('trains, evaluates and writes a model plain @tensorflow/tfjs loads and agrees with', async () => {
    const out = join(dir, 'model');
    const r = train(out, '--json', ...quick);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json, 'JSON on the last stdout line');
    assert.equal(r.json.out, out);
    assert.deepEqual(r.json.classes, ['blue', 'café au lait', 'red']);
    // --cut auto: the block output with the best LogME on the training images, and it says so.
    const auto = r.json.cutAuto as { by: string; suggested: string; ranking: { cut: string; logme: number }[] };
    assert.equal(auto.by, 'LogME');
    assert.equal(auto.suggested, 'top_conv');
    assert.equal(r.json.cut, auto.ranking[0].cut);
    assert.ok(
      auto.ranking.every((x, i) => i === 0 || x.logme <= auto.ranking[i - 1].logme),
      'best first',
    );
    assert.match(r.stdout, /cut auto: \S+ has the highest LogME/);
    // Colours are read straight off the pixels: the tiny base cannot beat that, and train says so.
    assert.match(
      r.stderr,
      /^warning: \S+ barely helps on this data: a linear probe on its features at \S+ reaches [\d.]+%, on the images' own pixels [\d.]+%/m,
    );
    const test = (r.json.metrics as { test: { accuracy: number; macroF1: number } }).test;
    assert.deepEqual(readdirSync(out).sort(), ['graft.json', 'model.json', 'weights.bin']);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    // The saved model, loaded and run whole in TF.js on the split its seed makes, scores what
    // training reported (there: the frozen part on ONNX Runtime, through the cache).
    const e = graft('eval', '--model', out, '--data', data, '--json', '--backend', 'cpu');
    assert.equal(e.code, 0, e.stderr);
    const evaluated = e.json!.metrics as { accuracy: number; macroF1: number; n: number };
    assert.deepEqual({ accuracy: evaluated.accuracy, macroF1: evaluated.macroF1 }, test);
    assert.equal(evaluated.n, (meta.training as { counts: { test: number } }).counts.test);
    assert.equal(meta.metrics.test.accuracy, test.accuracy);
    // graft inspect on the directory describes the model through its kind.
    const described = graft('inspect', out, '--json');
    assert.equal(described.code, 0, described.stderr);
    assert.deepEqual(
      { kind: described.json!.kind, outputs: described.json!.outputs },
      { kind: 'image', outputs: [{ name: 'class', kind: 'classification', labels: ['blue', 'café au lait', 'red'] }] },
    );
    assert.deepEqual(meta.labels, ['blue', 'café au lait', 'red']);
    assert.deepEqual(meta.input, { height: 16, width: 16, channels: 3 });
    assert.deepEqual(meta.normalize, { mean: [0, 0, 0], std: [1, 1, 1] });
    assert.equal(meta.cut, r.json.cut);
    assert.ok(meta.versions.graft && meta.versions.tfjs);

    // graft predict and a plain-tfjs client give the same probabilities for the same image.
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    const p = graft('predict', '--model', out, '--top', '3', '--json', '--backend', 'cpu', image);
    assert.equal(p.code, 0, p.stderr);
    const top = (p.json!.predictions as { top: { label: string; probability: number }[] }[])[0].top;
    const pixels = await decodeImageFile(image, meta.input, meta.resize);
    const nested = Array.from({ length: 16 }, (_, y) =>
      Array.from({ length: 16 }, (_, x) => Array.from(pixels.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3))),
    );
    const pixelsPath = join(dir, 'pixels.json');
    writeFileSync(pixelsPath, JSON.stringify(nested));
    const plain = spawnSync(process.execPath, [join(root, 'test/plain-tfjs-predict.mjs'), out, pixelsPath], {
      encoding: 'utf8',
      cwd: root,
    });
    assert.equal(plain.status, 0, plain.stderr);
    const { labels, probs } = JSON.parse(plain.stdout.trim().split('\n').pop()!) as { labels: string[]; probs: number[] };
    for (const t of top)
      assert.ok(
        Math.abs(probs[labels.indexOf(t.label)] - t.probability) < 1e-5,
        `${t.label}: ${t.probability} vs ${probs[labels.indexOf(t.label)]}`,
      );
  });

  it('eval reports metrics on the test split, and on all data', () => {
    const out = join(dir, 'model');
    const t = graft('eval', '--model', out, '--data', data, '--json', '--backend', 'cpu');
    assert.equal(t.code, 0, t.stderr);
    const m = t.json!.metrics as { accuracy: number; n: number; confusion: number[][]; perClass: { label: string }[] };
    assert.deepEqual(
      m.perClass.map((c) => c.label),
      ['blue', 'café au lait', 'red'],
    );
    assert.equal(
      m.confusion.flat().reduce((a, b) => a + b, 0),
      m.n,
    );
    const all = graft('eval', '--model', out, '--data', data, '--split', 'all', '--json', '--backend', 'cpu');
    assert.equal((all.json!.metrics as { n: number }).n, 24);
    assert.match(all.stdout, /confusion/);
  });

  it('is repeatable with --seed', () => {
    const a = train(join(dir, 'seed-a'), '--seed', '4', '--json', ...quick);
    const b = train(join(dir, 'seed-b'), '--seed', '4', '--json', ...quick);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(readFileSync(join(dir, 'seed-a', 'weights.bin')), readFileSync(join(dir, 'seed-b', 'weights.bin')));
  });

  it('trains a head on a frozen GraphModel base (converted to ONNX), saved with its trunk; predict uses both', async () => {
    const graphBase = await saveTinyGraphModel(join(dir, 'graph-base'));
    const out = join(dir, 'graph-model');
    const r = graft('train', '--base', graphBase, '--data', data, '--out', out, '--json', ...quick);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json!.cut, 'features');
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(meta.trunk, { path: 'trunk/model.onnx', output: 'features', layout: 'nhwc' });
    assert.ok(existsSync(join(out, 'trunk', 'model.onnx')));
    const image = join(data, 'blue', readdirSync(join(data, 'blue'))[0]);
    const p = graft('predict', '--model', out, '--json', '--backend', 'cpu', image);
    assert.equal(p.code, 0, p.stderr);
    const top = (p.json!.predictions as { top: { probability: number }[] }[])[0].top;
    assert.ok(Math.abs(top.reduce((a, t) => a + t.probability, 0) - 1) < 1e-5, 'top-3 of 3 classes sums to 1');
    const cut = graft(
      'train',
      '--base',
      graphBase,
      '--data',
      data,
      '--out',
      join(dir, 'graph-cut'),
      '--cut',
      'conv/Relu',
      '--json',
      ...quick,
    );
    assert.equal(cut.code, 0, cut.stderr);
    assert.equal(cut.json!.cut, 'conv/Relu');
    assertOneLineError(
      graft('train', '--base', graphBase, '--data', data, '--out', join(dir, 'graph-scratch'), '--scratch', ...quick),
      2,
      /frozen onnx model/,
    );
  });

  it('--threads 2 (multi-threaded wasm) trains bit-identically to one thread, and exits', () => {
    const one = train(join(dir, 'threads-1'), '--seed', '3', '--epochs', '2', '--threads', '1');
    const two = train(join(dir, 'threads-2'), '--seed', '3', '--epochs', '2', '--threads', '2');
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    assert.deepEqual(readFileSync(join(dir, 'threads-2', 'weights.bin')), readFileSync(join(dir, 'threads-1', 'weights.bin')));
  });

  it('trains the scratch baseline', () => {
    const r = train(join(dir, 'scratch'), '--scratch', '--json', ...quick);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(join(dir, 'scratch', 'graft.json'), 'utf8')).scratch, true);
  });

  it('skips bad files with one warning naming them, and fails on them with --strict', async () => {
    const bad = await makeImageFolder(join(dir, 'bad'), { perClass: 6, size: 20, bad: true });
    // An explicit cut: no ranking, so the skip warning is the only one.
    const r = graft('train', '--base', base, '--data', bad.root, '--out', join(dir, 'bad-model'), '--cut', 'top_conv', ...quick);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    assert.equal(warnings.length, 1, r.stderr);
    for (const name of [...bad.bad.map((p) => p.split('/').pop()!), EMPTY_CLASS])
      assert.ok(warnings[0].includes(name), `${name} named in: ${warnings[0]}`);

    const strict = graft('train', '--base', base, '--data', bad.root, '--out', join(dir, 'strict-model'), '--strict', ...quick);
    assertOneLineError(strict, 1, /strict/);
    for (const p of bad.bad) assert.ok(strict.stderr.includes(p.split('/').pop()!));
    assert.ok(!existsSync(join(dir, 'strict-model')), 'nothing written');
  });

  it('converts grayscale, RGBA, 16-bit and EXIF-rotated images', async () => {
    const mixed = join(dir, 'mixed');
    await makeImageFolder(mixed, { perClass: 4, size: 20 });
    await writeGrayscalePng(join(mixed, 'blue', 'gray.png'), 90);
    await writeRgbaPng(join(mixed, 'blue', 'rgba.png'));
    await write16BitPng(join(mixed, 'red', 'deep.png'), [60000, 2000, 2000]);
    await writeExifRotatedJpeg(join(mixed, 'red', 'rotated.jpg'));
    const r = graft(
      'train',
      '--base',
      base,
      '--data',
      mixed,
      '--out',
      join(dir, 'mixed-model'),
      '--strict',
      '--json',
      '--cut',
      'top_conv',
      ...quick,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stderr.includes('warning:'), r.stderr);
  });
});

describe('bad input', () => {
  it('unknown flag: exit 2', () => assertOneLineError(train(join(dir, 'x0'), '--bogus'), 2, /unknown option '--bogus'/));
  it('a near-miss flag is still one line', () => assertOneLineError(train(join(dir, 'x0'), '--forse'), 2, /unknown option '--forse'/));
  it('--unfreeze auto: tries deeper fine-tuning, says what it kept; a bad value is exit 2', () => {
    const r = train(join(dir, 'unfreeze-auto'), '--unfreeze', 'auto', '--cut', 'top_conv', '--json', ...quick);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unfreeze auto: kept \d blocks? \(validation loss head only: [\d.]+; blocks fine-tuned 1: [\d.]+/);
    const stages = r.json!.stages as { stage: string; blocks?: number; kept: boolean }[];
    assert.equal(r.json!.unfreeze, stages.find((s) => s.blocks && s.kept)?.blocks ?? 0);
    assertOneLineError(train(join(dir, 'x7'), '--unfreeze', 'deep', ...quick), 2, /--unfreeze \(or auto\) must be an integer/);
  });
  it('bad --head: exit 2', () => assertOneLineError(train(join(dir, 'x6'), '--head', 'mlp:abc', ...quick), 2, /--head must be/));
  it('missing data path: exit 2', () =>
    assertOneLineError(
      graft('train', '--base', base, '--data', join(dir, 'nope'), '--out', join(dir, 'x1'), ...quick),
      2,
      /data path not found/,
    ));
  it('unknown base: exit 2, listing known bases', () =>
    assertOneLineError(
      graft('train', '--base', 'resnet9000', '--data', data, '--out', join(dir, 'x2'), ...quick),
      2,
      /unknown base "resnet9000" \(known: mobilenet_v2, inception_v3, digits-cnn/,
    ));
  it('cut layer not found: exit 2, listing candidates', () =>
    assertOneLineError(
      train(join(dir, 'x3'), '--cut', 'block_99', ...quick),
      2,
      /cut layer "block_99" not found .*candidates: .*block_1_add/,
    ));
  it('fewer than 2 usable classes: exit 2', async () => {
    const one = join(dir, 'one-class');
    await makeImageFolder(one, { classes: ['only'], perClass: 4, size: 20 });
    assertOneLineError(graft('train', '--base', base, '--data', one, '--out', join(dir, 'x4'), ...quick), 2, /class/);
  });
  it('--out exists without --force: exit 2, left untouched', () => {
    const out = join(dir, 'existing');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    assertOneLineError(train(out, ...quick), 2, /already exists.*--force/);
    assert.deepEqual(readdirSync(out), ['keep.txt']);
    assert.equal(readFileSync(join(out, 'keep.txt'), 'utf8'), 'mine');
  });
  it('predict on a missing model dir: exit 2', () =>
    assertOneLineError(graft('predict', '--model', join(dir, 'no-model'), join(data, 'red', 'x.png')), 2, /model directory not found/));
  it('a model whose graft.json is minimal, malformed or not JSON: one error line naming the file, exit 1, in every command', () => {
    const broken = join(dir, 'broken-meta');
    cpSync(join(dir, 'model'), broken, { recursive: true });
    const file = join(broken, 'graft.json');
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    const cases: [string, RegExp][] = [
      ['{"kind":"image"}', /as an image classifier's description: base is missing/],
      ['{"kind":"nope"}', /kind of model this graft does not know \("nope"/],
      ['{"kind":"detection","base":"b"}', /as a detector's description: labels is missing/],
      ['not json', /Unexpected token/],
    ];
    for (const [text, pattern] of cases) {
      writeFileSync(file, text);
      const named = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${pattern.source}`);
      assertOneLineError(graft('predict', '--model', broken, '--backend', 'cpu', image), 1, named);
      assertOneLineError(graft('inspect', broken, '--backend', 'cpu'), 1, named);
    }
    writeFileSync(file, '{}');
    const named = /graft\.json as an image classifier's description: base is missing/;
    assertOneLineError(graft('eval', '--model', broken, '--data', data, '--backend', 'cpu'), 1, named);
    assertOneLineError(graft('serve', '--model', broken, '--port', '0', '--backend', 'cpu'), 1, named);
  });
  it('predict and eval --draw into a directory that holds files: exit 2 before any work, nothing replaced', () => {
    const drawn = join(dir, 'drawn');
    mkdirSync(drawn);
    writeFileSync(join(drawn, '001-img000.png'), 'mine');
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    for (const r of [
      graft('predict', '--model', join(dir, 'model'), '--draw', drawn, image),
      graft('eval', '--model', join(dir, 'model'), '--data', data, '--draw', drawn),
    ])
      assertOneLineError(r, 2, /--draw .*drawn is not empty \(use --force to replace the files of the same names in it\)/);
    assert.equal(readFileSync(join(drawn, '001-img000.png'), 'utf8'), 'mine');
  });
  it("a name like constructor or __proto__ is unknown, not Object's: exit 2 with the known names", () => {
    assertOneLineError(graft('experiment', 'constructor'), 2, /unknown experiment "constructor" \(known: digits-transfer/);
    assertOneLineError(graft('pretrain', 'toString'), 2, /unknown pretraining "toString" \(known: digits/);
    assertOneLineError(graft('inspect', 'constructor'), 2, /unknown base "constructor" \(known: mobilenet_v2/);
    // A model named constructor is one model, not a second one of that name.
    assertOneLineError(graft('serve', '--model', `constructor=${join(dir, 'no-model')}`), 2, /model directory not found/);
  });
  it('a list flag with an empty item, or a size of 0, is exit 2 before any work, not a 0 taken silently', () => {
    assertOneLineError(graft('experiment', 'digits-transfer', '--seeds', '1,,2'), 2, /--seeds must be a comma-separated list of integers/);
    assertOneLineError(graft('experiment', 'digits-transfer', '--seeds', ''), 2, /--seeds must be/);
    assertOneLineError(graft('inspect', base, '--std', ''), 2, /--std must be comma-separated numbers/);
    assertOneLineError(graft('inspect', base, '--mean', '0,,0'), 2, /--mean must be comma-separated numbers/);
    assertOneLineError(graft('inspect', base, '--input-size', '32x0'), 2, /--input-size must be HxW/);
    // An empty --classes (an unset shell variable) kept every class, silently.
    for (const classes of ['', 'red,'])
      assertOneLineError(train(join(dir, 'x7'), '--classes', classes, ...quick), 2, /--classes must name classes .* no empty item/);
    assert.ok(!existsSync(join(dir, 'x7')));
  });
  it('serve and studio --port over 65535 or an empty --host, serve --max-delay-ms over a minute: exit 2 before any model or workspace is touched', () => {
    assertOneLineError(graft('serve', '--model', join(dir, 'model'), '--port', '70000'), 2, /--port must be an integer from 0/);
    // An empty --host listened on every interface as "", answering no Host header.
    assertOneLineError(graft('serve', '--model', join(dir, 'model'), '--host', ''), 2, /--host is empty/);
    assertOneLineError(graft('studio', '--dir', join(dir, 'no-workspace'), '--host', ' ', '--no-open'), 2, /--host is empty/);
    // Node would make a longer timer 1 ms, with a warning on stderr.
    assertOneLineError(
      graft('serve', '--model', join(dir, 'model'), '--max-delay-ms', '99999999999'),
      2,
      /--max-delay-ms must be an integer from 0 to 60000/,
    );
    const workspace = join(dir, 'no-workspace');
    assertOneLineError(graft('studio', '--dir', workspace, '--port', '65536', '--no-open'), 2, /--port must be an integer from 0/);
    assert.ok(!existsSync(workspace));
  });
  it('a model whose weights.bin was cut short: one error line naming model.json and the sizes, exit 1', () => {
    const cut = join(dir, 'cut-weights');
    cpSync(join(dir, 'model'), cut, { recursive: true });
    truncateSync(join(cut, 'weights.bin'), 100);
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    assertOneLineError(
      graft('predict', '--model', cut, '--backend', 'cpu', image),
      1,
      /cannot load .*cut-weights\/model\.json: its weights \(weights\.bin\) hold 100 bytes, its manifest needs \d+: truncated/,
    );
  });
  it('predict --threshold is a score in [0, 1], checked as it is read; 0 is a score', () => {
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    for (const t of ['2', '-1', 'abc'])
      assertOneLineError(
        graft('predict', '--model', join(dir, 'no-model'), '--threshold', t, image),
        2,
        /--threshold must be a score in \[0, 1\]/,
      );
    // 0 passes the parser: this model is no detector, which is what is said.
    assertOneLineError(
      graft('predict', '--model', join(dir, 'model'), '--threshold', '0', image),
      2,
      /--threshold and --draw apply to detectors/,
    );
  });
  it('predict on a corrupt image: exit 1', async () => {
    const corrupt = join(dir, 'corrupt.jpg');
    writeFileSync(corrupt, Buffer.from('not really a jpeg'));
    assertOneLineError(graft('predict', '--model', join(dir, 'model'), '--backend', 'cpu', corrupt), 1, /corrupt\.jpg/);
  });
  it('--backend tensorflow without tfjs-node: exit 2', () =>
    assertOneLineError(graft('inspect', base, '--backend', 'tensorflow'), 2, /needs @tensorflow\/tfjs-node/));
  it('--verbose adds the stack trace', () => {
    const r = graft('train', '--base', 'resnet9000', '--data', data, '--out', join(dir, 'x5'), '--verbose', ...quick);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at /);
  });
  it('inspect lists layers with blocks and cut candidates', () => {
    const r = graft('inspect', base, '--json', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    const layers = r.json!.layers as { name: string; cutCandidate: boolean; suggestedCut: boolean; params: number }[];
    assert.deepEqual(
      layers.filter((l) => l.suggestedCut).map((l) => l.name),
      ['top_conv'],
    );
    assert.equal(layers.find((l) => l.name === 'block_1_bn')!.cutCandidate, false);
    assert.equal(layers.find((l) => l.name === 'block_1_add')!.cutCandidate, true);
    assert.match(r.stdout, /\| *top_conv *\| *Conv2D/);
  });
});

describe('graft rank', () => {
  it("scores every block output, best first, with LEEP of the base's own classifier; bad --cuts is a usage error", async () => {
    const r = graft('rank', '--base', base, '--data', data, '--probe', '--json', '--backend', 'cpu');
    assert.equal(r.code, 0, r.stderr);
    const rows = r.json!.rows as { cut: string; logme: number; hScore: number; probe: number; dims: number }[];
    assert.deepEqual(rows.map((x) => x.cut).sort(), ['block_1_add', 'stem_relu', 'top_conv']);
    assert.ok(rows.every((x, i) => Number.isFinite(x.logme) && (i === 0 || x.logme <= rows[i - 1].logme)));
    // The same scores the library computes on the same training split.
    const { useBackend } = await import('../src/backend/index.js');
    const { loadImageBase } = await import('../src/bases/index.js');
    const { loadDataSplits } = await import('../src/data/index.js');
    const { rankCuts } = await import('../src/evaluate/rank.js');
    await useBackend('cpu');
    const tiny = await loadImageBase(base);
    const { train } = await loadDataSplits(data, { size: tiny.input, resize: tiny.resize, seed: 0 });
    const library = await rankCuts(tiny, train, { probe: true, seed: 0 });
    const byCut = (xs: { cut: string; probe?: number; logme: number }[]) => Object.fromEntries(xs.map((x) => [x.cut, [x.probe, x.logme]]));
    assert.deepEqual(byCut(rows), byCut(library.rows));
    assert.equal(rows.find((x) => x.cut === 'top_conv')!.dims, 12);
    assert.deepEqual(r.json!.best, { base: base, cut: rows[0].cut });
    assert.ok(Number.isFinite((r.json!.bases as { leep: number }[])[0].leep));
    assert.match(r.stdout, /\| 1 +\|/);
    assertOneLineError(graft('rank', '--base', base, '--data', data, '--cuts', 'some'), 2, /argument 'some' is invalid/);
  });
});

describe('ONNX: bases, engines, export, the feature cache', () => {
  /** Class probabilities of an exported .onnx for one image file, fed as its sidecar says. */
  async function onnxProbabilities(file: string, image: string): Promise<Record<string, number>> {
    const ort = await import('onnxruntime-node');
    const side = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as OnnxSidecar;
    const { height, width, channels, layout, name } = side.input as OnnxImageInput;
    const pixels = await decodeImageFile(image, { height, width, channels: channels as 1 | 3 }, side.resize);
    const x = new Float32Array(pixels.length);
    pixels.forEach((p, i) => {
      const c = i % channels;
      const at = layout === 'nchw' ? c * height * width + Math.floor(i / channels) : i;
      x[at] = (p / 255 - side.normalize.mean[c]) / side.normalize.std[c];
    });
    const dims = layout === 'nchw' ? [1, channels, height, width] : [1, height, width, channels];
    const session = await ort.InferenceSession.create(file);
    const out = await session.run({ [name]: new ort.Tensor('float32', x, dims) });
    const probs = out[side.output].data as Float32Array;
    return Object.fromEntries(side.labels.map((l, i) => [l, probs[i]]));
  }

  function predicted(model: string, image: string): Record<string, number> {
    const p = graft('predict', '--model', model, '--top', '9', '--json', image);
    assert.equal(p.code, 0, p.stderr);
    const top = (p.json!.predictions as { top: { label: string; probability: number }[] }[])[0].top;
    return Object.fromEntries(top.map((t) => [t.label, t.probability]));
  }

  const close = (a: Record<string, number>, b: Record<string, number>, tol: number) => {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
    for (const k of Object.keys(a)) assert.ok(Math.abs(a[k] - b[k]) < tol, `${k}: ${a[k]} vs ${b[k]}`);
  };

  it('trains on an onnx: base; a second run reads every feature from the cache; export joins trunk and head', async () => {
    const onnxBase = `onnx:${saveTinyOnnx(join(dir, 'onnx-base'))}`;
    const cacheDir = join(dir, 'onnx-cache');
    const args = (out: string, seed: string) => [
      'train',
      '--base',
      onnxBase,
      '--data',
      data,
      '--out',
      join(dir, out),
      '--seed',
      seed,
      '--epochs',
      '2',
      '--cache-dir',
      cacheDir,
      '--json',
    ];
    const first = graft(...args('onnx-model', '1'));
    assert.equal(first.code, 0, first.stderr);
    const stages = (r: Run) => r.json!.stages as { engine: string; features: { computed: number; cached: number } }[];
    assert.equal(stages(first)[0].engine, 'onnx');
    assert.ok(stages(first)[0].features.computed > 0);
    const second = graft(...args('onnx-model-2', '2'));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(stages(second)[0].features.computed, 0, 'nothing recomputed');
    assert.equal(stages(second)[0].features.cached, stages(first)[0].features.computed);
    const info = graft('cache', 'info', '--cache-dir', cacheDir, '--json');
    assert.ok((info.json!.entries as number) > 0);

    const file = join(dir, 'onnx-model.onnx');
    const e = graft('export', '--model', join(dir, 'onnx-model'), '--format', 'onnx', '--out', file, '--json');
    assert.equal(e.code, 0, e.stderr);
    const image = join(data, 'red', readdirSync(join(data, 'red'))[0]);
    close(await onnxProbabilities(file, image), predicted(join(dir, 'onnx-model'), image), 1e-5);
    // The export, with its sidecar, is an ONNX base again.
    const again = graft('inspect', `onnx:${file}`, '--json');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.json!.kind, 'onnx');
  });

  it('exports a LayersModel-based model that ONNX Runtime runs to the same probabilities; --engine tfjs and onnx agree', async () => {
    const out = (name: string) => join(dir, name);
    for (const engine of ['tfjs', 'onnx']) {
      const r = train(out(`engine-${engine}`), '--seed', '5', '--epochs', '2', '--engine', engine, '--no-cache', '--json');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        (r.json!.stages as { engine: string }[]).map((s) => s.engine),
        [engine, engine],
      );
    }
    const image = join(data, 'blue', readdirSync(join(data, 'blue'))[0]);
    close(predicted(out('engine-tfjs'), image), predicted(out('engine-onnx'), image), 1e-3);
    const file = out('engine-onnx.onnx');
    const e = graft('export', '--model', out('engine-onnx'), '--out', file);
    assert.equal(e.code, 0, e.stderr);
    close(await onnxProbabilities(file, image), predicted(out('engine-onnx'), image), 1e-5);
    assertOneLineError(graft('export', '--model', out('engine-onnx'), '--out', file), 2, /already exists/);
    assertOneLineError(
      graft('export', '--model', out('engine-onnx'), '--out', out('x.onnx'), '--format', 'tflite'),
      2,
      /argument 'tflite' is invalid/,
    );
    assertOneLineError(graft('export', '--model', out('no-model'), '--out', out('y.onnx')), 2, /model directory not found/);
    assertOneLineError(train(out('x7'), '--engine', 'gpu'), 2, /argument 'gpu' is invalid/);
  });
});

describe('graft adapt', () => {
  let source = '';
  let labelled = '';
  let flat = '';
  before(async () => {
    source = (await makeImageFolder(join(dir, 'adapt-source'), { perClass: 8, size: 20 })).root;
    const target = await makeImageFolder(join(dir, 'adapt-target'), { perClass: 6, size: 20, seed: 2 });
    labelled = target.root;
    // The same target images without their class folders: an unlabelled target.
    flat = join(dir, 'adapt-flat');
    mkdirSync(flat, { recursive: true });
    for (const [cls, files] of Object.entries(target.files))
      files.forEach((f, i) => writeFileSync(join(flat, `${cls}-${i}.png`), readFileSync(f)));
  });

  it('adapts to an unlabelled folder, reports the labelled target and the source-only baseline', () => {
    const common = ['--base', base, '--source', source, '--target', flat, '--eval-target', labelled, '--json', '--backend', 'cpu'];
    const adapt = (method: string) => graft('adapt', ...common, '--method', method, '--epochs', '3');
    const r = adapt('coral');
    const trained = graft('adapt', ...common, '--method', 'dann', '--trunk', 'trainable', '--epochs', '2');
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /trunk trainable/);
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as {
      method: string;
      target: { accuracy: number; macroF1: number };
      source: { accuracy: number };
      baseline: { target: { accuracy: number } };
      checkpoint: string;
    };
    assert.equal(j.method, 'coral');
    assert.deepEqual((r.json as { trainEngine: unknown }).trainEngine, { engine: 'onnx' });
    // The baseline is source-only training on the same features and seed: what --method none reports.
    const none = adapt('none');
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(none.json!.target, j.baseline.target);
    assert.deepEqual(none.json!.source, (j.baseline as unknown as { source: unknown }).source);
    // Scored on the 12 labelled target images: accuracies are twelfths.
    for (const accuracy of [j.target.accuracy, j.baseline.target.accuracy])
      assert.ok(Math.abs(accuracy * 12 - Math.round(accuracy * 12)) < 1e-9, `${accuracy}`);
    assert.match(j.checkpoint, /source validation/);
    assert.match(r.stdout, /coral .*\n.*none \(baseline\)/);
    assert.match(r.stdout, /target 12 images \(labels not used\)/);
  });

  it('bad input: unlabelled --eval-target, --target-labels on unlabelled data, unknown method, --adversary without dann: exit 2', () => {
    const common = ['--base', base, '--source', source, '--epochs', '1', '--backend', 'cpu'];
    assertOneLineError(
      graft('adapt', ...common, '--target', flat, '--eval-target', flat, '--method', 'none'),
      2,
      /--eval-target .* has no labels/,
    );
    assertOneLineError(
      graft('adapt', ...common, '--target', flat, '--target-labels', '2', '--method', 'none'),
      2,
      /--target-labels needs labelled target data/,
    );
    assertOneLineError(graft('adapt', ...common, '--target', flat, '--method', 'mmd'), 2, /--method/);
    assertOneLineError(
      graft('adapt', ...common, '--target', flat, '--method', 'coral', '--adversary', 'confusion'),
      2,
      /--adversary applies to --method dann, not to coral/,
    );
  });
});

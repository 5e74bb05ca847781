// graft as a dependency (issue 32): `npm pack` (which builds dist/ through `prepare`), the tarball
// installed into an empty project with npm's defaults (no .npmrc, no allowScripts: what a user
// has), then used there as a user would: a plain .mjs importing the library, TypeScript checking
// against the shipped declarations, and the `graft` command through npx. Slow (a build and an
// install of ~400 packages from the local npm cache), hence test/e2e.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { makeImageFolder } from '../fixtures.js';
import { root, tempDir } from '../helpers.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function run(cmd: string, args: string[], cwd: string, timeout = 600_000): SpawnSyncReturns<string> {
  // GRAFT_SOURCE (set by helpers.ts for the checkout's own bin/graft.js) has no say here: the
  // installed package has no src/, but it is left out so the environment is a user's.
  const env: NodeJS.ProcessEnv = { ...process.env, GRAFT_SOURCE: undefined, GRAFT_CACHE_DIR: join(cwd, '.graft-cache') };
  // npm_config_* from a surrounding `npm run` (e.g. the checkout's onnxruntime-node-install=skip)
  // would be settings the user does not have.
  for (const k of Object.keys(env)) if (k.toLowerCase().startsWith('npm_config_')) delete env[k];
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

let project: string;
let data: string;
let tarball: string;

before(async () => {
  const dir = tempDir('graft-package-');
  const packed = run(NPM, ['pack', '--pack-destination', dir, '--json'], root);
  tarball = join(dir, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
  data = (await makeImageFolder(join(dir, 'data'), { classes: ['blue', 'red'], perClass: 8, size: 20 })).root;
  project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-graft', version: '1.0.0', private: true, type: 'module' }));
  // --prefer-offline: from the npm cache the checkout's own install filled, where it can.
  run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project);
});

describe('graft installed from its tarball', () => {
  it('ships dist/, models/ and the studio page, not src/ or test/', () => {
    const pkg = join(project, 'node_modules/graft');
    for (const f of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/studio/app/index.html',
      'models/digits-cnn/model.json',
      'models/nanodet/model.json',
      'models/nanodet/LICENSE',
      'models/nanodet/NOTICE',
      'bin/graft.js',
      'LICENSE',
    ])
      assert.ok(existsSync(join(pkg, f)), f);
    for (const f of ['src', 'test', 'tsconfig.json']) assert.ok(!existsSync(join(pkg, f)), f);
  });

  it('a plain .mjs imports the library, trains and saves a classifier', () => {
    writeFileSync(
      join(project, 'train.mjs'),
      `import { trainImageClassifier, loadModel, useBackend } from 'graft';
await useBackend('wasm');
const { model, metrics } = await trainImageClassifier({ base: 'digits-cnn', data: process.argv[2], epochs: 1, seed: 1 });
await model.save('lib-model');
const loaded = await loadModel('lib-model');
console.log(JSON.stringify({ accuracy: metrics.test.accuracy, kind: loaded.kind }));
`,
    );
    const r = run(process.execPath, ['train.mjs', data], project);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { accuracy: number; kind: string };
    assert.equal(out.kind, 'image');
    assert.ok(out.accuracy >= 0 && out.accuracy <= 1);
    assert.deepEqual(readdirSync(join(project, 'lib-model')).sort(), ['graft.json', 'model.json', 'weights.bin']);
  });

  it('TypeScript checks a user file against the shipped declarations (node16 and bundler resolution)', () => {
    writeFileSync(
      join(project, 'use.ts'),
      `import { trainImageClassifier, loadModel, GraftError, type Callback } from 'graft';
const log: Callback = { onEpochEnd: (e) => console.log(e.epoch, e.loss) };
const { model, metrics } = await trainImageClassifier({ base: 'digits-cnn', data: 'photos/', epochs: 1, callbacks: [log] });
const accuracy: number = metrics.test.accuracy;
await model.save('m');
const loaded = await loadModel('m');
if (loaded.kind === 'image') console.log(await loaded.predict(['a.png'], { top: 1 }), accuracy);
// @ts-expect-error: not an option of trainImageClassifier
await trainImageClassifier({ base: 'digits-cnn', data: 'photos/', noSuchOption: 1 });
console.log(new GraftError('x').exitCode);
`,
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const common = [
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      'use.ts',
    ];
    for (const resolution of [
      ['--module', 'node16', '--moduleResolution', 'node16'],
      ['--module', 'esnext', '--moduleResolution', 'bundler'],
    ]) {
      // Without skipLibCheck, so graft's own declarations are checked too. Some of its
      // dependencies' (TF.js, onnx-proto) do not pass on their own (a user sets skipLibCheck
      // for them), so what counts is what is reported in use.ts or under node_modules/graft.
      const r = spawnSync(process.execPath, [tsc, ...resolution, ...common], { cwd: project, encoding: 'utf8' });
      const ours = r.stdout.split('\n').filter((l) => /^(use\.ts|node_modules\/graft\/)/.test(l));
      assert.deepEqual(ours, [], `${resolution.join(' ')}:\n${r.stdout}`);
      assert.ok(r.status === 0 || r.stdout.split('\n').every((l) => !/^\S/.test(l) || l.startsWith('node_modules/')), r.stdout);
    }
  });

  it('npx graft train, then npx graft predict', () => {
    run(NPX, ['graft', 'train', '--base', 'digits-cnn', '--data', data, '--out', 'cli-model', '--epochs', '1', '--seed', '1'], project);
    const p = run(
      NPX,
      ['graft', 'predict', '--model', 'cli-model', '--json', join(data, 'red', readdirSync(join(data, 'red'))[0])],
      project,
    );
    const out = JSON.parse(p.stdout.trim().split('\n').pop()!) as { predictions: { top: { label: string }[] }[] };
    assert.ok(['blue', 'red'].includes(out.predictions[0].top[0].label), p.stdout);
  });
});

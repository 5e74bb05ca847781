// The model-kind registry: loadModel finds the kind graft.json names (or says clearly why not),
// and every kind answers the same interface.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { GraftError } from '../src/core/errors.js';
import { audioFormat, sniffAudio } from '../src/data/audio/read.js';
import { sniffMedium } from '../src/data/medium.js';
import { loadModel, MODEL_KINDS } from '../src/kinds/index.js';
import { TextClassifier } from '../src/kinds/text.js';
import { fitTfidf } from '../src/train/tfidf.js';
import { saveTinyBase, tempDir } from './helpers.js';

const usage = (pattern: RegExp) => (e: GraftError) => e.exitCode === 2 && pattern.test(e.message);
const failure = (pattern: RegExp) => (e: GraftError) => {
  assert.equal(e.exitCode, 1, e.message);
  assert.match(e.message, pattern);
  return true;
};

describe('loadModel', () => {
  it('says what is wrong with a directory that holds no model it knows', async () => {
    const dir = tempDir();
    await assert.rejects(loadModel(join(dir, 'nowhere')), usage(/model directory not found/));
    mkdirSync(join(dir, 'empty'));
    await assert.rejects(loadModel(join(dir, 'empty')), usage(/not a graft model .*graft\.json/));
    mkdirSync(join(dir, 'future'));
    writeFileSync(join(dir, 'future', 'graft.json'), JSON.stringify({ kind: 'hologram' }));
    await assert.rejects(
      loadModel(join(dir, 'future')),
      failure(new RegExp(`cannot read ${join(dir, 'future', 'graft\\.json')}: .*kind of model .*hologram.*known: image, text, multi-task`)),
    );
    mkdirSync(join(dir, 'headless'));
    writeFileSync(join(dir, 'headless', 'graft.json'), JSON.stringify({ labels: ['a', 'b'] }));
    await assert.rejects(
      loadModel(join(dir, 'headless')),
      usage(/not a graft model .*model\.json/),
      'no kind: an image classifier, which needs model.json',
    );
  });

  it('a graft.json that is minimal or malformed is one failure naming the file and the field, for every kind', async () => {
    const dir = tempDir();
    const image = {
      base: 'tiny',
      labels: ['a', 'b'],
      input: { height: 16, width: 16, channels: 3 },
      normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
      resize: 'cover',
      cut: 'top_conv',
    };
    const cases: [string, unknown, RegExp][] = [
      ['no-kind', {}, /as an image classifier's description: base is missing/],
      ['image', { kind: 'image' }, /as an image classifier's description: base is missing/],
      ['labels', { ...image, labels: 'a' }, /labels: expected array, received string/],
      ['no-labels', { ...image, labels: [] }, /labels: Too small/],
      ['size', { ...image, input: { height: 'x', width: 16, channels: 3 } }, /input\.height: expected number, received string/],
      ['channels', { ...image, input: { height: 16, width: 16, channels: 4 } }, /input\.channels/],
      ['normalize', { ...image, normalize: { mean: [0], std: [1] } }, /normalize: expected 3 mean and std values/],
      ['std', { ...image, normalize: { mean: [0, 0, 0], std: [1, 0, 1] } }, /normalize\.std\.1: Too small/],
      ['trunk', { ...image, trunk: { path: '../../elsewhere.onnx', output: 'x' } }, /trunk\.path/],
      ['text', { kind: 'text' }, /as a text classifier's description: base is missing/],
      ['mode', { kind: 'text', base: 'tfidf', labels: ['a'], mode: 'magic' }, /mode: Invalid option/],
      [
        'tasks',
        { kind: 'multi-task', ...image, tasks: [{ name: 't', kind: 'classification' }] },
        /tasks\.0: a classification .*lists its classes/,
      ],
      ['detection', { kind: 'detection', ...image, resize: 'letterbox' }, /as a detector's description: scoreThreshold is missing/],
    ];
    for (const [name, meta, pattern] of cases) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'graft.json'), JSON.stringify(meta));
      writeFileSync(join(dir, name, 'model.json'), '{}');
      const file = join(dir, name, 'graft.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      await assert.rejects(loadModel(join(dir, name)), failure(new RegExp(`^cannot read ${file} .*${pattern.source}`)), name);
    }
  });

  it("an image classifier whose labels are not its model's outputs is one failure saying both counts", async () => {
    const dir = tempDir();
    await saveTinyBase(dir); // 3 class probabilities out
    const meta = {
      base: 'tiny',
      input: { height: 16, width: 16, channels: 3 },
      normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
      resize: 'cover',
      cut: 'pool',
    };
    writeFileSync(join(dir, 'graft.json'), JSON.stringify({ ...meta, labels: ['a', 'b'] }));
    await assert.rejects(loadModel(dir), failure(/graft\.json: it lists 2 labels, model\.json gives 3 class probabilities/));
    writeFileSync(join(dir, 'graft.json'), JSON.stringify({ ...meta, labels: ['a', 'b', 'c'] }));
    const model = await loadModel(dir);
    assert.deepEqual(model.describe().outputs[0].labels, ['a', 'b', 'c']);
    await model.dispose();
  });

  it('returns the kind graft.json names, with the interface every kind has', async () => {
    assert.deepEqual(
      MODEL_KINDS.map((k) => k.name),
      ['image', 'text', 'multi-task', 'detection'],
    );
    const texts = ['good film', 'great film', 'lovely story', 'bad film', 'awful film', 'dull story'];
    const labels = Int32Array.from([0, 0, 0, 1, 1, 1]);
    const trained = new TextClassifier({ mode: 'scratch', tfidf: fitTfidf(texts, labels, 2, { l2: 0.01 }) }, ['good', 'bad']);
    const out = join(tempDir(), 'tfidf');
    await trained.save(out, { training: { seed: 3 } });
    const model = await loadModel(out);
    assert.equal(model.kind, 'text');
    assert.deepEqual(model.describe().outputs, [{ name: 'class', kind: 'classification', labels: ['good', 'bad'] }]);
    assert.deepEqual(await model.predict(['a great film'], { top: 1 }), await trained.predict(['a great film'], { top: 1 }));
    const utf8 = new TextEncoder().encode('a great film');
    assert.deepEqual(
      await model.predict([{ bytes: utf8 }], { top: 1 }),
      await model.predict(['a great film'], { top: 1 }),
      'bytes as UTF-8',
    );
    await assert.rejects(model.predict([{ bytes: Uint8Array.of(0xff, 0xfe, 0xfd), name: 'junk' }]), /cannot read junk: not UTF-8 text/);
    await assert.rejects(model.export('onnx'), usage(/text models are not exported to ONNX/));
    await assert.rejects(trained.save(out), usage(/already exists/), 'an existing directory is kept without force');
  });

  it('tells what bytes given to predict hold from their first bytes, else from the type or name given', () => {
    const head = (...parts: (string | number[])[]) =>
      Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
    const cases: [Uint8Array, string | undefined, string | undefined][] = [
      [head('RIFF', [0, 0, 0, 0], 'WAVEfmt '), '.wav', 'audio'],
      [head('RIFF', [0, 0, 0, 0], 'WEBPVP8 '), undefined, 'image'],
      [head('fLaC', [0, 0, 0, 34]), '.flac', 'audio'],
      [head('OggS', [0, 2]), '.ogg', 'audio'],
      [head('ID3', [4, 0]), '.mp3', 'audio'],
      [head([0xff, 0xfb, 0x90, 0x64]), '.mp3', 'audio'],
      [head([0xff, 0xf1, 0x50, 0x80]), '.aac', 'audio'],
      [head('FORM', [0, 0, 0, 0], 'AIFF'), '.aiff', 'audio'],
      [head([0, 0, 0, 32], 'ftypM4A '), '.m4a', 'audio'],
      [head([0x1a, 0x45, 0xdf, 0xa3]), '.webm', 'audio'],
      [head([0xff, 0xd8, 0xff, 0xe0]), undefined, 'image'],
      [head([0x89], 'PNG'), undefined, 'image'],
      [head('hello'), undefined, undefined],
    ];
    for (const [bytes, audio, medium] of cases) {
      assert.equal(sniffAudio(bytes), audio, String(bytes));
      assert.equal(sniffMedium(bytes), medium, String(bytes));
    }
    const unknown = head('hello');
    assert.equal(audioFormat(head('fLaC'), 'audio/wav', 'x.ogg'), '.flac', 'the bytes first');
    assert.equal(audioFormat(unknown, 'audio/mpeg; q=1', 'x.ogg'), '.mp3', 'then the type');
    assert.equal(audioFormat(unknown, '.opus'), '.opus');
    assert.equal(audioFormat(unknown, 'application/octet-stream', 'x.ogg'), '.ogg', 'then the name');
    assert.equal(audioFormat(unknown, undefined, 'input 1'), undefined, 'else WAV');
  });
});

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
import { tempDir } from './helpers.js';

const usage = (pattern: RegExp) => (e: GraftError) => e.exitCode === 2 && pattern.test(e.message);

describe('loadModel', () => {
  it('says what is wrong with a directory that holds no model it knows', async () => {
    const dir = tempDir();
    await assert.rejects(loadModel(join(dir, 'nowhere')), usage(/model directory not found/));
    mkdirSync(join(dir, 'empty'));
    await assert.rejects(loadModel(join(dir, 'empty')), usage(/not a graft model .*graft\.json/));
    mkdirSync(join(dir, 'future'));
    writeFileSync(join(dir, 'future', 'graft.json'), JSON.stringify({ kind: 'hologram' }));
    await assert.rejects(loadModel(join(dir, 'future')), usage(/kind of model .*hologram.*known: image, text, multi-task/));
    mkdirSync(join(dir, 'headless'));
    writeFileSync(join(dir, 'headless', 'graft.json'), JSON.stringify({ labels: ['a', 'b'] }));
    await assert.rejects(
      loadModel(join(dir, 'headless')),
      usage(/not a graft model .*model\.json/),
      'no kind: an image classifier, which needs model.json',
    );
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

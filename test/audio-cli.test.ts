// Audio from the command line: graft train on a folder of recordings with the speech-cnn base,
// then predict (the word and its probability per file), eval, inspect, export to ONNX, rank and adapt.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SPEECH_CNN_DIR } from '../src/bases/audio/speech-cnn.js';
import { graft, sweep, tempDir } from './helpers.js';

const skip = existsSync(join(SPEECH_CNN_DIR, 'model.json')) ? false : `speech-cnn is not in ${SPEECH_CNN_DIR} (graft pretrain speech)`;

describe('graft train on recordings (speech-cnn)', { skip }, () => {
  const dir = tempDir('graft-audio-cli-');
  const data = join(dir, 'words');
  const out = join(dir, 'model');
  before(() => {
    // "Words" rising or falling in pitch, at several rates and lengths.
    for (const [word, from, to] of [
      ['rise', 300, 1500],
      ['fall', 1500, 300],
    ] as const) {
      mkdirSync(join(data, word), { recursive: true });
      for (let i = 0; i < 12; i++)
        writeFileSync(
          join(data, word, `${i}.wav`),
          sweep(from * (1 + 0.03 * i), to * (1 + 0.03 * i), 0.4 + 0.03 * i, [8000, 16000, 22050][i % 3]),
        );
    }
    writeFileSync(join(data, 'rise', 'broken.wav'), 'not a wav');
  });

  it('trains, warns about the unreadable file and says how clips were fitted', () => {
    const r = graft(
      'train',
      '--base',
      'speech-cnn',
      '--data',
      data,
      '--out',
      out,
      '--epochs',
      '20',
      '--unfreeze',
      '0',
      '--lr',
      '0.01',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /broken\.wav/);
    assert.match(r.stderr + r.stdout, /fitted to the base's 1 s window: 24 padded/);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.equal(meta.medium.kind, 'audio');
    assert.deepEqual(
      [meta.medium.spec.sampleRate, meta.medium.spec.windowLength, meta.medium.spec.hop, meta.medium.spec.mels],
      [8000, 200, 80, 40],
    );
    assert.ok((r.json as { metrics: { val: { accuracy: number } } }).metrics.val.accuracy >= 0.5);
  });

  it('predicts the word and its probability for a recording', () => {
    const file = join(dir, 'new-rise.wav');
    writeFileSync(file, sweep(320, 1550, 0.5, 16000));
    const r = graft('predict', '--model', out, '--json', file);
    assert.equal(r.code, 0, r.stderr);
    const p = (r.json as { predictions: { file: string; top: { label: string; probability: number }[] }[] }).predictions[0];
    assert.equal(p.top[0].label, 'rise');
    assert.ok(p.top[0].probability > 0.5);
    const missing = graft('predict', '--model', out, join(dir, 'nowhere.wav'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: audio not found: .*nowhere\.wav$/m);
  });

  it('evaluates, inspects as audio and exports to ONNX with the spectrogram stated', () => {
    const e = graft('eval', '--model', out, '--data', data, '--split', 'all', '--json');
    assert.equal(e.code, 0, e.stderr);
    assert.ok((e.json as { metrics: { accuracy: number } }).metrics.accuracy > 0.5);
    const i = graft('inspect', out);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /recordings at 8000 Hz, 1 s clips as 98x40 log-mel spectrograms/);
    const onnx = join(dir, 'model.onnx');
    const x = graft('export', '--model', out, '--out', onnx);
    assert.equal(x.code, 0, x.stderr);
    const sidecar = JSON.parse(readFileSync(`${onnx}.json`, 'utf8'));
    assert.equal(sidecar.medium.spec.mels, 40);
    assert.equal(sidecar.spectrogramTopDb, 80);
  });

  it("ranks speech-cnn's cuts and adapts to recordings at another rate, trunk frozen and trained", () => {
    const r = graft('rank', '--base', 'speech-cnn', '--data', data, '--json');
    assert.equal(r.code, 0, r.stderr);
    const cuts = (r.json as { rows: { base: string; cut: string }[] }).rows.map((row) => row.cut);
    assert.ok(
      ['pool', 'block3_pool', 'block2_pool'].every((c) => cuts.includes(c)),
      JSON.stringify(cuts),
    );
    // The target: the same sweeps an octave lower, recorded at 44.1 kHz.
    const target = join(dir, 'low');
    for (const [word, from, to] of [
      ['rise', 150, 750],
      ['fall', 750, 150],
    ] as const) {
      mkdirSync(join(target, word), { recursive: true });
      for (let i = 0; i < 6; i++)
        writeFileSync(join(target, word, `${i}.wav`), sweep(from * (1 + 0.05 * i), to * (1 + 0.05 * i), 0.5, 44100));
    }
    for (const trunk of ['frozen', 'trainable']) {
      const run = graft(
        ...['adapt', '--base', 'speech-cnn', '--source', data, '--target', target, '--eval-target', target],
        ...['--method', 'coral', '--trunk', trunk, '--epochs', '3', '--json'],
      );
      assert.equal(run.code, 0, run.stderr);
      const accuracy = (run.json as { target: { accuracy: number } }).target.accuracy;
      assert.ok(Math.abs(accuracy * 12 - Math.round(accuracy * 12)) < 1e-9, `${trunk}: scored on the 12 target clips (${accuracy})`);
    }
  });
});

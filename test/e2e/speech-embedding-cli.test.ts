// graft train, predict and export with the speech-embedding base on recordings the test makes
// (its numerics against the package's models: test/speech-embedding.test.ts); the exported file
// takes samples and answers as graft predict does.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SPEECH_EMBEDDING_CUTS } from '../../src/bases/audio/speech-embedding.js';
import ort from 'onnxruntime-node';
import { fitClip } from '../../src/data/audio/clip.js';
import { SPEECH_MEL } from '../../src/data/audio/speech-mel.js';
import { decodeWav } from '../../src/data/audio/wav.js';
import { useBackend } from '../../src/backend/index.js';
import { startServer } from '../../src/serve/server.js';
import { graft, tempDir, voiced, wav } from '../helpers.js';

describe('graft train --base speech-embedding', () => {
  const dir = tempDir('graft-speech-embedding-');
  const data = join(dir, 'voices');
  const out = join(dir, 'model');
  before(() => {
    // Low and high voices, at two rates (resampled to 16 kHz on reading).
    for (const [label, f0] of [
      ['low', 110],
      ['high', 330],
    ] as const) {
      mkdirSync(join(data, label), { recursive: true });
      for (let i = 0; i < 6; i++) {
        const rate = i % 2 ? 8000 : 16000;
        writeFileSync(join(data, label, `${i}.wav`), wav(voiced(f0 * (1 + 0.04 * i), 0.5 + 0.05 * i, rate), rate));
      }
    }
  });

  it('trains a head, saves the front end in graft.json, predicts and exports', () => {
    const r = graft('train', '--base', 'speech-embedding', '--data', data, '--out', out, '--epochs', '2', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /fitted to the base's 1\.6 s window: 12 padded/);
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(meta.medium, { kind: 'audio', spec: SPEECH_MEL });
    assert.equal(meta.spectrogramTopDb, undefined);
    assert.equal(meta.trunk.output, SPEECH_EMBEDDING_CUTS.meanMax);
    const file = join(dir, 'new-high.wav');
    writeFileSync(file, wav(voiced(340, 0.6), 16000));
    const p = graft('predict', '--model', out, '--json', file);
    assert.equal(p.code, 0, p.stderr);
    const top = (p.json as { predictions: { top: { label: string; probability: number }[] }[] }).predictions[0].top;
    assert.equal(top[0].label, 'high');
    const e = graft('export', '--model', out, '--out', join(dir, 'model.onnx'));
    assert.equal(e.code, 0, e.stderr);
    const sidecar = JSON.parse(readFileSync(join(dir, 'model.onnx.json'), 'utf8'));
    assert.deepEqual(sidecar.medium, { kind: 'audio', spec: SPEECH_MEL });
    assert.deepEqual(sidecar.input, { name: 'samples', sampleRate: 16000, samples: SPEECH_MEL.clipSamples });
  });

  it('serves the model: a WAV body answered as graft predict answers the file', async () => {
    const file = join(dir, 'served.wav');
    writeFileSync(file, wav(voiced(310, 0.6), 8000));
    const p = graft('predict', '--model', out, '--json', '--top', '2', file);
    assert.equal(p.code, 0, p.stderr);
    const want = (p.json as { predictions: { top: { label: string; probability: number }[] }[] }).predictions[0].top;
    await useBackend('wasm');
    const server = await startServer({ models: { voices: out }, port: 0, maxBatch: 4, maxDelayMs: 10, maxBodyBytes: 1024 * 1024 });
    try {
      const r = await fetch(new URL('/v1/models/voices:predict', server.url), {
        method: 'POST',
        headers: { 'content-type': 'audio/wav' },
        body: new Uint8Array(readFileSync(file)),
      });
      assert.equal(r.status, 200);
      const got = ((await r.json()) as { predictions: { top: { label: string; probability: number }[] }[] }).predictions[0].top;
      assert.deepEqual(
        got.map((t) => t.label),
        want.map((t) => t.label),
      );
      got.forEach((t, i) => assert.ok(Math.abs(t.probability - want[i].probability) < 1e-6, `${t.probability} vs ${want[i].probability}`));
    } finally {
      await server.close();
    }
  });

  it('rank scores its pooled cuts and its sequence of window embeddings (first and mean)', () => {
    const r = graft('rank', '--base', 'speech-embedding', '--data', data, '--json');
    assert.equal(r.code, 0, r.stderr);
    const cuts = (r.json as { rows: { cut: string; logme: number }[] }).rows.map((row) => row.cut).sort();
    // The sequence is scored as a token sequence is: its first window and its mean (the same numbers as embedding_mean).
    const { meanMax, mean, max, sequence } = SPEECH_EMBEDDING_CUTS;
    assert.deepEqual(cuts, [max, mean, meanMax, `${sequence}:cls`, `${sequence}:mean`]);
    const logme = Object.fromEntries((r.json as { rows: { cut: string; logme: number }[] }).rows.map((row) => [row.cut, row.logme]));
    assert.ok(Math.abs(logme[mean] - logme[`${sequence}:mean`]) < 1e-3, JSON.stringify(logme));
  });

  it('exports one graph from samples to probabilities that answers as graft predict does (1e-4)', async () => {
    const file = join(dir, 'new-low.wav');
    writeFileSync(file, wav(voiced(120, 0.7), 16000));
    const p = graft('predict', '--model', out, '--json', '--top', '2', file);
    assert.equal(p.code, 0, p.stderr);
    const top = (p.json as { predictions: { top: { label: string; probability: number }[] }[] }).predictions[0].top;
    // The recording as graft reads it (16-bit WAV at 16 kHz), fitted to the clip as graft fits it.
    const clip = fitClip(decodeWav(readFileSync(file), file).samples, SPEECH_MEL.clipSamples).samples;
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const probs = (await session.run({ samples: new ort.Tensor('float32', clip, [1, clip.length]) }))[session.outputNames[0]]
      .data as Float32Array;
    const labels = JSON.parse(readFileSync(join(dir, 'model.onnx.json'), 'utf8')).labels as string[];
    for (const t of top)
      assert.ok(
        Math.abs(probs[labels.indexOf(t.label)] - t.probability) < 1e-4,
        `${t.label}: ${probs[labels.indexOf(t.label)]} vs ${t.probability}`,
      );
  });
});

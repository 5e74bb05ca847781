// The speech-embedding base: its front end (the package's mel model, kept as 8-bit frames) and its
// trunk (the embedding model over windows of 76 frames every 8, pooled, in one ONNX graph) against
// the package's two models run as openWakeWord runs them, window by window. The CLI on recordings
// the test makes: test/e2e/speech-embedding-cli.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadSpeechEmbedding, SPEECH_EMBEDDING_CUTS, windowedEmbedding, windowStarts } from '../src/bases/audio/speech-embedding.js';
import { SPEECH_MEL, speechMelFrames, speechMelNormalize } from '../src/data/audio/speech-mel.js';
import { speechEmbeddingFile, speechMelPixels } from '../src/data/audio/speech-mel-run.js';
import { normals, voiced } from './helpers.js';

const session = (name: 'melspectrogram.onnx' | 'embedding_model.onnx') => ort.InferenceSession.create(speechEmbeddingFile(name));

describe('speech-embedding front end', () => {
  it('gives as many frames as the mel model does, and 11 windows of 76 frames every 8 for 1.6 s', async () => {
    const mel = await session('melspectrogram.onnx');
    for (const n of [1280, 16000, SPEECH_MEL.clipSamples]) {
      const out = await mel.run({ input: new ort.Tensor('float32', new Float32Array(n), [1, n]) });
      assert.equal(out[mel.outputNames[0]].dims[2], speechMelFrames(n), `${n} samples`);
    }
    assert.deepEqual(windowStarts(157), [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80]);
    assert.deepEqual(windowStarts(75), []);
  });

  it("keeps the embedding's input (mel/10 + 2 of int16-scaled samples) to within half a level", async () => {
    const clip = new Float32Array(SPEECH_MEL.clipSamples);
    clip.set(voiced(180, 0.8), 4000);
    const pixels = await speechMelPixels(clip, SPEECH_MEL);
    const mel = await session('melspectrogram.onnx');
    const x = Float32Array.from(clip, (v) => v * 32767);
    const ref = (await mel.run({ input: new ort.Tensor('float32', x, [1, x.length]) }))[mel.outputNames[0]].data as Float32Array;
    assert.equal(pixels.length, ref.length);
    const { mean, std } = speechMelNormalize(SPEECH_MEL);
    const step = (SPEECH_MEL.range[1] - SPEECH_MEL.range[0]) / 255;
    let worst = 0;
    for (let i = 0; i < ref.length; i++) {
      const level = Math.min(SPEECH_MEL.range[1], Math.max(SPEECH_MEL.range[0], ref[i] / 10 + 2));
      worst = Math.max(worst, Math.abs((pixels[i] / 255 - mean[0]) / std[0] - level));
    }
    assert.ok(worst <= step / 2 + 1e-5, `worst ${worst} > half a level ${step / 2}`);
  });
});

describe('speech-embedding trunk', () => {
  it('equals the embedding model run window by window and pooled (mean, max, both, the sequence)', async () => {
    const frames = 157;
    const rand = normals(3);
    const x = Float32Array.from({ length: 2 * frames * 32 }, () => 4 + 2 * rand());
    const wrapped = await ort.InferenceSession.create(
      windowedEmbedding(readFileSync(speechEmbeddingFile('embedding_model.onnx')), frames, 32),
    );
    const got = await wrapped.run({ spectrogram: new ort.Tensor('float32', x, [2, frames, 32, 1]) });
    const emb = await session('embedding_model.onnx');
    const starts = windowStarts(frames);
    for (let clip = 0; clip < 2; clip++) {
      const vectors: Float32Array[] = [];
      for (const s of starts) {
        const w = x.subarray((clip * frames + s) * 32, (clip * frames + s + 76) * 32);
        const out = await emb.run({ [emb.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(w), [1, 76, 32, 1]) });
        vectors.push(out[emb.outputNames[0]].data as Float32Array);
      }
      const mean = Array.from({ length: 96 }, (_, j) => vectors.reduce((a, v) => a + v[j], 0) / vectors.length);
      const max = Array.from({ length: 96 }, (_, j) => Math.max(...vectors.map((v) => v[j])));
      const close = (name: string, want: number[], offset: number) => {
        const have = got[name].data as Float32Array;
        want.forEach((v, j) => assert.ok(Math.abs(have[offset + j] - v) < 1e-4, `${name}[${clip}][${j}]: ${have[offset + j]} vs ${v}`));
      };
      close(SPEECH_EMBEDDING_CUTS.mean, mean, clip * 96);
      close(SPEECH_EMBEDDING_CUTS.max, max, clip * 96);
      close(SPEECH_EMBEDDING_CUTS.meanMax, [...mean, ...max], clip * 192);
      close(
        SPEECH_EMBEDDING_CUTS.sequence,
        vectors.flatMap((v) => [...v]),
        clip * starts.length * 96,
      );
    }
  });

  it('is an audio base at 16 kHz on 1.6 s clips, cut by default at the pooled mean and max', async () => {
    const base = await loadSpeechEmbedding();
    assert.equal(base.kind, 'onnx');
    assert.deepEqual(base.input, { height: 157, width: 32, channels: 1 });
    assert.equal(base.suggestedCut, SPEECH_EMBEDDING_CUTS.meanMax);
    assert.deepEqual(base.medium, { kind: 'audio', spec: SPEECH_MEL });
    for (const cut of Object.values(SPEECH_EMBEDDING_CUTS)) assert.ok(base.onnx.ops.has(cut), cut);
  });
});

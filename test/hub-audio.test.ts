// Hub audio encoders (Wav2Vec2FeatureExtractor: raw samples in) as waveform bases: clips kept as
// 8-bit mu-law codes, expanded and normalised inside the base's graph. Numerics against the
// formula and against the encoder run on input_values computed here; a tiny wav2vec2-shaped model
// in a local folder in the Hub's layout. Training, predicting and exporting through a Hub served
// on loopback: test/hub.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadImageBase } from '../src/bases/index.js';
import type { OnnxBase } from '../src/bases/types.js';
import { fitClip } from '../src/data/audio/clip.js';
import { clipWaveform, muLawCompress, muLawExpand, muLawLevel, type WaveformSpec } from '../src/data/audio/waveform.js';
import { muLawCompressor } from '../src/onnx/mu-law.js';
import { tempDir, voiced } from './helpers.js';
import { tinyWav2vec2, WAV2VEC2_PREPROCESSOR } from './hub-models.js';

const SPEC: WaveformSpec = { frontEnd: 'mu-law', sampleRate: 16000, clipSamples: 25600, mu: 255 };

/** The samples stored codes stand for, as the base's graph computes them, and normalised as Wav2Vec2FeatureExtractor does. */
function inputValues(codes: Uint8Array): Float32Array {
  const x = Float64Array.from(codes, (p) => muLawExpand((2 * p) / 255 - 1, SPEC.mu));
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  return Float32Array.from(x, (v) => (v - mean) / Math.sqrt(variance + 1e-7));
}

/** The encoder's last_hidden_state averaged over its frames, for one clip's input_values. */
async function encoderMean(session: ort.InferenceSession, values: Float32Array): Promise<Float32Array> {
  const n = values.length;
  const out = (
    await session.run({
      input_values: new ort.Tensor('float32', values, [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    })
  ).last_hidden_state;
  const [, t, h] = out.dims;
  const data = out.data as Float32Array;
  return Float32Array.from({ length: h }, (_, k) => {
    let s = 0;
    for (let j = 0; j < t; j++) s += data[j * h + k];
    return s / t;
  });
}

describe('mu-law codes', () => {
  it('keep speech at over 35 dB signal to noise, and the ONNX compressor computes the same codes', async () => {
    const clip = voiced(150, 1.6);
    let [signal, noise] = [0, 0];
    for (const x of clip) {
      const back = muLawExpand((2 * muLawLevel(muLawCompress(x, 255))) / 255 - 1, 255);
      signal += x * x;
      noise += (back - x) ** 2;
    }
    const snr = 10 * Math.log10(signal / noise);
    assert.ok(snr > 35, `SNR ${snr.toFixed(1)} dB`);
    // Beyond full scale is clipped to it, both here and in the graph.
    const x = Float32Array.from([-2, -1, -0.5, -0.01, -1e-4, 0, 1e-4, 0.01, 0.3, 1, 1.5]);
    const session = await ort.InferenceSession.create(muLawCompressor(x.length, 255, tinyWav2vec2()['onnx/model.onnx']));
    const got = (await session.run({ x: new ort.Tensor('float32', x, [1, x.length]) })).code.data as Float32Array;
    x.forEach((v, i) => assert.ok(Math.abs(got[i] - muLawCompress(v, 255)) < 1e-6, `${v}: ${got[i]} vs ${muLawCompress(v, 255)}`));
  });
});

describe('a Hub audio encoder as a base', () => {
  const dir = tempDir('graft-hub-audio-');
  const folder = join(dir, 'tiny-wav2vec2');
  let base: OnnxBase;

  before(async () => {
    for (const [path, bytes] of Object.entries(tinyWav2vec2())) {
      mkdirSync(join(folder, path, '..'), { recursive: true });
      writeFileSync(join(folder, path), bytes);
    }
    const loaded = await loadImageBase(folder);
    assert.equal(loaded.kind, 'onnx');
    base = loaded as OnnxBase;
  });

  it('hears 1.6 s clips at its sampling rate as mu-law codes, with token cuts and its layers as cuts', () => {
    assert.deepEqual(base.medium, { kind: 'audio', spec: SPEC });
    assert.deepEqual(base.input, { height: 25600, width: 1, channels: 1 });
    assert.equal(base.suggestedCut, 'last_hidden_state:mean');
    for (const cut of ['last_hidden_state:mean', 'last_hidden_state:cls', '/feature_extractor/conv_layers.1/Relu_output_0'])
      assert.ok(base.onnx.tensors.includes(cut), `${cut} in ${base.onnx.tensors.join(', ')}`);
  });

  it('computes the encoder on the stored codes expanded and normalised (1e-4), close to the unquantised clip', async () => {
    const session = await ort.InferenceSession.create(join(folder, 'onnx/model.onnx'));
    const trunk = await base.frozenTrunk('last_hidden_state:mean');
    // A short clip (padded with silence) and a long one (cropped to its loudest 1.6 s).
    for (const samples of [voiced(140, 0.6), voiced(260, 2.2)]) {
      const { pixels } = clipWaveform(samples, SPEC);
      const x = Float32Array.from(pixels, (p) => (p / 255 - 0.5) / 0.5);
      const got = (await trunk.predictRaw!(x, [1, SPEC.clipSamples, 1, 1])).data;
      const want = await encoderMean(session, inputValues(pixels));
      assert.equal(got.length, want.length);
      got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) < 1e-4, `feature ${k}: ${v} vs ${want[k]}`));
      // What the codes lose: the encoder on the fitted clip's floats, normalised the same way, differs by under 2% of its size.
      const floats = fitClip(samples, SPEC.clipSamples).samples;
      const mean = floats.reduce((a, b) => a + b, 0) / floats.length;
      const sd = Math.sqrt(floats.reduce((a, b) => a + (b - mean) ** 2, 0) / floats.length + 1e-7);
      const exact = await encoderMean(
        session,
        Float32Array.from(floats, (v) => (v - mean) / sd),
      );
      const diff = Math.hypot(...exact.map((v, k) => v - got[k]));
      assert.ok(diff < 0.02 * Math.hypot(...exact), `codes vs floats: ${diff} of ${Math.hypot(...exact)}`);
    }
    await trunk.release?.();
  });

  it('refuses a feature extractor that does not take raw samples, naming it', async () => {
    const whisper = join(dir, 'whisper');
    mkdirSync(join(whisper, 'onnx'), { recursive: true });
    writeFileSync(join(whisper, 'onnx/model.onnx'), tinyWav2vec2()['onnx/model.onnx']);
    writeFileSync(
      join(whisper, 'preprocessor_config.json'),
      JSON.stringify({ ...WAV2VEC2_PREPROCESSOR, feature_extractor_type: 'WhisperFeatureExtractor', feature_size: 80 }),
    );
    await assert.rejects(loadImageBase(whisper), /WhisperFeatureExtractor; graft reads Hub audio encoders that take raw samples/);
  });
});

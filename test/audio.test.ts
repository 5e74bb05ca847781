import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import wavefile from 'wavefile';
import { fitClip } from '../src/data/audio/clip.js';
import { spectrogramPicture } from '../src/data/audio/picture.js';
import { frameCount, hzToMel, KWS_LOGMEL, logMel, melFilterbank, melToHz, type LogMelSpec } from '../src/data/audio/logmel.js';
import { decodeAudio } from '../src/data/audio/read.js';
import { resample } from '../src/data/audio/resample.js';
import { spectrogramPixels, clipImageSize, TOP_DB } from '../src/data/audio/spectrogram.js';
import { decodeWav } from '../src/data/audio/wav.js';
import { DecodeError } from '../src/data/images.js';
import { GraftError } from '../src/core/errors.js';
import { loadData } from '../src/data/index.js';
import { loadManifest, parseWhere } from '../src/data/manifest.js';
import type { ImageSet } from '../src/data/types.js';
import { root, tempDir } from './helpers.js';

const tone = (hz: number, rate: number, n: number, amplitude = 0.5) =>
  Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));

/** WAV bytes of `channels` (each a float signal in [-1, 1]) at wavefile's depth code. */
function wavBytes(channels: Float32Array[], rate: number, depth: string): Uint8Array {
  const full = { '8': 127, '16': 32767, '24': 8388607, '32': 2147483647 }[depth];
  const asDepth = (s: Float32Array) =>
    full === undefined ? Array.from(s) : Array.from(s, (v) => Math.round(v * full) + (depth === '8' ? 128 : 0));
  const w = new wavefile.WaveFile();
  w.fromScratch(channels.length, rate, depth, channels.length === 1 ? asDepth(channels[0]) : channels.map(asDepth));
  return w.toBuffer();
}

const rms = (x: Float32Array, from = 0, to = x.length) => Math.sqrt(x.subarray(from, to).reduce((s, v) => s + v * v, 0) / (to - from));

describe('decodeWav', () => {
  it("reads every 16-bit PCM value as wavefile's own conversion does, in mono and stereo", () => {
    const all = Array.from({ length: 65536 }, (_, i) => i - 32768);
    for (const channels of [1, 2]) {
      const w = new wavefile.WaveFile();
      w.fromScratch(channels, 8000, '16', channels === 1 ? all : [all, [...all].reverse()]);
      const bytes = w.toBuffer();
      // The reference: wavefile's generic path, which graft took for every depth before.
      const ref = new wavefile.WaveFile(bytes);
      ref.toBitDepth('32f');
      const interleaved = ref.getSamples(true, Float32Array) as unknown as Float32Array;
      const want = Float32Array.from({ length: 65536 }, (_, i) =>
        channels === 1 ? interleaved[i] : (interleaved[2 * i] + interleaved[2 * i + 1]) / 2,
      );
      assert.deepEqual(decodeWav(bytes, 'all.wav').samples, want);
    }
  });
  const signal = tone(440, 8000, 800);
  for (const depth of ['8', '16', '24', '32', '32f', '64']) {
    it(`reads ${depth === '32f' || depth === '64' ? `${depth.replace('f', '')}-bit float` : `${depth}-bit PCM`} to within its quantisation`, () => {
      const w = decodeWav(wavBytes([signal], 8000, depth), 'tone.wav');
      assert.equal(w.sampleRate, 8000);
      assert.equal(w.channels, 1);
      assert.equal(w.samples.length, signal.length);
      const step = depth === '8' ? 1 / 127 : 1e-4;
      const worst = Math.max(...signal.map((v, i) => Math.abs(v - w.samples[i])));
      assert.ok(worst <= step, `worst error ${worst} at ${depth} bits`);
    });
  }

  it('mixes stereo down to the mean of its channels', () => {
    const w = decodeWav(wavBytes([signal, signal.map((v) => v / 2)], 16000, '16'), 'stereo.wav');
    assert.equal(w.channels, 2);
    assert.equal(w.sampleRate, 16000);
    for (const i of [10, 123, 777]) assert.ok(Math.abs(w.samples[i] - 0.75 * signal[i]) < 1e-4);
  });

  it('refuses what is not a WAV file, or a compressed one, with the reason and the file', () => {
    assert.throws(
      () => decodeWav(new TextEncoder().encode('not audio at all, just text'), 'notes.wav'),
      (e: unknown) => e instanceof DecodeError && /notes\.wav/.test(e.message) && /not a WAV file/.test(e.reason),
    );
    const w = new wavefile.WaveFile(wavBytes([signal], 8000, '16'));
    w.toMuLaw();
    assert.throws(
      () => decodeWav(w.toBuffer(), 'mulaw.wav'),
      (e: unknown) => e instanceof DecodeError && /format 7/.test(e.reason) && /PCM/.test(e.reason),
    );
  });
});

describe('resample', () => {
  it('keeps a tone below the new Nyquist frequency and its length in time', async () => {
    const x = tone(1000, 22050, 22050);
    const y = await resample(x, 22050, 8000);
    assert.ok(Math.abs(y.length - 8000) <= 2, `length ${y.length}`);
    const expected = tone(1000, 8000, y.length);
    // Away from the edges (the filter's transient), the same sine at the new rate.
    const worst = Math.max(...Array.from({ length: y.length - 400 }, (_, i) => Math.abs(y[i + 200] - expected[i + 200])));
    assert.ok(worst < 0.01, `worst error ${worst}`);
  });

  it('removes a tone above the new Nyquist frequency instead of aliasing it', async () => {
    // 6 kHz at 22.05 kHz into 8 kHz (Nyquist 4 kHz): picking samples would fold it to 2 kHz at full amplitude.
    const y = await resample(tone(6000, 22050, 22050), 22050, 8000);
    assert.ok(rms(y, 200, y.length - 200) < 0.01, `rms ${rms(y, 200, y.length - 200)}`);
    const naive = Float32Array.from(
      { length: 8000 },
      (_, i) => 0.5 * Math.sin((2 * Math.PI * 6000 * Math.round((i * 22050) / 8000)) / 22050),
    );
    assert.ok(rms(naive) > 0.3, 'the aliasing this avoids is real');
  });

  it('returns the samples unchanged at the same rate', async () => {
    const x = tone(300, 8000, 100);
    assert.equal(await resample(x, 8000, 8000), x);
  });
});

describe('fitClip', () => {
  it('centres a short recording in silence', () => {
    const f = fitClip(Float32Array.from([1, 2, 3]), 8);
    assert.equal(f.fit, 'padded');
    assert.deepEqual([...f.samples], [0, 0, 1, 2, 3, 0, 0, 0]);
    assert.equal(f.offset, -2);
  });

  it('crops a long recording to its loudest window', () => {
    const x = new Float32Array(20).fill(0.01);
    x.set([0.9, -0.8, 0.7], 12);
    const f = fitClip(x, 4);
    assert.equal(f.fit, 'cropped');
    assert.ok(f.offset >= 9 && f.offset <= 12, `offset ${f.offset}`);
    assert.ok([...f.samples].includes(0.9 as never) || f.samples.some((v) => Math.abs(v - 0.9) < 1e-6));
    assert.ok(
      f.samples.some((v) => Math.abs(v - 0.7) < 1e-6) && f.samples.some((v) => Math.abs(v + 0.8) < 1e-6),
      'the whole burst is kept',
    );
    assert.equal(fitClip(x, 20).fit, 'exact');
  });
});

describe('logMel', () => {
  it('equals a numpy reference (rfft, HTK mel filters) to 0.01 dB', () => {
    const ref = JSON.parse(readFileSync(join(root, 'test/fixtures/logmel.json'), 'utf8')) as {
      spec: LogMelSpec;
      frames: number;
      db: number[][];
    };
    const { spec } = ref;
    const n = spec.clipSamples;
    const last = (n - 1) / spec.sampleRate;
    const x = Float32Array.from({ length: n }, (_, i) => {
      const t = i / spec.sampleRate;
      return (
        0.5 * Math.sin(2 * Math.PI * 440 * t) +
        0.25 * (t / last) * Math.sin(2 * Math.PI * 1500 * t) +
        0.2 * Math.sin(2 * Math.PI * (100 * t + 0.5 * (3400 / last) * t * t))
      );
    });
    const m = logMel(x, spec);
    assert.equal(m.frames, ref.frames);
    let worst = 0;
    ref.db.forEach((row, t) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - m.db[t * spec.mels + j])))));
    assert.ok(worst < 0.01, `worst difference ${worst} dB`);
  });

  it('puts a pure tone in the mel band that holds its frequency', () => {
    const bank = melFilterbank(KWS_LOGMEL);
    for (const hz of [250, 1000, 3000]) {
      const m = logMel(tone(hz, KWS_LOGMEL.sampleRate, KWS_LOGMEL.clipSamples), KWS_LOGMEL);
      assert.equal(m.frames, frameCount(KWS_LOGMEL.clipSamples, KWS_LOGMEL));
      const middle = m.db.subarray(50 * m.mels, 51 * m.mels);
      const loudest = middle.indexOf(Math.max(...middle));
      // The band's triangle peaks at its centre frequency: the tone's band has the centre nearest to it in mels.
      const centres = Array.from({ length: KWS_LOGMEL.mels }, (_, j) => {
        const [lo, hi] = [hzToMel(KWS_LOGMEL.fMin), hzToMel(KWS_LOGMEL.fMax)];
        return melToHz(lo + ((hi - lo) * (j + 1)) / (KWS_LOGMEL.mels + 1));
      });
      const nearest = centres.reduce(
        (b, c, j) => (Math.abs(hzToMel(c) - hzToMel(hz)) < Math.abs(hzToMel(centres[b]) - hzToMel(hz)) ? j : b),
        0,
      );
      assert.ok(Math.abs(loudest - nearest) <= 1, `${hz} Hz loudest in band ${loudest}, nearest centre ${nearest}`);
      assert.ok(bank[loudest][Math.round((hz * KWS_LOGMEL.fftSize) / KWS_LOGMEL.sampleRate)] > 0, 'that band holds the tone');
      // Far bands are more than 40 dB quieter.
      assert.ok(middle[loudest] - middle[(loudest + 20) % m.mels] > 40);
    }
  });

  it('gives silence the floor, -100 dB, and a clip shorter than a window no frame', () => {
    const m = logMel(new Float32Array(KWS_LOGMEL.clipSamples), KWS_LOGMEL);
    assert.ok(m.db.every((v) => v === -100));
    assert.equal(logMel(new Float32Array(100), KWS_LOGMEL).frames, 0);
  });
});

describe('decodeAudio', () => {
  it('resamples, fits and draws a recording at any rate and depth as the same spectrogram image', async () => {
    const seconds = 0.6;
    const at = async (rate: number, depth: string, gain: number) =>
      decodeAudio(wavBytes([tone(1000, rate, Math.round(rate * seconds), 0.5 * gain)], rate, depth), KWS_LOGMEL, `tone-${rate}.wav`);
    const a = await at(8000, '16', 1);
    const b = await at(44100, '32f', 0.1);
    assert.deepEqual(clipImageSize(KWS_LOGMEL), { height: 98, width: 40, channels: 1 });
    assert.equal(a.pixels.length, 98 * 40);
    assert.equal(a.fit, 'padded');
    assert.deepEqual(a.source, { sampleRate: 8000, channels: 1, depth: '16', seconds });
    assert.equal(b.source.sampleRate, 44100);
    // Levels are relative to the clip's loudest band: a tenth of the gain draws the same picture.
    const middle = (p: Uint8Array) => p.subarray(49 * 40, 50 * 40);
    const diff = Math.max(...middle(a.pixels).map((v, i) => Math.abs(v - middle(b.pixels)[i])));
    assert.ok(diff <= 8, `largest difference ${diff} of 255 in the middle frame`);
    assert.equal(Math.max(...a.pixels), 255);
    // The padding either side is silence: below the clip's top by more than TOP_DB.
    assert.ok(a.pixels.subarray(0, 40).every((v) => v === 0));
  });

  it('skips empty, silent, corrupt and compressed-container files with the reason', async () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [wavBytes([new Float32Array(0)], 8000, '16'), 'empty.wav', /empty/],
      [wavBytes([new Float32Array(4000)], 8000, '16'), 'silent.wav', /silent/],
      [new Uint8Array([82, 73, 70, 70, 0, 1]), 'cut.wav', /not a WAV file/],
      [new Uint8Array(10), 'song.mp3', /cannot decode MP3/],
    ];
    for (const [bytes, name, reason] of cases)
      await assert.rejects(
        decodeAudio(bytes, KWS_LOGMEL, name),
        (e: unknown) => e instanceof DecodeError && reason.test(e.reason) && e.message.includes(name),
      );
  });
});

describe('compressed recordings', () => {
  for (const ext of ['flac', 'ogg', 'mp3'])
    it(`decodes ${ext.toUpperCase()} (audio-decode) to the tone it holds`, async () => {
      const file = join(root, 'test/fixtures/audio', `tone.${ext}`);
      const d = await decodeAudio(readFileSync(file), KWS_LOGMEL, file);
      assert.equal(d.source.sampleRate, 16000);
      assert.equal(d.source.channels, 1);
      // 0.5 s, and MP3's encoder delay and padding add a few frames.
      assert.ok(d.source.seconds >= 0.5 && d.source.seconds < 0.6, `${d.source.seconds} s`);
      const frame = d.pixels.subarray(49 * 40, 50 * 40);
      const band = frame.indexOf(Math.max(...frame));
      const f = melFilterbank(KWS_LOGMEL)[band][Math.round((1000 * KWS_LOGMEL.fftSize) / KWS_LOGMEL.sampleRate)];
      assert.ok(f > 0.5, `the loudest band (${band}) holds 1 kHz`);
    });
});

describe('spectrogramPixels', () => {
  it('maps the loudest band to 255 and TOP_DB below it to 0, linearly in dB', () => {
    const px = spectrogramPixels({ frames: 1, mels: 4, db: Float32Array.from([10, 10 - TOP_DB / 2, 10 - TOP_DB, 10 - 2 * TOP_DB]) });
    assert.deepEqual([...px], [255, 128, 0, 0]);
  });
});

describe('audio data sets', () => {
  const medium = { kind: 'audio', spec: KWS_LOGMEL } as const;
  const size = clipImageSize(KWS_LOGMEL);
  const dir = tempDir('graft-audio-');
  // Two "words": a low tone and a high one, by two speakers with different accents (and rates).
  const rows: string[] = ['path,label,speaker,accent'];
  before(() => {
    for (const [word, hz] of [
      ['low', 300],
      ['high', 2000],
    ] as const) {
      mkdirSync(join(dir, 'folders', word), { recursive: true });
      for (const [k, [speaker, accent, rate]] of (
        [
          ['ann', 'US', 16000],
          ['bo', 'GB', 22050],
        ] as const
      ).entries()) {
        const file = join(dir, 'folders', word, `${speaker}.wav`);
        writeFileSync(file, wavBytes([tone(hz * (1 + 0.05 * k), rate, rate / 2)], rate, '16'));
        rows.push(`folders/${word}/${speaker}.wav,${word},${speaker},${accent}`);
      }
    }
    writeFileSync(join(dir, 'folders', 'low', 'readme.txt'), 'not audio');
    writeFileSync(join(dir, 'folders', 'high', 'broken.wav'), 'RIFF');
    writeFileSync(join(dir, 'manifest.csv'), rows.join('\n'));
  });

  it('reads a folder per class into spectrogram images, skipping what is not usable audio with the reason', async () => {
    const skipped: { path: string; reason: string }[] = [];
    const steps: string[] = [];
    const data = await loadData(join(dir, 'folders'), {
      size,
      medium,
      callbacks: [{ onSkip: (s) => void skipped.push(s), onStep: (m) => void steps.push(m) }],
    });
    assert.equal(data.kind, 'set');
    const set = (data as { set: ImageSet }).set;
    assert.deepEqual(set.classes, ['high', 'low']);
    assert.equal(set.labels.length, 4);
    assert.equal(set.pixels.length, 4 * 98 * 40);
    assert.deepEqual(skipped.map((s) => [basename(s.path), s.reason.split(' (')[0]]).sort(), [
      ['broken.wav', 'not a WAV file'],
      ['readme.txt', 'not an audio file'],
    ]);
    assert.ok(
      steps.some((s) => /fitted to the base's 1 s window: 4 padded/.test(s)),
      steps.join('\n'),
    );
    // A high tone's energy sits in higher mel bands than a low one's.
    const loudestBand = (i: number) => {
      const frame = set.pixels.subarray(i * 98 * 40 + 49 * 40, i * 98 * 40 + 50 * 40);
      return frame.indexOf(Math.max(...frame));
    };
    const bands = [0, 1, 2, 3].map((i) => [set.classes[set.labels[i]], loudestBand(i)] as const);
    for (const [label, band] of bands) assert.ok(label === 'high' ? band > 25 : band < 12, `${label}: band ${band}`);
  });

  it('keeps the manifest rows --where selects, and names the columns or values that exist when asked for others', async () => {
    const manifest = join(dir, 'manifest.csv');
    const load = (...where: string[]) => loadManifest(manifest, { size, medium, where: where.map((w) => parseWhere(w)) });
    const us = await load('accent=US');
    assert.deepEqual(
      us.ids.map((p) => basename(p)),
      ['ann.wav', 'ann.wav'],
    );
    assert.equal((await load('speaker=ann,bo', 'accent=GB')).ids.length, 2);
    await assert.rejects(
      load('dialect=US'),
      (e: unknown) =>
        e instanceof GraftError && e.exitCode === 2 && /no column "dialect" \(columns: accent, label, path, speaker\)/.test(e.message),
    );
    await assert.rejects(
      load('accent=AU'),
      (e: unknown) => e instanceof GraftError && /no row has accent="AU" \(values of accent: GB, US\)/.test(e.message),
    );
    assert.throws(
      () => parseWhere('accent'),
      (e: unknown) => e instanceof GraftError && /COLUMN=VALUE/.test(e.message),
    );
  });
});

describe('spectrogramPicture', () => {
  it('draws time to the right and pitch up, loud in yellow, quiet in dark blue, under each label', async () => {
    const size = { height: 10, width: 4, channels: 1 as const };
    const pixels = new Uint8Array(40);
    pixels[9 * 4 + 3] = 255; // the last frame's highest band
    const png = await spectrogramPicture(
      [
        { label: 'a', pixels },
        { label: 'b', pixels: new Uint8Array(40) },
      ],
      size,
      2,
    );
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    // Two 20x8 pictures with 12 px gaps, 28 px for the labels above.
    assert.deepEqual([info.width, info.height], [2 * 20 + 3 * 12, 28 + 8 + 12]);
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    assert.deepEqual(at(12 + 19, 28), [253, 231, 37], 'top right of the first: loud');
    assert.deepEqual(at(12, 28 + 7), [68, 1, 84], 'bottom left: quiet');
    assert.deepEqual(at(12 + 20 + 12 + 19, 28), [68, 1, 84], 'the second picture is silent');
  });
});

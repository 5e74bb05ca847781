// The synthetic speech graft pre-trains speech-cnn on: eSpeak NG (a dev dependency) speaking
// words, cut into one recording per word, augmented and drawn as spectrograms, repeatably.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { augmentRecording } from '../../src/data/audio/augment.js';
import { clipPixels } from '../../src/data/audio/read.js';
import { resample } from '../../src/data/audio/resample.js';
import { clipImageSize } from '../../src/data/audio/spectrogram.js';
import { SPEECH_MEL } from '../../src/data/audio/speech-mel.js';
import { mulberry32 } from '../../src/math/random.js';
import { speak, speakWords } from '../../src/pretrain/speech/espeak.js';
import { speakSet } from '../../src/pretrain/speech-cnn.js';
import { americanVoices, VARIANTS } from '../../src/pretrain/speech/words.js';

const voice = { voice: 'en-us', variant: 'm3', speed: 160, pitch: 50 };

describe('speech synthesis for pre-training', () => {
  it('speaks several words in one call and cuts them into one recording each, like speaking each alone', async () => {
    const words = ['stop', 'go', 'backward'];
    const { recordings, sampleRate } = await speakWords(words, voice);
    assert.equal(sampleRate, 22050);
    assert.equal(recordings.length, 3);
    for (const [i, r] of recordings.entries()) {
      const alone = (await speak(words[i], voice)).samples;
      const [cut, own] = [r.length / sampleRate, alone.length / sampleRate];
      // The cut keeps the word and a little around it; eSpeak's own file pads a word with more silence.
      assert.ok(cut > 0.15 && cut < own + 0.05, `${words[i]}: cut ${cut.toFixed(2)} s, alone ${own.toFixed(2)} s`);
    }
    assert.ok(recordings[2].length > recordings[1].length, '"backward" lasts longer than "go"');
  });

  it('augments repeatably from a seed, and differently from another', async () => {
    const x = Float32Array.from({ length: 4000 }, (_, i) => 0.5 * Math.sin(i / 5));
    const [a, b, c] = await Promise.all([1, 1, 2].map((s) => augmentRecording(x, 8000, mulberry32(s))));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.every((v) => v >= -1 && v <= 1));
  });

  it('builds the same spectrogram set twice from the same seed', async () => {
    const voices = americanVoices('val').slice(0, 1);
    const [s1, s2] = [
      await speakSet(['yes', 'no'], voices, { copies: 1, seed: 3 }),
      await speakSet(['yes', 'no'], voices, { copies: 1, seed: 3 }),
    ];
    assert.deepEqual([...s1.labels], [0, 0, 1, 1]);
    assert.deepEqual(s1.size, { height: 98, width: 40, channels: 1 });
    assert.ok(Buffer.from(s1.pixels).equals(Buffer.from(s2.pixels)));
    const per = 98 * 40;
    assert.ok(
      !Buffer.from(s1.pixels.subarray(0, per)).equals(Buffer.from(s1.pixels.subarray(per, 2 * per))),
      'the augmented copy differs from the clean one',
    );
  });

  it("hears the words through another base's front end when given its spec (espeak-accents --base speech-embedding)", async () => {
    const voices = americanVoices('val').slice(0, 1);
    const set = await speakSet(['yes', 'no'], voices, { copies: 0, seed: 3, spec: SPEECH_MEL });
    assert.deepEqual(set.size, clipImageSize(SPEECH_MEL));
    const { recordings, sampleRate } = await speakWords(['yes', 'no'], voices[0]);
    const per = set.size.height * set.size.width;
    for (const [i, r] of recordings.entries()) {
      const own = await clipPixels(await resample(r, sampleRate, SPEECH_MEL.sampleRate), SPEECH_MEL);
      assert.ok(Buffer.from(set.pixels.subarray(i * per, (i + 1) * per)).equals(Buffer.from(own.pixels)), `word ${i}`);
    }
  });

  it("speaks every voice variant pre-training uses the same in two processes (eSpeak's f2, f3 and f5 do not)", () => {
    // Some variants differ only from process to process, so each process speaks them all once.
    const script = `
      import { createHash } from 'node:crypto';
      import { speak } from './src/pretrain/speech/espeak.ts';
      const out = {};
      for (const variant of ${JSON.stringify(Object.values(VARIANTS).flat())})
        for (const voice of ['en-us', 'en-gb-scotland']) {
          const { samples } = await speak('seven', { voice, variant, speed: 135, pitch: 35 });
          out[voice + '+' + variant] = createHash('sha256').update(samples).digest('hex');
        }
      console.log(JSON.stringify(out));`;
    const run = () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as Record<string, string>;
    };
    const [a, b] = [run(), run()];
    assert.equal(Object.keys(a).length, 2 * Object.values(VARIANTS).flat().length);
    assert.deepEqual(a, b);
  });
});

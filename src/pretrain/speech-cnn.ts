// Pre-training speech-cnn: words spoken by eSpeak NG in American voices, augmented (speed, gain,
// shift, noise), drawn as log-mel spectrograms and learnt by the keyword-spotting CNN. Validation
// and test use voice variants training never heard. Deterministic: eSpeak is, the augmentation
// is seeded, and the training is fitStage under a seed, so `graft pretrain speech --force`
// rewrites models/speech-cnn with the same bytes.
import { buildSpeechCnn, SPEECH_CNN_NORMALIZE, speechCnnBase } from '../bases/audio/speech-cnn.js';
import { tell, type Callback } from '../core/callbacks.js';
import { augmentRecording } from '../data/audio/augment.js';
import { KWS_LOGMEL } from '../data/audio/logmel.js';
import { resample } from '../data/audio/resample.js';
import { clipPixels } from '../data/audio/read.js';
import { clipImageSize } from '../data/audio/spectrogram.js';
import type { AudioSpec, ImageSet } from '../data/types.js';
import { hashString, mulberry32 } from '../math/random.js';
import { withSeed } from '../math/seed.js';
import { fitAndTest } from './classifier.js';
import type { PretrainResult } from './digits-cnn.js';
import { speakWords, voiceName, type Voice } from './speech/espeak.js';
import { americanVoices, WORDS } from './speech/words.js';

export interface SpeechPretrainOptions {
  seed?: number;
  epochs?: number;
  /** Augmented copies of each training utterance beside the clean one. */
  copies?: number;
  /** The first N words only (tests). */
  words?: number;
  callbacks?: readonly Callback[];
}

const SPEAKING = 'speaking words';

/** Every word in every voice of `voices`, as spectrogram images (or what `spec` makes of a clip); `copies` augmented copies each beside the clean one. */
export async function speakSet(
  words: readonly string[],
  voices: readonly Voice[],
  /** `spec`: how the clips are heard (default speech-cnn's log-mel spectrogram; another base's front end for its experiments). */
  o: { copies: number; seed: number; spec?: AudioSpec; callbacks?: readonly Callback[] },
): Promise<ImageSet> {
  const spec = o.spec ?? KWS_LOGMEL;
  const size = clipImageSize(spec);
  const per = size.height * size.width;
  const pixels = new Uint8Array(words.length * voices.length * (1 + o.copies) * per);
  const labels: number[] = [];
  const ids: string[] = [];
  let done = 0;
  for (const voice of voices) {
    const said = await speakWords(words, voice);
    for (const [label, recording] of said.recordings.entries()) {
      const word = words[label];
      const samples = await resample(recording, said.sampleRate, spec.sampleRate);
      // Each utterance's copies come from its own stream, so they do not depend on the order of work.
      const rand = mulberry32(hashString(`${o.seed}:${word}:${voiceName(voice)}:${voice.speed}:${voice.pitch}`));
      for (let k = 0; k <= o.copies; k++) {
        const heard = k === 0 ? samples : await augmentRecording(samples, spec.sampleRate, rand);
        pixels.set((await clipPixels(heard, spec)).pixels, labels.length * per);
        labels.push(label);
        ids.push(`espeak:${word}:${voiceName(voice)}:s${voice.speed}:p${voice.pitch}#${k}`);
      }
    }
    tell(o.callbacks, 'onProgress', SPEAKING, ++done, voices.length);
  }
  return { classes: [...words], size, pixels, labels: Int32Array.from(labels), ids };
}

/** Adam on the synthetic training voices, early stopping on the validation voices, accuracy on the test voices. */
export async function pretrainSpeechCnn(o: SpeechPretrainOptions = {}): Promise<PretrainResult & { words: number; clips: number }> {
  const seed = o.seed ?? 0;
  const words = WORDS.slice(0, o.words ?? WORDS.length);
  const copies = o.copies ?? 3;
  const train = await speakSet(words, americanVoices('train'), { copies, seed, callbacks: o.callbacks });
  const val = await speakSet(words, americanVoices('val'), { copies: 0, seed, callbacks: o.callbacks });
  const test = await speakSet(words, americanVoices('test'), { copies: 0, seed, callbacks: o.callbacks });
  return withSeed(seed, async () => {
    const model = buildSpeechCnn(words.length);
    const r = await fitAndTest(model, { train, val, test }, SPEECH_CNN_NORMALIZE, {
      epochs: o.epochs ?? 30,
      learningRate: 1e-3,
      batchSize: 64,
      patience: 4,
      callbacks: o.callbacks,
    });
    return { ...r, base: speechCnnBase(model), words: words.length, clips: train.labels.length };
  });
}

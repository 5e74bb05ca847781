// The speech embedding's front end as graft.json states it: openWakeWord's melspectrogram.onnx
// (16 kHz samples on the int16 scale → 32-band log-mel frames every 10 ms), scaled as openWakeWord
// feeds Google's speech_embedding (its src/WakeWordEngine.js: the output as x/10 + 2) and kept as
// an 8-bit image like graft's own spectrograms, so recordings for this base go through the same
// splits, cache and trunks. Plain data and arithmetic: the model runs in speech-mel-run.ts.

/** The mel model's frames as graft.json states them, so a client can compute the same. */
export interface SpeechMelSpec {
  frontEnd: 'speech-embedding-mel';
  sampleRate: number;
  /** Samples per clip: recordings are fitted to it as to graft's own spectrograms. */
  clipSamples: number;
  mels: number;
  /**
   * The embedding's input (the mel model's output x/10 + 2) is stored as 255 levels over this
   * range: -8 is the model's floor (digital silence), full-scale noise reaches about 13.6.
   */
  range: [number, number];
}

/** 1.6 s: FSDD's longest digits fit, and 11 embedding windows (76 frames every 8) cover it. */
export const SPEECH_MEL: SpeechMelSpec = {
  frontEnd: 'speech-embedding-mel',
  sampleRate: 16000,
  clipSamples: 25600,
  mels: 32,
  range: [-8, 14],
};

/** Samples in [-1, 1] are fed to the mel model as int16 values, as openWakeWord reads a microphone. */
export const SPEECH_MEL_INPUT_SCALE = 32767;

/** Frames the mel model gives for `samples` samples: 40 ms windows (the model's STFT) every 10 ms. */
export const speechMelFrames = (samples: number): number => Math.max(0, Math.floor((samples - 640) / 160) + 1);

/** The pixel → embedding-input map: (pixel/255 - mean)/std gives back the level quantised. */
export function speechMelNormalize(spec: SpeechMelSpec): { mean: number[]; std: number[] } {
  const [lo, hi] = spec.range;
  return { mean: [-lo / (hi - lo)], std: [1 / (hi - lo)] };
}

// Words spoken by eSpeak NG compiled to WebAssembly (the `espeak-ng` npm package). It is GPL-3.0,
// so graft keeps it a dev dependency: only pre-training and the synthetic experiments, run from a
// checkout, load it, and a missing package is a clear error rather than an import failure.
import { GraftError } from '../../core/errors.js';
import { decodeWav } from '../../data/audio/wav.js';

/** One utterance's voice: an eSpeak voice (en-us, en-gb, …) with a variant (+m3, +f2, …), speed in words per minute, pitch 0-99. */
export interface Voice {
  voice: string;
  variant?: string;
  speed: number;
  pitch: number;
}

type ESpeakModule = { FS: { readFile(path: string): Uint8Array } };
type ESpeakFactory = (o: { arguments: string[]; print?: (s: string) => void; printErr?: (s: string) => void }) => Promise<ESpeakModule>;

let factory: Promise<ESpeakFactory> | undefined;

async function load(): Promise<ESpeakFactory> {
  try {
    // A variable, so TypeScript does not need the dev dependency's (absent) types.
    const name = 'espeak-ng';
    return ((await import(name)) as { default: ESpeakFactory }).default;
  } catch {
    throw new GraftError(
      'synthesising speech needs the espeak-ng package, a dev dependency (GPL-3.0): run from a checkout after npm ci',
      1,
    );
  }
}

export const voiceName = (v: Voice): string => `${v.voice}${v.variant ? `+${v.variant}` : ''}`;

/**
 * `text` spoken in `v`: mono samples at eSpeak's rate (22,050 Hz). Each call runs a fresh instance
 * of the wasm program (its build exports only main), about 0.2 s here. `gap`: pause between words
 * in units of 10 ms.
 */
export async function speak(text: string, v: Voice, o: { gap?: number } = {}): Promise<{ samples: Float32Array; sampleRate: number }> {
  factory ??= load();
  const espeak = await (
    await factory
  )({
    arguments: ['-w', 'out.wav', '-v', voiceName(v), '-s', String(v.speed), '-p', String(v.pitch), '-g', String(o.gap ?? 0), text],
    print: () => {},
    printErr: () => {},
  });
  const wav = decodeWav(espeak.FS.readFile('out.wav'), `espeak ${voiceName(v)} "${text}"`);
  return { samples: wav.samples, sampleRate: wav.sampleRate };
}

/** Pause between words when several are spoken in one call, in eSpeak's units of 10 ms. */
const WORD_GAP = 60;
/** Below this a sample is silence; a silence this long (s) separates two words, and this much (s) is kept around each. */
const QUIET = 1e-3;
const SEPARATION = 0.25;
const MARGIN = 0.03;

/** Spans of sound separated by at least SEPARATION of quiet. */
function soundSpans(x: Float32Array, rate: number): [number, number][] {
  const spans: [number, number][] = [];
  const gap = Math.round(SEPARATION * rate);
  let start = -1;
  let last = -1;
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]) < QUIET) continue;
    if (start >= 0 && i - last > gap) {
      spans.push([start, last + 1]);
      start = i;
    } else if (start < 0) start = i;
    last = i;
  }
  if (start >= 0) spans.push([start, last + 1]);
  return spans;
}

/**
 * Each of `words` spoken in `v`, one recording per word. They are spoken in one call with long
 * pauses and cut at the pauses (a fifth of the time of a call per word); when the cut does not
 * find one span per word, each word is spoken on its own.
 */
export async function speakWords(words: readonly string[], v: Voice): Promise<{ recordings: Float32Array[]; sampleRate: number }> {
  const all = await speak(words.join(' '), v, { gap: WORD_GAP });
  const spans = soundSpans(all.samples, all.sampleRate);
  const margin = Math.round(MARGIN * all.sampleRate);
  if (spans.length === words.length)
    return {
      recordings: spans.map(([a, b]) => all.samples.slice(Math.max(0, a - margin), Math.min(all.samples.length, b + margin))),
      sampleRate: all.sampleRate,
    };
  const recordings: Float32Array[] = [];
  for (const w of words) recordings.push((await speak(w, v)).samples);
  return { recordings, sampleRate: all.sampleRate };
}

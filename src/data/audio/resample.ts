// Sample-rate conversion with libsamplerate (Secret Rabbit Code) compiled to WebAssembly: its
// band-limited sinc converters are the reference resamplers audio tools use, and a hand-written
// interpolator would alias.
import { createRequire } from 'node:module';
import type LibSampleRate from '@alexanderolsen/libsamplerate-js';

const require = createRequire(import.meta.url);

type Converter = Awaited<ReturnType<(typeof LibSampleRate)['create']>>;
const converters = new Map<string, Promise<Converter>>();
/**
 * Each converter is its own wasm instance. Data sets use a few rate pairs, kept; speed
 * perturbation asks for a new pair nearly every clip, so past this many its converters are
 * made, used once and destroyed rather than kept for the life of the process.
 */
const KEPT_CONVERTERS = 16;

/** A converter; the library (a 2 MB CommonJS bundle) is required with the first, not with graft. */
async function make(from: number, to: number): Promise<Converter> {
  const { ConverterType, create } = require('@alexanderolsen/libsamplerate-js') as typeof LibSampleRate;
  return create(1, from, to, { converterType: ConverterType.SRC_SINC_MEDIUM_QUALITY });
}

/** `samples` (mono) from rate `from` to rate `to`; the same array when they are equal. */
export async function resample(samples: Float32Array, from: number, to: number): Promise<Float32Array> {
  if (from === to) return samples;
  const key = `${from}:${to}`;
  let c = converters.get(key);
  if (!c && converters.size >= KEPT_CONVERTERS) {
    const once = await make(from, to);
    try {
      return once.simple(samples);
    } finally {
      once.destroy();
    }
  }
  if (!c) converters.set(key, (c = make(from, to)));
  // simple() converts a whole buffer with a fresh state each call (libsamplerate's src_simple), so one converter serves every clip.
  return (await c).simple(samples);
}

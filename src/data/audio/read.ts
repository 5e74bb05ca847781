// An audio file as a base hears it: decoded (WAV, MP3, FLAC, Ogg, …), mixed to mono, resampled to the base's rate, checked
// for emptiness and silence, fitted to the clip and drawn as a spectrogram image.
import { extname } from 'node:path';
import { DecodeError } from '../images.js';
import type { ClipFit } from './clip.js';
import type { LogMelSpec } from './logmel.js';
import { resample } from './resample.js';
import { clipSpectrogram } from './spectrogram.js';
import { checkAudioFormat, decodeWav, type Waveform } from './wav.js';

/** WAV through wavefile (every PCM and float depth); the compressed containers through audio-decode's wasm codecs. */
const COMPRESSED = ['.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.aiff', '.aif', '.webm'];
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav', ...COMPRESSED];
export const isAudioPath = (path: string): boolean => AUDIO_EXTENSIONS.includes(extname(path).toLowerCase());

/** A compressed recording decoded by audio-decode (loaded on first use: its codecs are wasm), mixed to mono. */
async function decodeCompressed(bytes: Uint8Array, where: string): Promise<Waveform> {
  const { default: decode } = await import('audio-decode');
  let audio: { channelData: Float32Array[]; sampleRate: number };
  try {
    audio = (await decode(bytes)) as unknown as typeof audio;
  } catch (e) {
    throw new DecodeError(`cannot decode ${extname(where).slice(1).toUpperCase() || 'audio'} (${(e as Error).message})`, where);
  }
  const channels = audio.channelData.length;
  const n = channels ? audio.channelData[0].length : 0;
  // The decoder has read the samples already; what they are said to be still has to make sense (an empty one is reported as empty).
  if (n > 0) checkAudioFormat(audio.sampleRate, channels, where);
  const samples = new Float32Array(n);
  for (const c of audio.channelData) for (let i = 0; i < n; i++) samples[i] += c[i] / channels;
  return { sampleRate: audio.sampleRate, channels, depth: extname(where).slice(1).toLowerCase(), samples };
}

/** A recording whose loudest sample is below this is silent (-80 dBFS: under 16-bit PCM's lowest 3 steps). */
export const SILENCE = 1e-4;

export interface DecodedClip {
  pixels: Uint8Array;
  fit: ClipFit;
  /** The recording as read: its rate, channels, depth and length. */
  source: { sampleRate: number; channels: number; depth: string; seconds: number };
}

/**
 * `bytes` of the audio file `where` as spec's spectrogram image; a DecodeError naming `where` (the
 * file skipped, or predict's one line) when unusable.
 */
export async function decodeAudio(bytes: Uint8Array, spec: LogMelSpec, where: string): Promise<DecodedClip> {
  const wav = COMPRESSED.includes(extname(where).toLowerCase()) ? await decodeCompressed(bytes, where) : decodeWav(bytes, where);
  if (wav.samples.length === 0) throw new DecodeError('the recording is empty (no samples)', where);
  let peak = 0;
  for (const v of wav.samples) peak = Math.max(peak, Math.abs(v));
  if (peak < SILENCE)
    throw new DecodeError(`the recording is silent (peak ${(20 * Math.log10(Math.max(peak, 1e-12))).toFixed(0)} dBFS)`, where);
  let samples: Float32Array;
  try {
    samples = await resample(wav.samples, wav.sampleRate, spec.sampleRate);
  } catch (e) {
    // The rates are checked, so this is not expected; if it happens, the file is still named.
    throw new DecodeError(`cannot resample ${wav.sampleRate} Hz to ${spec.sampleRate} Hz (${(e as Error).message.split('\n')[0]})`, where);
  }
  const { pixels, fit } = clipSpectrogram(samples, spec);
  return {
    pixels,
    fit,
    source: { sampleRate: wav.sampleRate, channels: wav.channels, depth: wav.depth, seconds: wav.samples.length / wav.sampleRate },
  };
}

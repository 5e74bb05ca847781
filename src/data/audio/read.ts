// An audio file as a base hears it: decoded, mixed to mono, resampled to the base's rate, checked
// for emptiness and silence, fitted to the clip and drawn as a spectrogram image.
import { extname } from 'node:path';
import { DecodeError } from '../images.js';
import type { ClipFit } from './clip.js';
import type { LogMelSpec } from './logmel.js';
import { resample } from './resample.js';
import { clipSpectrogram } from './spectrogram.js';
import { decodeWav } from './wav.js';

export const AUDIO_EXTENSIONS: readonly string[] = ['.wav'];
/** Containers recognised as audio but not decoded (no decoder among graft's dependencies installs offline here). */
const UNSUPPORTED = ['.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.webm'];
export const isAudioPath = (path: string): boolean => AUDIO_EXTENSIONS.includes(extname(path).toLowerCase());

/** A recording whose loudest sample is below this is silent (-80 dBFS: under 16-bit PCM's lowest 3 steps). */
export const SILENCE = 1e-4;

export interface DecodedClip {
  pixels: Uint8Array;
  fit: ClipFit;
  /** The recording as read: its rate, channels, depth and length. */
  source: { sampleRate: number; channels: number; depth: string; seconds: number };
}

/** `bytes` of the audio file `where` as spec's spectrogram image; a DecodeError (the file skipped) when unusable. */
export async function decodeAudio(bytes: Uint8Array, spec: LogMelSpec, where: string): Promise<DecodedClip> {
  const ext = extname(where).toLowerCase();
  if (UNSUPPORTED.includes(ext))
    throw new DecodeError(
      `${ext.slice(1).toUpperCase()} is not read yet: convert it to WAV (PCM or float; ${AUDIO_EXTENSIONS.join(', ')})`,
      where,
    );
  const wav = decodeWav(bytes, where);
  if (wav.samples.length === 0) throw new DecodeError('the recording is empty (no samples)', where);
  let peak = 0;
  for (const v of wav.samples) peak = Math.max(peak, Math.abs(v));
  if (peak < SILENCE)
    throw new DecodeError(`the recording is silent (peak ${(20 * Math.log10(Math.max(peak, 1e-12))).toFixed(0)} dBFS)`, where);
  const samples = await resample(wav.samples, wav.sampleRate, spec.sampleRate);
  const { pixels, fit } = clipSpectrogram(samples, spec);
  return {
    pixels,
    fit,
    source: { sampleRate: wav.sampleRate, channels: wav.channels, depth: wav.depth, seconds: wav.samples.length / wav.sampleRate },
  };
}

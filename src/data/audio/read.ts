// An audio file as a base hears it: decoded (WAV, MP3, FLAC, Ogg, …), mixed to mono, resampled to the base's rate, checked
// for emptiness and silence, fitted to the clip and drawn as a spectrogram image (graft's own, or a base's front-end model's).
import { extname } from 'node:path';
import { DecodeError } from '../images.js';
import type { AudioSpec } from '../types.js';
import { fitClip, type ClipFit } from './clip.js';
import { resample } from './resample.js';
import { speechMelPixels } from './speech-mel-run.js';
import { clipSpectrogram, isModelFrontEnd, isWaveform } from './spectrogram.js';
import { checkAudioFormat, decodeWav, type Waveform } from './wav.js';
import { clipWaveform } from './waveform.js';

/** WAV through wavefile (every PCM and float depth); the compressed containers through audio-decode's wasm codecs. */
const COMPRESSED = ['.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.aiff', '.aif', '.webm'];
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav', ...COMPRESSED];
export const isAudioPath = (path: string): boolean => AUDIO_EXTENSIONS.includes(extname(path).toLowerCase());

/**
 * A recording's container from its first bytes, as the extension a file of it would have: RIFF
 * WAVE, FLAC, Ogg (Vorbis, Opus), MP3 (an ID3 tag or an MPEG audio frame), ADTS AAC, MP4 audio,
 * AIFF, WebM; undefined when the bytes say none of these.
 */
export function sniffAudio(b: Uint8Array): string | undefined {
  const ascii = (at: number, s: string) => b.length >= at + s.length && [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  if ((ascii(0, 'RIFF') || ascii(0, 'RIFX') || ascii(0, 'RF64')) && ascii(8, 'WAVE')) return '.wav';
  if (ascii(0, 'fLaC')) return '.flac';
  if (ascii(0, 'OggS')) return '.ogg';
  if (ascii(0, 'ID3')) return '.mp3';
  if (ascii(0, 'FORM') && (ascii(8, 'AIFF') || ascii(8, 'AIFC'))) return '.aiff';
  if (ascii(4, 'ftyp')) return '.m4a';
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return '.webm';
  if (b.length >= 2 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0) {
    // An MPEG audio frame's sync (11 bits set); layer bits 00 are ADTS, AAC's frames.
    const layer = (b[1] >> 1) & 3;
    if (layer === 0) return (b[1] & 0xf6) === 0xf0 ? '.aac' : undefined;
    return '.mp3';
  }
  return undefined;
}

/** The media type a recording file is served as, by its extension. */
export const AUDIO_CONTENT_TYPES: Record<string, string> = {
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/opus',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.aiff': 'audio/aiff',
  '.aif': 'audio/aiff',
  '.webm': 'audio/webm',
};

/** Media types of recordings, as the extension a file of each would have. */
const AUDIO_TYPES: Record<string, string> = {
  'audio/wav': '.wav',
  'audio/wave': '.wav',
  'audio/x-wav': '.wav',
  'audio/vnd.wave': '.wav',
  'audio/mpeg': '.mp3',
  'audio/mp3': '.mp3',
  'audio/flac': '.flac',
  'audio/x-flac': '.flac',
  'audio/ogg': '.ogg',
  'audio/opus': '.opus',
  'audio/aac': '.aac',
  'audio/mp4': '.m4a',
  'audio/x-m4a': '.m4a',
  'audio/aiff': '.aiff',
  'audio/x-aiff': '.aiff',
  'audio/webm': '.webm',
};

/**
 * How recording bytes held in memory are decoded, as the extension a file of them would have: what
 * the bytes themselves say (sniffAudio), else `type` (a media type such as `audio/mpeg`, or an
 * extension such as `.mp3`), else the extension of `name`; undefined reads them as WAV.
 */
export function audioFormat(bytes: Uint8Array, type?: string, name?: string): string | undefined {
  const given = type?.split(';')[0].trim().toLowerCase();
  const fromType = given ? (AUDIO_TYPES[given] ?? (given.startsWith('.') ? given : `.${given}`)) : undefined;
  const fromName = name ? extname(name).toLowerCase() : undefined;
  return [sniffAudio(bytes), fromType, fromName].find((f) => f !== undefined && AUDIO_EXTENSIONS.includes(f));
}

/** A compressed recording decoded by audio-decode (loaded on first use: its codecs are wasm), mixed to mono. */
async function decodeCompressed(bytes: Uint8Array, where: string, ext: string): Promise<Waveform> {
  const { default: decode } = await import('audio-decode');
  let audio: { channelData: Float32Array[]; sampleRate: number };
  try {
    audio = (await decode(bytes)) as unknown as typeof audio;
  } catch (e) {
    throw new DecodeError(`cannot decode ${ext.slice(1).toUpperCase() || 'audio'} (${(e as Error).message})`, where);
  }
  const channels = audio.channelData.length;
  const n = channels ? audio.channelData[0].length : 0;
  // The decoder has read the samples already; what they are said to be still has to make sense (an empty one is reported as empty).
  if (n > 0) checkAudioFormat(audio.sampleRate, channels, where);
  const samples = new Float32Array(n);
  for (const c of audio.channelData) for (let i = 0; i < n; i++) samples[i] += c[i] / channels;
  return { sampleRate: audio.sampleRate, channels, depth: ext.slice(1), samples };
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
 * file skipped, or predict's one line) when unusable. The container is `format` (an extension, as
 * audioFormat gives for bytes held in memory), else `where`'s extension (a file), else WAV.
 */
export async function decodeAudio(bytes: Uint8Array, spec: AudioSpec, where: string, format?: string): Promise<DecodedClip> {
  const ext = (format ?? extname(where)).toLowerCase();
  const wav = COMPRESSED.includes(ext) ? await decodeCompressed(bytes, where, ext) : decodeWav(bytes, where);
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
  const { pixels, fit } = await clipPixels(samples, spec);
  return {
    pixels,
    fit,
    source: { sampleRate: wav.sampleRate, channels: wav.channels, depth: wav.depth, seconds: wav.samples.length / wav.sampleRate },
  };
}

/** clipSpectrogram for any spec: graft's own spectrogram, a front-end model's frames, or the samples as mu-law codes. */
export async function clipPixels(samples: Float32Array, spec: AudioSpec): Promise<{ pixels: Uint8Array; fit: ClipFit }> {
  if (isWaveform(spec)) return clipWaveform(samples, spec);
  if (!isModelFrontEnd(spec)) return clipSpectrogram(samples, spec);
  const clip = fitClip(samples, spec.clipSamples);
  return { pixels: await speechMelPixels(clip.samples, spec), fit: clip.fit };
}

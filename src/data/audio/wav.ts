// WAV files through wavefile, which reads RIFF/RIFX chunks, WAVE_FORMAT_EXTENSIBLE and every PCM
// and float depth, so graft only chooses what it accepts and mixes the channels down.
import wavefile from 'wavefile';
import { DecodeError } from '../images.js';

/** A decoded recording: mono samples in [-1, 1] at the file's own rate. */
export interface Waveform {
  sampleRate: number;
  /** Channels in the file (mixed down into `samples`). */
  channels: number;
  /** wavefile's code for a WAV file's samples (bits per sample, `32f` and `64` for float), or the compressed format's extension. */
  depth: string;
  samples: Float32Array;
}

/** The sample formats accepted: integer PCM and IEEE float (compressed WAV codecs are not). */
export const WAV_DEPTHS: readonly string[] = ['8', '16', '24', '32', '32f', '64'];
const PCM = 1;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;

interface Fmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
}

/** The mono waveform of a WAV file's bytes; a DecodeError naming `where` for anything else. */
export function decodeWav(bytes: Uint8Array, where: string): Waveform {
  let wav: InstanceType<typeof wavefile.WaveFile>;
  try {
    wav = new wavefile.WaveFile(bytes);
  } catch (e) {
    throw new DecodeError(`not a WAV file (${(e as Error).message})`, where);
  }
  // Copied: toBitDepth rebuilds the file and clears the old fmt object.
  const fmt = { ...(wav.fmt as Fmt) };
  const depth = (wav as unknown as { bitDepth: string }).bitDepth;
  if (![PCM, FLOAT, EXTENSIBLE].includes(fmt.audioFormat) || !WAV_DEPTHS.includes(depth))
    throw new DecodeError(`WAV format ${fmt.audioFormat} at ${depth} bits is not supported (PCM 8/16/24/32-bit or 32/64-bit float)`, where);
  if (!(fmt.sampleRate > 0 && fmt.numChannels > 0)) throw new DecodeError('its header has no sample rate or no channels', where);
  if (depth !== '32f' && depth !== '64') wav.toBitDepth('32f');
  const interleaved = wav.getSamples(true, Float32Array) as unknown as Float32Array;
  const channels = fmt.numChannels;
  const n = Math.floor(interleaved.length / channels);
  const samples = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[i * channels + c];
    samples[i] = sum / channels;
  }
  return { sampleRate: fmt.sampleRate, channels, depth, samples };
}

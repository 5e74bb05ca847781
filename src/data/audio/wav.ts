// WAV files through wavefile, which reads RIFF/RIFX chunks, WAVE_FORMAT_EXTENSIBLE and every PCM
// and float depth, so graft only chooses what it accepts and mixes the channels down. A header is
// checked before any sample is read: a file that lies about its rate, channels or length (sample
// rate 1 Hz, 65535 channels) is refused with the reason, never read on into a crash or a huge
// allocation further down (resampling from 1 Hz to 8 kHz multiplies the samples 8000 times).
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

/**
 * The sample rates accepted, in Hz: from 1 kHz (telephone speech is 8 kHz; nothing real records
 * below 1 kHz) to 384 kHz (the highest rate audio interfaces record at).
 */
export const SAMPLE_RATES = { min: 1000, max: 384_000 } as const;
/** The most channels accepted: 7th-order ambisonics is 64, film formats fewer; 256 leaves room. */
export const MAX_CHANNELS = 256;
/**
 * Data sizes a writer that cannot seek back (a pipe) leaves in the header for "until the end of
 * the file": 0xFFFFFFFF (ffmpeg) and 0x7FFFF000 and above (sox, eSpeak). Any other size must be
 * there in full.
 */
const UNKNOWN_LENGTH = 0x7ffff000;

interface Fmt {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
}

/** A recording's rate and channels as a header states them, refused (a DecodeError naming `where`) when no real recording has them. */
export function checkAudioFormat(sampleRate: number, channels: number, where: string): void {
  if (!Number.isFinite(sampleRate) || sampleRate < SAMPLE_RATES.min || sampleRate > SAMPLE_RATES.max)
    throw new DecodeError(
      `its header says a sample rate of ${sampleRate} Hz (${SAMPLE_RATES.min}..${SAMPLE_RATES.max} Hz are accepted)`,
      where,
    );
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS)
    throw new DecodeError(`its header says ${channels} channels (1..${MAX_CHANNELS} are accepted)`, where);
}

/**
 * 16-bit PCM samples (little-endian) as floats, read straight from the data chunk: wavefile's
 * toBitDepth('32f') rebuilds the file sample by sample through its generic bit packing, 5 of the
 * 7.5 ms an FSDD clip took to load. The same values as wavefile gives: v/32767 above zero, v/32768
 * below, as float32 (test/audio.test.ts compares all 65,536).
 */
function pcm16(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength >> 1);
  for (let i = 0; i < out.length; i++) {
    const v = view.getInt16(2 * i, true);
    out[i] = v > 0 ? v / 32767 : v / 32768;
  }
  return out;
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
  checkAudioFormat(fmt.sampleRate, fmt.numChannels, where);
  const data = wav.data as { chunkSize: number; samples: Uint8Array };
  // wavefile reads the samples up to the end of the file whatever the header says; a shorter file
  // than its header states is cut off (a partial download, a recorder that died).
  if (data.chunkSize > data.samples.length && data.chunkSize < UNKNOWN_LENGTH)
    throw new DecodeError(`its header says ${data.chunkSize} bytes of samples but the file holds ${data.samples.length} (cut off?)`, where);
  let interleaved: Float32Array;
  try {
    if (depth === '16') interleaved = pcm16(data.samples);
    else {
      if (depth !== '32f' && depth !== '64') wav.toBitDepth('32f');
      interleaved = wav.getSamples(true, Float32Array) as unknown as Float32Array;
    }
  } catch (e) {
    // wavefile's own checks, for what the header says and the lines above do not look at.
    throw new DecodeError(`its samples cannot be read (${(e as Error).message.split('\n')[0]})`, where);
  }
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

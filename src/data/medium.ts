// What a data set's files hold and how one becomes the pixels a base sees: photographs, or
// recordings drawn as spectrogram images (data/audio/). Folder and manifest loaders take it from
// LoadOptions.medium; everything after them (splits, the feature cache, training, evaluation)
// sees an ImageSet either way.
import type { ClipFit } from './audio/clip.js';
import { audioFormat, decodeAudio, isAudioPath, sniffAudio } from './audio/read.js';
import { DecodeError, decodeImageBuffer, isImagePath, readInputFile } from './images.js';
import type { ImageSize, Medium, ResizeMode } from './types.js';

export const IMAGE_MEDIUM: Medium = { kind: 'image' };

/** Whether `path` names a file of the medium (by its extension). */
export const isMediumPath = (m: Medium, path: string): boolean => (m.kind === 'image' ? isImagePath(path) : isAudioPath(path));

/** "image" or "audio", for messages: "not an audio file", "no image files". */
export const mediumNoun = (m: Medium): string => m.kind;

/** A file's bytes as pixels of `size`, and for audio how the clip was fitted to the base's window. */
export async function decodeExample(
  m: Medium,
  bytes: Uint8Array,
  o: { size: ImageSize; resize?: ResizeMode },
  where: string,
  /** Audio: the container, as an extension (default: `where`'s). */
  format?: string,
): Promise<{ pixels: Uint8Array; fit?: ClipFit }> {
  if (m.kind === 'image') return { pixels: await decodeImageBuffer(bytes, o.size, o.resize ?? 'cover', where) };
  const clip = await decodeAudio(bytes, m.spec, where, format);
  if (clip.pixels.length !== o.size.height * o.size.width * o.size.channels)
    throw new Error(
      `audio spectrograms are ${clip.pixels.length} pixels but the set's size is ${JSON.stringify(o.size)}: use clipImageSize(spec)`,
    );
  return clip;
}

/** decodeExample on a file, for predicting: a missing file or a folder is a usage error naming it. */
export async function decodeExampleFile(m: Medium, path: string, o: { size: ImageSize; resize?: ResizeMode }): Promise<Uint8Array> {
  return (await decodeExample(m, await readInputFile(path, mediumNoun(m)), o, path)).pixels;
}

/** Whether bytes look like an image or a recording, by their first bytes (undefined: neither that graft knows). */
export function sniffMedium(b: Uint8Array): Medium['kind'] | undefined {
  const ascii = (at: number, t: string) => b.length >= at + t.length && [...t].every((c, i) => b[at + i] === c.charCodeAt(0));
  const image =
    (b[0] === 0xff && b[1] === 0xd8) ||
    ascii(1, 'PNG') ||
    ascii(0, 'GIF8') ||
    (ascii(0, 'RIFF') && ascii(8, 'WEBP')) ||
    ascii(0, 'BM') ||
    ascii(0, 'II*') ||
    ascii(0, 'MM\0*');
  if (image) return 'image';
  return sniffAudio(b) ? 'audio' : undefined;
}

/**
 * decodeExample on bytes given to predict rather than read from a file, named `where` in messages:
 * a recording's container is sniffed from the bytes (else `type`, a media type or an extension,
 * else `where`'s extension), and bytes of the other medium (a recording to an image model) are a
 * DecodeError saying so.
 */
export async function decodeExampleBytes(
  m: Medium,
  bytes: Uint8Array,
  o: { size: ImageSize; resize?: ResizeMode },
  where: string,
  type?: string,
): Promise<Uint8Array> {
  const sniffed = sniffMedium(bytes);
  if (sniffed && sniffed !== m.kind)
    throw new DecodeError(sniffed === 'audio' ? 'a recording, not an image' : 'an image, not a recording', where);
  const format = m.kind === 'audio' ? audioFormat(bytes, type, where) : undefined;
  return (await decodeExample(m, bytes, o, where, format)).pixels;
}

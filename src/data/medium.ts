// What a data set's files hold and how one becomes the pixels a base sees: photographs, or
// recordings drawn as spectrogram images (data/audio/). Folder and manifest loaders take it from
// LoadOptions.medium; everything after them (splits, the feature cache, training, evaluation)
// sees an ImageSet either way.
import type { ClipFit } from './audio/clip.js';
import { decodeAudio, isAudioPath } from './audio/read.js';
import { decodeImageBuffer, isImagePath, readInputFile } from './images.js';
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
): Promise<{ pixels: Uint8Array; fit?: ClipFit }> {
  if (m.kind === 'image') return { pixels: await decodeImageBuffer(bytes, o.size, o.resize ?? 'cover', where) };
  const clip = await decodeAudio(bytes, m.spec, where);
  if (clip.pixels.length !== o.size.height * o.size.width * o.size.channels)
    throw new Error(
      `audio spectrograms are ${clip.pixels.length} pixels but the set's size is ${JSON.stringify(o.size)}: use spectrogramSize(spec)`,
    );
  return clip;
}

/** decodeExample on a file, for predicting: a missing file or a folder is a usage error naming it. */
export async function decodeExampleFile(m: Medium, path: string, o: { size: ImageSize; resize?: ResizeMode }): Promise<Uint8Array> {
  return (await decodeExample(m, await readInputFile(path, mediumNoun(m)), o, path)).pixels;
}

// A whole in-memory set brought to another size (a base's input), image by image with sharp.
import { DECODE_CONCURRENCY, forEachLimit } from './build.js';
import { resizePixels } from './images.js';
import type { ImageSet, ImageSize, ResizeMode } from './types.js';

export async function resizeSet(set: ImageSet, to: ImageSize, resize: ResizeMode = 'cover'): Promise<ImageSet> {
  const { height, width, channels } = set.size;
  if (height === to.height && width === to.width && channels === to.channels) return set;
  const per = height * width * channels;
  const outPer = to.height * to.width * to.channels;
  const out = new Uint8Array(set.labels.length * outPer);
  // sharp works on libvips' threads: a few images in flight keep them busy.
  await forEachLimit(Array.from(set.labels.keys()), DECODE_CONCURRENCY, async (i) => {
    out.set(await resizePixels(set.pixels.subarray(i * per, (i + 1) * per), set.size, to, resize), i * outPer);
  });
  return { ...set, size: to, pixels: out };
}

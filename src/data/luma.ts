// RGB to greyscale as graft does it everywhere (sharp's decoding in images.ts, and the browser's in
// src/browser): no Node, so a page can share it.

// PIL's convert('L') weights (ITU-R 601-2 on gamma-encoded values), which Keras' color_mode='grayscale'
// also uses; libvips' b-w works in linear light and gives noticeably brighter reds and blues.
export function toLuma(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) {
    out[i] = (rgb[j] * 19595 + rgb[j + 1] * 38470 + rgb[j + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}

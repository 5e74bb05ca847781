// libvips (and so sharp) has no BMP loader in its prebuilt binaries, but BMP is one of the
// extensions Keras and torchvision accept. This reads the uncompressed variants (1/4/8-bit
// palette, 16/24/32-bit, BI_BITFIELDS) into RGB; RLE-compressed BMPs are rejected.

export interface RawRgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export const isBmp = (buf: Uint8Array): boolean => buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d;

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

function channelOf(mask: number): (px: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (px) => Math.round((((px & mask) >>> shift) * 255) / max);
}

export function decodeBmp(buf: Uint8Array): RawRgb {
  if (!isBmp(buf) || buf.length < 26) throw new Error('not a BMP file');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dataOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && (headerSize < 40 || buf.length < 14 + 40)) throw new Error('unsupported BMP header');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const rawHeight = core ? view.getInt16(20, true) : view.getInt32(22, true);
  const bpp = view.getUint16(core ? 24 : 28, true);
  const compression = core ? BI_RGB : view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const bottomUp = rawHeight > 0;
  if (width <= 0 || height === 0) throw new Error('BMP has no pixels');
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new Error(`unsupported BMP compression (${compression})`);
  }

  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const entry = core ? 3 : 4;
    const used = core ? 0 : view.getUint32(46, true);
    const count = used || 1 << bpp;
    const start = 14 + headerSize;
    if (start + count * entry > buf.length) throw new Error('truncated BMP palette');
    palette = new Uint8Array(count * 3);
    for (let i = 0; i < count; i++) {
      palette[i * 3] = buf[start + i * entry + 2];
      palette[i * 3 + 1] = buf[start + i * entry + 1];
      palette[i * 3 + 2] = buf[start + i * entry];
    }
  } else if (bpp !== 16 && bpp !== 24 && bpp !== 32) {
    throw new Error(`unsupported BMP bit depth (${bpp})`);
  }

  // BI_RGB defaults: 16-bit is 5-5-5, 32-bit is BGRX.
  let masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  if (compression !== BI_RGB) {
    if (buf.length < 66) throw new Error('truncated BMP header');
    masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  }
  const [r, g, b] = masks.map(channelOf);

  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (dataOffset + stride * height > buf.length) throw new Error('truncated BMP pixel data');
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (bottomUp ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bitPos = x * bpp;
        const byte = buf[row + (bitPos >> 3)];
        const idx = (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        if (idx * 3 + 2 >= palette.length) throw new Error('BMP palette index out of range');
        out[o] = palette[idx * 3];
        out[o + 1] = palette[idx * 3 + 1];
        out[o + 2] = palette[idx * 3 + 2];
      } else if (bpp === 24 && compression === BI_RGB) {
        const p = row + x * 3;
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      } else {
        const px = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
        out[o] = r(px);
        out[o + 1] = g(px);
        out[o + 2] = b(px);
      }
    }
  }
  return { data: out, width, height };
}

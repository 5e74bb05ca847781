// Spectrograms a person can look at: each clip's image turned so time runs right and pitch up,
// coloured (viridis: dark blue quiet, yellow loud), enlarged, side by side with its label above.
// sharp renders the pixels and the SVG labels.
import { sharp } from '../../io/sharp.js';
import type { ImageSize } from '../types.js';

/** Viridis at five stops (matplotlib's), interpolated linearly. */
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

function colour(v: number): [number, number, number] {
  const x = (v / 255) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const t = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + (VIRIDIS[i + 1][k] - c) * t)) as [number, number, number];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A PNG of `clips` (spectrogram images of `size`: frames x mels) side by side, each under its
 * label; `bare`: one clip's picture alone, no label row and no margin (the studio's thumbnails).
 */
export async function spectrogramPicture(
  clips: readonly { label: string; pixels: Uint8Array }[],
  size: ImageSize,
  scale = 4,
  bare = false,
): Promise<Buffer> {
  const [frames, mels] = [size.height, size.width];
  const [w, h, gap, top] = [frames * scale, mels * scale, bare ? 0 : 12, bare ? 0 : 28];
  const width = clips.length * w + (clips.length + 1) * gap;
  const height = top + h + gap;
  const rgb = Buffer.alloc(width * height * 3, 255);
  clips.forEach((clip, k) => {
    const x0 = gap + k * (w + gap);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        // Row y from the top is mel band (mels - 1 - y / scale): high pitch up.
        const v = clip.pixels[Math.floor(x / scale) * mels + (mels - 1 - Math.floor(y / scale))];
        rgb.set(colour(v), ((top + y) * width + x0 + x) * 3);
      }
  });
  const labels = clips
    .map((c, k) => `<text x="${gap + k * (w + gap)}" y="20" font-family="sans-serif" font-size="16" fill="#222">${escape(c.label)}</text>`)
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${labels}</svg>`);
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .composite(bare ? [] : [{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer();
}

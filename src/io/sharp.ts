// sharp (libvips), loaded the first time an image is decoded or encoded rather than when a module
// that can do so is imported: it costs ~0.4 s to load, and commands such as `graft --help` or
// `graft inspect` never touch an image. sharp is CommonJS, so a synchronous require loads it on
// demand and callers keep sharp's own synchronous API.
import { createRequire } from 'node:module';
import type Sharp from 'sharp';

const require = createRequire(import.meta.url);
let loaded: typeof Sharp | undefined;

/** The sharp module itself (its `versions`, `cache`…), loaded on first use. */
export const sharpModule = (): typeof Sharp => (loaded ??= require('sharp') as typeof Sharp);

/** sharp(input, options), as sharp's own default export. */
export const sharp = ((...args: unknown[]) =>
  (sharpModule() as unknown as (...a: unknown[]) => unknown)(...args)) as unknown as typeof Sharp;

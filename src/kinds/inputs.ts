// What the kinds share about predict's inputs (types.ts's ModelInput): the name an input is known
// by, and an image or a recording, from its file or its bytes, as the pixels of a model's input
// (the same decoder either way: bytes are decoded as the file holding them would be).
import { decodeExampleBytes, decodeExampleFile } from '../data/medium.js';
import type { ImageSize, Medium, ResizeMode } from '../data/types.js';
import type { ModelInput } from './types.js';

/** What messages and a prediction's `file` call input number `index`: its path, its given name, or `input N` (from 1). */
export const inputName = (input: ModelInput, index: number): string =>
  typeof input === 'string' ? input : (input.name ?? `input ${index + 1}`);

/** An input as decoded for an image model: its name and its pixels. */
export interface DecodedPixels {
  name: string;
  pixels: Uint8Array;
}

/** A file (a missing one a usage error naming it) or bytes as pixels of `o.size`; a DecodeError naming the input when unusable. */
export async function decodePixels(
  medium: Medium,
  input: ModelInput,
  index: number,
  o: { size: ImageSize; resize?: ResizeMode },
): Promise<DecodedPixels> {
  const name = inputName(input, index);
  if (typeof input === 'string') return { name, pixels: await decodeExampleFile(medium, input, o) };
  return { name, pixels: await decodeExampleBytes(medium, input.bytes, o, name, input.type) };
}

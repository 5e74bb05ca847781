// Content digests for cache keys: what a feature was computed from, as one hex string.
import { createHash } from 'node:crypto';

/**
 * A stable hex digest (sha256) of the given parts, for cache keys. Each part is tagged with its
 * kind and length, so ('ab', 'c') differs from ('a', 'bc') and the string '1' from the number 1.
 * Typed arrays and Buffers count by their bytes alone: a Buffer and a Uint8Array of the same bytes agree.
 */
export function digest(...parts: (string | number | ArrayBufferView)[]): string {
  const h = createHash('sha256');
  const len = Buffer.alloc(8);
  for (const p of parts) {
    let bytes: Uint8Array;
    if (typeof p === 'string') {
      h.update('s');
      bytes = Buffer.from(p, 'utf8');
    } else if (typeof p === 'number') {
      h.update('n');
      bytes = Buffer.alloc(8);
      new DataView(bytes.buffer).setFloat64(0, p, true);
    } else {
      h.update('b');
      bytes = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    }
    len.writeBigUInt64LE(BigInt(bytes.byteLength));
    h.update(len).update(bytes);
  }
  return h.digest('hex');
}

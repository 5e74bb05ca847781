// Reading a file the user named, with a ceiling: readFile on /dev/zero, /dev/urandom or a pipe
// that never ends grows until the machine runs out of memory, and a regular file can be larger
// than anything graft means to hold. These read at most `maxBytes` and say so when there is more.
import { open } from 'node:fs/promises';
import { GraftError, usageError } from '../core/errors.js';

export const MiB = 1024 * 1024;

/** More bytes than the caller's ceiling; `reason` is short enough for a skip list. */
export class TooLargeError extends GraftError {
  readonly reason: string;
  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    const reason = `larger than ${formatLimit(maxBytes)}`;
    super(`${path} is ${reason}`, 1);
    this.reason = reason;
  }
}

/** A device, pipe or socket where only a regular file will do. */
export class NotRegularFileError extends GraftError {
  constructor(readonly path: string) {
    super(`${path} is not a regular file`, 2);
  }
}

const formatLimit = (bytes: number) => (bytes % (1024 * MiB) === 0 ? `${bytes / 1024 / MiB} GiB` : `${Math.round(bytes / MiB)} MiB`);

/** Bytes read per call from a stream: few calls for a large input, a small overshoot past the ceiling. */
const CHUNK = 4 * MiB;

/**
 * The bytes of `path`, at most `maxBytes` of them: a regular file larger than that is refused
 * before it is read, anything else (a device, a pipe) is read until the ceiling and then refused.
 * `regularOnly` refuses anything but a regular file, for inputs that are never streamed (models).
 * Errors opening the file (ENOENT, EACCES) and reading a folder (EISDIR) are Node's, for the
 * caller to name.
 */
export async function readFileBounded(path: string, maxBytes: number, o: { regularOnly?: boolean } = {}): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const st = await handle.stat();
    if (!st.isFile() && !st.isDirectory()) {
      if (o.regularOnly) throw new NotRegularFileError(path);
    } else if (st.size > maxBytes) {
      throw new TooLargeError(path, maxBytes);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    // A regular file in one read of its size (and a byte, to see it did not grow); a stream in chunks.
    let want = st.isFile() ? st.size + 1 : 64 * 1024;
    for (; ; want = CHUNK) {
      // One byte past the ceiling tells "exactly maxBytes" from "more".
      want = Math.min(want, maxBytes + 1 - total);
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(want), 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === want ? buffer : buffer.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw new TooLargeError(path, maxBytes);
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * A model file the user named (a model.json, its weights, an ONNX file), whole: a missing one, a
 * folder, a device or a pipe is a usage error naming it and `what` was expected.
 */
export async function readModelFile(path: string, what: string, maxBytes: number): Promise<Buffer> {
  try {
    return await readFileBounded(path, maxBytes, { regularOnly: true });
  } catch (e) {
    if (code(e) === 'ENOENT') throw usageError(`${what} not found: ${path}`);
    if (code(e) === 'EISDIR') throw usageError(`${what} expected, but ${path} is a folder`);
    if (e instanceof NotRegularFileError) throw usageError(`${what} expected, but ${path} is not a regular file`);
    if (code(e)) throw usageError(`cannot read ${what} ${path}: ${code(e)}`);
    throw e;
  }
}

/**
 * A small text file the user named (a config, a spec) as UTF-8, at most `maxBytes`: a missing,
 * unreadable or oversized file is one usage error naming it as `what`, saying what such a file
 * `holds` when it is too large to be one.
 */
export async function readSmallText(file: string, maxBytes: number, what: string, holds: string): Promise<string> {
  try {
    return (await readFileBounded(file, maxBytes)).toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError(
      code === 'ENOENT'
        ? `${what} not found: ${file}`
        : e instanceof TooLargeError
          ? `${what} ${file} is ${e.reason}: ${holds}`
          : `cannot read ${what} ${file}: ${code ?? (e as Error).message}`,
    );
  }
}

// Hostile paths and inputs (issue 28, items 11, 12 and part of 5): every destination is checked
// before any work and none can hang mkdir; inputs are read up to a ceiling (/dev/zero ends);
// a base that is not a model says what was expected; only the listed raster formats decode, with
// a pixel limit. The CLI runs in its own process with a deadline, its memory sampled, so a
// regression is a failed assertion, never a hung test.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { makeImageFolder } from '../fixtures.js';
import { root, saveTinyBase, tempDir } from '../helpers.js';

const BIN = join(root, 'bin/graft.js');
const CACHE_DIR = tempDir('graft-hostile-cache-');
const LINUX_PROC = existsSync('/proc/self/status');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Killed at the deadline: the command did not return. */
  killed: boolean;
  /** The child's largest resident set seen, in MiB (0 where /proc cannot tell). */
  peakMiB: number;
}

function residentMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** `node …args` in its own process, killed at `deadline` seconds, its memory sampled every 50 ms. */
function runNode(args: string[], o: { cwd?: string; deadline?: number } = {}): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: o.cwd ?? root, env: { ...process.env, GRAFT_CACHE_DIR: CACHE_DIR } });
  let stdout = '';
  let stderr = '';
  let peakMiB = 0;
  let killed = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const sample = setInterval(() => (peakMiB = Math.max(peakMiB, residentMiB(child.pid!))), 50);
  const timer = setTimeout(
    () => {
      killed = true;
      child.kill('SIGKILL');
    },
    (o.deadline ?? 30) * 1000,
  );
  return new Promise((done) =>
    child.on('close', (code) => {
      clearInterval(sample);
      clearTimeout(timer);
      done({ code, stdout, stderr, seconds: (performance.now() - started) / 1000, killed, peakMiB });
    }),
  );
}

const graft = (args: string[], o: { cwd?: string; deadline?: number } = {}) => runNode([BIN, ...args], o);

/** The error contract: it returned, exactly one line on stderr starting "error:" matching `pattern`, no stack. */
function assertOneLineError(r: Run, codes: number[], pattern: RegExp): void {
  assert.ok(!r.killed, `returned before the deadline (ran ${r.seconds.toFixed(1)} s; stderr: ${r.stderr.slice(0, 500)})`);
  assert.ok(codes.includes(r.code!), `exit code ${r.code}, expected ${codes.join(' or ')} (stderr: ${r.stderr})`);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('warning:'));
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** Refused before any work: nothing trained (no epoch line) and nothing computed. */
function assertBeforeWork(r: Run): void {
  assert.doesNotMatch(r.stderr + r.stdout, /epoch|features computed/i, 'refused before training started');
}

let dir: string;
let base: string;
let data: string;
let model: string;
/** A regular file, where the tests ask graft to make a directory below it. */
let file: string;

/** The cheapest training there is (one epoch, head only, a fixed cut): what the checks must come before. */
const trainArgs = (out: string, ...more: string[]) => [
  ...['train', '--base', base, '--data', data, '--out', out],
  ...['--epochs', '1', '--unfreeze', '0', '--cut', 'top_conv', '--backend', 'cpu', ...more],
];

before(async () => {
  dir = tempDir('graft-hostile-');
  base = await saveTinyBase(join(dir, 'base'));
  data = (await makeImageFolder(join(dir, 'data'), { classes: ['blue', 'red'], perClass: 4, size: 16 })).root;
  file = join(dir, 'FILE');
  writeFileSync(file, 'a regular file\n');
  // The cheapest model: one epoch of the head on 8 tiny images.
  model = join(dir, 'model');
  const r = await graft(trainArgs(model), { deadline: 120 });
  assert.equal(r.code, 0, r.stderr);
});

describe('every output is checked before any work (item 11)', () => {
  it("train --out '' is refused before training and leaves nothing in the working directory", async () => {
    const cwd = tempDir('graft-hostile-cwd-');
    const r = await graft(trainArgs(''), { cwd });
    assertOneLineError(r, [2], /--out is empty/);
    assertBeforeWork(r);
    assert.deepEqual(readdirSync(cwd), [], 'no ..tmp-… left behind');
  });

  it('every path of train refuses --out inside a regular file before loading anything', async () => {
    const paths: [string, string[]][] = [
      ['images', []],
      ['detection', ['--head', 'detect']],
      ['multi-task', ['--task', 'colour']],
      ['texts', ['--base', 'use-lite']],
    ];
    for (const [name, more] of paths) {
      const r = await graft(trainArgs(join(file, 'sub'), ...more));
      assertOneLineError(r, [2], /FILE is a file, not a directory/);
      assertBeforeWork(r);
      assert.equal(readFileSync(file, 'utf8'), 'a regular file\n', `${name}: the file is untouched`);
    }
  });

  it(
    '/proc/x/y is refused at once, by the CLI and by the library (Node 20 mkdir -p spins on it)',
    { skip: !LINUX_PROC && 'no /proc' },
    async () => {
      const train = await graft(trainArgs('/proc/graft-x/y'), { deadline: 20 });
      assertOneLineError(train, [2], /\/proc is a kernel file system/);
      assertBeforeWork(train);
      const exported = await graft(['export', '--model', model, '--out', '/proc/graft-x/y.onnx'], { deadline: 20 });
      assertOneLineError(exported, [2], /\/proc is a kernel file system/);
      // The library's own writers, and makeDirs on its own: an error, not a promise that never settles.
      const script = `
      const { writeDirAtomically, writeFileAtomically } = await import(${JSON.stringify(join(root, 'src/io/atomic.ts'))});
      const { makeDirs } = await import(${JSON.stringify(join(root, 'src/io/destination.ts'))});
      for (const f of [() => writeDirAtomically('/proc/graft-x/y', true, async () => {}), () => writeFileAtomically('/proc/graft-x/y.txt', 'x'), () => makeDirs('/proc/graft-x/y')])
        await f().then(() => console.log('written'), (e) => console.log('refused', e.code ?? e.exitCode));`;
      const lib = await runNode(['--import', 'tsx', '--input-type=module', '-e', script], { deadline: 20 });
      assert.ok(!lib.killed, `the library returned (ran ${lib.seconds.toFixed(1)} s)`);
      assert.deepEqual(lib.stdout.trim().split('\n'), ['refused 2', 'refused 2', 'refused ENOENT'], lib.stderr);
    },
  );

  it('export, pretrain, experiment, predict/eval --draw, studio --dir and adapt --cache-dir check theirs first', async () => {
    const inFile = join(file, 'sub');
    const cases: [string[], RegExp][] = [
      [['export', '--model', model, '--out', ''], /--out is empty/],
      [['export', '--model', model, '--out', join(inFile, 'm.onnx')], /FILE is a file, not a directory/],
      [['pretrain', 'digits', '--out', inFile], /FILE is a file, not a directory/],
      [['experiment', 'digits-transfer', '--runs', inFile], /--runs .*FILE is a file, not a directory/],
      [['predict', '--model', model, '--draw', inFile, join(data, 'blue', 'img000.png')], /--draw .*FILE is a file, not a directory/],
      [['eval', '--model', model, '--data', data, '--draw', inFile], /--draw .*FILE is a file, not a directory/],
      [['studio', '--dir', inFile, '--no-open', '--port', '0'], /--dir .*FILE is a file, not a directory/],
      [
        ['adapt', '--base', base, '--source', data, '--target', data, '--method', 'none', '--cache-dir', inFile],
        /--cache-dir .*FILE is a file/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const r = await graft([...args, '--backend', 'cpu'], { deadline: 30 });
      assertOneLineError(r, [2], pattern);
      assertBeforeWork(r);
    }
  });

  it('--force replaces like with like: never a directory by a file, nor the working directory', async () => {
    const keep = join(dir, 'keep');
    mkdirSync(join(keep, 'inside'), { recursive: true });
    const r = await graft(['export', '--model', model, '--out', keep, '--force']);
    assertOneLineError(r, [2], /is a directory: not replaced/);
    assert.deepEqual(readdirSync(keep), ['inside'], 'the directory is untouched');
    const cwd = tempDir('graft-hostile-cwd-');
    writeFileSync(join(cwd, 'mine.txt'), 'x');
    const t = await graft(trainArgs('.', '--force'), { cwd });
    assertOneLineError(t, [2], /holds the working directory/);
    assertBeforeWork(t);
    assert.deepEqual(readdirSync(cwd), ['mine.txt']);
    // A device is never "overwritten" (as root, a rename over /dev/null would succeed).
    const { checkDestination } = await import('../../src/io/destination.js');
    assert.throws(() => checkDestination('/dev/null', { kind: 'file', force: true }), /not a regular file: not replaced/);
  });

  it(
    'a directory that cannot be written in is refused before training',
    { skip: process.getuid?.() === 0 && 'root writes anywhere' },
    async () => {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o555);
      const r = await graft(trainArgs(join(locked, 'model')));
      chmodSync(locked, 0o755);
      assertOneLineError(r, [2], /cannot write in .*locked \(permission denied\)/);
      assertBeforeWork(r);
    },
  );
});

describe('inputs are read up to a ceiling, and a base must be a model (item 12)', () => {
  it(
    'predict /dev/zero stops at 256 MiB with one error line, in bounded memory and time',
    { skip: !existsSync('/dev/zero') && 'no /dev/zero' },
    async () => {
      const r = await graft(['predict', '--model', model, '--backend', 'cpu', '/dev/zero'], { deadline: 30 });
      assertOneLineError(r, [1, 2], /\/dev\/zero: larger than 256 MiB/);
      if (LINUX_PROC) assert.ok(r.peakMiB > 0 && r.peakMiB < 1024, `peak resident memory ${r.peakMiB.toFixed(0)} MiB`);
    },
  );

  it('predict refuses a regular file over 256 MiB without reading it', async () => {
    const big = join(dir, 'big.png');
    truncateSync((writeFileSync(big, ''), big), 300 * 1024 * 1024); // sparse: no disk used
    const r = await graft(['predict', '--model', model, '--backend', 'cpu', big], { deadline: 30 });
    assertOneLineError(r, [1], /big\.png: larger than 256 MiB/);
  });

  it('--base at a file that is not a model gives one error line saying what was expected', async () => {
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'some text\nand more\n');
    const array = join(dir, 'array.json');
    writeFileSync(array, '[1, 2]');
    const folder = join(dir, 'folder.onnx');
    mkdirSync(folder, { recursive: true });
    const cases: [string, RegExp][] = [
      [notes, /notes\.txt is not a TF\.js model\.json: it is not JSON/],
      [join(model, 'graft.json'), /graft\.json is not a TF\.js model\.json .*: it is a trained model's graft\.json/],
      [array, /array\.json is not a TF\.js model\.json .*: it is not a JSON object/],
      [folder, /ONNX model expected, but .*folder\.onnx is a folder/],
      [`onnx:${notes}`, /notes\.txt is not an ONNX model/],
      ...(existsSync('/dev/zero')
        ? ([['/dev/zero', /TF\.js model\.json expected, but \/dev\/zero is not a regular file/]] as [string, RegExp][])
        : []),
    ];
    for (const [spec, pattern] of cases) {
      const out = join(dir, 'never');
      const r = await graft(['train', '--base', spec, '--data', data, '--out', out, '--backend', 'cpu'], { deadline: 20 });
      assertOneLineError(r, [2], pattern);
      assert.doesNotMatch(r.stderr, /Cannot read properties|flatMap|Unexpected token/);
      assertBeforeWork(r);
      assert.ok(!existsSync(out));
    }
  });

  it('--model at a graft.json, or a graft.json that is not an object, is one error line', async () => {
    const r = await graft(['predict', '--model', join(model, 'graft.json'), '--backend', 'cpu', join(data, 'blue', 'img000.png')]);
    assertOneLineError(r, [2], /graft\.json is a file; a graft model is the directory graft train wrote/);
    const broken = join(dir, 'broken-model');
    mkdirSync(broken);
    writeFileSync(join(broken, 'graft.json'), 'null\n');
    const b = await graft(['predict', '--model', broken, '--backend', 'cpu', join(data, 'blue', 'img000.png')]);
    assertOneLineError(b, [1], /graft\.json: expected a JSON object describing the model/);
  });
});

/** A PNG whose header claims `width` x `height`, with a few bytes of pixels. */
function pngClaiming(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => (b.reduce((c, x) => crcTable[(c ^ x) & 0xff] ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const chunk = (type: string, body: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), body]);
    const out = Buffer.alloc(typed.length + 8);
    out.writeUInt32BE(body.length, 0);
    typed.copy(out, 4);
    out.writeUInt32BE(crc(typed), typed.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/** A 1-bit BMP of `width` x `height` with all its (zero) pixel rows: a valid file, just too many pixels. */
function bmp1Bit(width: number, height: number): Buffer {
  const stride = Math.ceil(width / 32) * 4;
  const offset = 14 + 40 + 8;
  const buf = Buffer.alloc(offset + stride * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(1, 28);
  buf.writeUInt32LE(2, 46); // two palette entries: black, white
  buf.writeUInt32LE(0xffffff, 58);
  return buf;
}

describe('images: only the listed raster formats, at most 256 megapixels (item 5)', () => {
  const size = { height: 8, width: 8, channels: 3 as const };
  const FORMATS = 'not a JPEG, PNG, WebP, GIF, BMP or TIFF image';

  it('SVG (and HEIF) are refused before sharp rasterises them, in decodeImageBuffer and open', async () => {
    const { decodeImageBuffer, open, DecodeError } = await import('../../src/data/images.js');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8" fill="red"/></svg>');
    await assert.rejects(decodeImageBuffer(svg, size, 'cover', 'drawing.svg'), (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.equal(e.reason, FORMATS);
      assert.equal(e.message, `cannot decode drawing.svg: ${FORMATS}`);
      return true;
    });
    // open() is what detection's rendering (predict --draw) decodes with.
    assert.throws(() => open(svg), new RegExp(FORMATS));
    const heif = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .heif({ compression: 'av1' })
      .toBuffer();
    await assert.rejects(decodeImageBuffer(heif, size, 'cover', 'photo.heic'), { reason: FORMATS });
    // The raster formats still decode.
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff'] as const) {
      const buf = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
        .toFormat(format)
        .toBuffer();
      assert.equal((await decodeImageBuffer(buf, size)).length, 8 * 8 * 3, format);
    }
  });

  it('an SVG named .png is one error line from predict', async () => {
    const disguised = join(dir, 'drawing.png');
    writeFileSync(disguised, '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>');
    const r = await graft(['predict', '--model', model, '--backend', 'cpu', disguised]);
    assertOneLineError(r, [1], new RegExp(`drawing\\.png: ${FORMATS}`));
  });

  it('a header claiming 50000x50000 (or a BMP of 16400x16400) is a DecodeError with a short reason', async () => {
    const { decodeImageBuffer, DecodeError } = await import('../../src/data/images.js');
    for (const [name, buf] of [
      ['huge.png', pngClaiming(50_000, 50_000)],
      ['huge.bmp', bmp1Bit(16_400, 16_400)],
    ] as const) {
      await assert.rejects(decodeImageBuffer(buf, size, 'cover', name), (e: unknown) => {
        assert.ok(e instanceof DecodeError, `${name}: ${String(e)}`);
        assert.equal(e.reason, 'more than 256 megapixels', name);
        return true;
      });
    }
  });

  it('a reason never shows a path the caller did not pass as `where`', async () => {
    const { shortReason, decodeImageBuffer } = await import('../../src/data/images.js');
    const upload = join(tmpdir(), 'graft-upload-x1', 'photo.png');
    const spaced = join(tmpdir(), 'graft-upload-x1', 'a photo.png');
    for (const msg of [`Input file is missing: ${upload}`, `EACCES: permission denied, open '${spaced}'`]) {
      const reason = shortReason(new Error(msg));
      assert.ok(!reason.includes(tmpdir()) && !reason.includes('photo'), reason);
    }
    await assert.rejects(decodeImageBuffer(Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2]), size, 'cover', 'upload.jpg'), (e: Error) => {
      assert.ok(!e.message.includes(tmpdir()), e.message);
      assert.match(e.message, /^cannot decode upload\.jpg: /);
      return true;
    });
  });
});

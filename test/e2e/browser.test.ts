// graft/browser (src/browser/index.ts) in a real page: a tiny image classifier and a tiny detector
// trained with the CLI on images the test draws, src/browser bundled by esbuild for the browser
// platform (its metafile says no Node built-in, sharp or onnxruntime went in), the bundle, the
// model directories and the images served from loopback, and Debian's Chromium (playwright-core)
// asked for each image's answer, which must be graft predict --json's within 1e-4 (the page resizes
// and letterboxes bit for bit as sharp does: test/browser-pixels.test.ts; what remains is float
// arithmetic, graft on the wasm backend and the page on cpu).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { SPEECH_CNN_DIR } from '../../src/bases/audio/speech-cnn.js';
import { fileHandler } from '../../src/io/layers-files.js';
import { mulberry32 } from '../../src/math/random.js';
import { makeImageFolder, writeSolid, CLASS_COLOURS } from '../fixtures.js';
import { graft, root, saveTinyBase, stridedModel, sweep, tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const speechSkip = existsSync(join(SPEECH_CNN_DIR, 'model.json'))
  ? false
  : `speech-cnn is not in ${SPEECH_CNN_DIR} (graft pretrain speech)`;
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;
/** Within this of graft's probabilities and scores. */
const TOLERANCE = 1e-4;

interface Top {
  label: string;
  probability: number;
}
interface Found {
  label: string;
  score: number;
  box: [number, number, number, number];
}

/** A black scene with white (class 0) and red (class 1) squares. */
async function writeScene(path: string, width: number, height: number, squares: { cls: number; box: number[] }[]) {
  const px = new Uint8Array(width * height * 3);
  for (const { cls, box } of squares) {
    const [x, y, w, h] = box;
    for (let r = y; r < y + h; r++)
      for (let c = x; c < x + w; c++) px.set(cls === 0 ? [255, 255, 255] : [230, 20, 20], (r * width + c) * 3);
  }
  await sharp(px, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}

/** 10 scenes of 64x48 with one or two squares, as COCO JSON. */
async function writeDetectionData(dir: string): Promise<string> {
  const rand = mulberry32(5);
  const images: object[] = [];
  const annotations: object[] = [];
  for (let i = 0; i < 10; i++) {
    const squares = Array.from({ length: 1 + (i % 2) }, (_, k) => {
      const s = 12 + Math.floor(rand() * 8);
      const x = k === 0 ? Math.floor(rand() * (30 - s)) + 1 : 32 + Math.floor(rand() * (31 - s));
      return { cls: rand() < 0.5 ? 0 : 1, box: [x, Math.floor(rand() * (47 - s)), s, s] };
    });
    const name = `scene${i}.png`;
    await writeScene(join(dir, name), 64, 48, squares);
    images.push({ id: i + 1, file_name: name, width: 64, height: 48 });
    for (const [k, s] of squares.entries())
      annotations.push({ id: i * 10 + k + 1, image_id: i + 1, category_id: s.cls + 1, bbox: s.box, area: s.box[2] * s.box[3], iscrowd: 0 });
  }
  const categories = ['white', 'red'].map((name, i) => ({ id: i + 1, name }));
  const path = join(dir, 'annotations.json');
  writeFileSync(path, JSON.stringify({ images, annotations, categories }));
  return path;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wav': 'audio/wav',
  '.bin': 'application/octet-stream',
};

/** Files under `dir` at their paths, on loopback. */
function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir) || !existsSync(path) || !statSync(path).isFile()) return void res.writeHead(404).end();
    res
      .writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
      .end(readFileSync(path));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const PAGE_SCRIPT = `
import * as tf from '@tensorflow/tfjs';
import { loadModel } from './index.ts';
const image = (src) => new Promise((resolve, reject) => {
  const img = new Image();
  img.onload = () => resolve(img);
  img.onerror = () => reject(new Error('cannot load ' + src));
  img.src = src;
});
window.graftPredict = async (model, files, o) => {
  await tf.setBackend('cpu');
  const m = await loadModel(model);
  const out = [];
  for (const f of files) out.push(await m.predict(await image(f), { ...o, name: f }));
  m.dispose();
  return { kind: m.kind, predictions: out };
};
window.graftPredictAudio = async (model, files, o) => {
  await tf.setBackend('cpu');
  const m = await loadModel(model);
  const out = [];
  for (const f of files) {
    // Decoded at the model's rate by the page (a WAV already at that rate is not resampled).
    const bytes = await (await fetch(f)).arrayBuffer();
    const audio = await new OfflineAudioContext(1, 1, m.sampleRate).decodeAudioData(bytes);
    out.push(await m.predictAudio(audio, { ...o, name: f }));
  }
  m.dispose();
  return { kind: m.kind, predictions: out };
};
`;

describe('graft/browser in Chromium', { skip }, () => {
  const dir = tempDir('graft-browser-');
  let server: Server;
  let browser: Browser;
  let page: Page;
  let bundleBytes = 0;
  const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/${path}`;

  const inPage = (model: string, files: string[], o: Record<string, unknown>, fn = 'graftPredict') =>
    page.evaluate(([name, m, f, opts]) => (window as unknown as Record<string, (...a: unknown[]) => unknown>)[name](m, f, opts), [
      fn,
      url(model),
      files.map((f) => url(f)),
      o,
    ] as const) as Promise<{ kind: string; predictions: { file: string; top?: Top[]; boxes?: Found[] }[] }>;

  /** Each page answer's classes in graft's order, each probability within TOLERANCE of graft's. */
  function sameTop(files: string[], ours: { top?: Top[] }[], theirs: { top?: Top[] }[]) {
    for (const [i, p] of ours.entries()) {
      assert.deepEqual(
        p.top!.map((t) => t.label),
        theirs[i].top!.map((t) => t.label),
      );
      for (const [k, t] of p.top!.entries()) {
        const d = Math.abs(t.probability - theirs[i].top![k].probability);
        console.log(`${files[i]} ${t.label}: page ${t.probability}, graft ${theirs[i].top![k].probability} (${d.toExponential(1)})`);
        assert.ok(d < TOLERANCE, `${files[i]} ${t.label}: page ${t.probability}, graft ${theirs[i].top![k].probability}`);
      }
    }
  }

  const predict = (model: string, files: string[], ...flags: string[]) => {
    const r = graft('predict', '--model', join(dir, model), '--json', ...flags, ...files.map((f) => join(dir, f)));
    assert.equal(r.code, 0, r.stderr);
    return (r.json as { predictions: { top?: Top[]; boxes?: Found[] }[] }).predictions;
  };

  before(async () => {
    const built = await esbuild.build({
      stdin: { contents: PAGE_SCRIPT, resolveDir: join(root, 'src/browser'), loader: 'ts', sourcefile: 'page.ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      metafile: true,
      outfile: join(dir, 'bundle.js'),
      logLevel: 'silent',
    });
    const inputs = Object.keys(built.metafile.inputs);
    const nodeOnly = inputs.filter((p) => /^node:|\/(sharp|onnxruntime-node|onnxruntime-common|fastify|commander)\//.test(p));
    assert.deepEqual(nodeOnly, [], 'the bundle holds no Node-only module');
    const ours = inputs.filter((p) => p.startsWith('src/'));
    assert.ok(ours.includes('src/browser/index.ts'), ours.join(', '));
    // graft's own modules in the page: pure ones only (kinds/ is imported for its types, which esbuild drops).
    const nodeLayers = ours.filter((p) => /^src\/(io|backend|kinds|engine|train|serve|studio|cli|bases|onnx)\//.test(p));
    assert.deepEqual(nodeLayers, [], 'no module of a Node-side layer in the bundle');
    bundleBytes = built.metafile.outputs[Object.keys(built.metafile.outputs)[0]].bytes;
    writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="bundle.js"></script>');
    server = await serve(dir);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.goto(url('index.html'));
    await page.waitForFunction(() => 'graftPredict' in window);
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('bundles for the browser without Node modules', () => {
    assert.ok(bundleBytes > 0);
    console.log(`bundle (with @tensorflow/tfjs, minified): ${(bundleBytes / 1024).toFixed(0)} KiB`);
  });

  it('classifies images as graft predict does', async () => {
    mkdirSync(join(dir, 'base'));
    const base = await saveTinyBase(join(dir, 'base'));
    await makeImageFolder(join(dir, 'colours'), { perClass: 8, size: 16 });
    const r = graft('train', '--base', base, '--data', join(dir, 'colours'), '--out', join(dir, 'classifier'), '--epochs', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    // At the input size (16x16: not resampled), larger (cover: reduced and cropped), smaller (enlarged), and a JPEG.
    await writeSolid(join(dir, 'same.png'), CLASS_COLOURS[0], 16, 16, 7);
    await writeSolid(join(dir, 'wide.png'), CLASS_COLOURS[1], 40, 24, 8);
    await writeSolid(join(dir, 'small.png'), CLASS_COLOURS[0], 10, 12, 9);
    await writeSolid(join(dir, 'photo.jpg'), CLASS_COLOURS[1], 50, 30, 10);
    const files = ['same.png', 'wide.png', 'small.png', 'photo.jpg'];
    const graftSays = predict('classifier', files, '--top', '2');
    const page = await inPage('classifier', files, { top: 2 });
    assert.equal(page.kind, 'image');
    sameTop(files, page.predictions, graftSays);
  });

  it('hears recordings as graft predict does (an audio classifier on speech-cnn)', { skip: speechSkip }, async () => {
    for (const [word, from, to] of [
      ['rise', 300, 1500],
      ['fall', 1500, 300],
    ] as const) {
      mkdirSync(join(dir, 'words', word), { recursive: true });
      for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'words', word, `${i}.wav`), sweep(from * (1 + 0.04 * i), to, 0.5 + 0.05 * i));
    }
    const r = graft(
      'train',
      '--base',
      'speech-cnn',
      '--data',
      join(dir, 'words'),
      '--out',
      join(dir, 'audio'),
      '--epochs',
      '1',
      '--unfreeze',
      '0',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    // Shorter than the base's 1 s window (padded) and longer (cropped to its loudest second).
    writeFileSync(join(dir, 'short.wav'), sweep(400, 1400, 0.6));
    writeFileSync(join(dir, 'long.wav'), sweep(1600, 350, 1.7));
    const files = ['short.wav', 'long.wav'];
    const graftSays = predict('audio', files, '--top', '2');
    const page = await inPage('audio', files, { top: 2 }, 'graftPredictAudio');
    assert.equal(page.kind, 'image');
    sameTop(files, page.predictions, graftSays);
  });

  it('finds boxes as graft predict does', async () => {
    mkdirSync(join(dir, 'boxes'));
    const coco = await writeDetectionData(join(dir, 'boxes'));
    mkdirSync(join(dir, 'strided'));
    await stridedModel().save(fileHandler(join(dir, 'strided', 'model.json')));
    const r = graft(
      'train',
      '--base',
      join(dir, 'strided', 'model.json'),
      '--head',
      'detect',
      '--data',
      coco,
      '--out',
      join(dir, 'detector'),
      '--input-size',
      '64',
      '--epochs',
      '2',
      '--lr',
      '0.01',
      '--unfreeze',
      '0',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    // 64x48 is letterboxed at scale 1 (no resampling); 96x72 is scaled by 2/3.
    await writeScene(join(dir, 'scene-small.png'), 64, 48, [
      { cls: 0, box: [5, 8, 16, 16] },
      { cls: 1, box: [36, 20, 14, 14] },
    ]);
    await writeScene(join(dir, 'scene-large.png'), 96, 72, [
      { cls: 1, box: [10, 12, 24, 24] },
      { cls: 0, box: [55, 30, 20, 20] },
    ]);
    const files = ['scene-small.png', 'scene-large.png'];
    // A low threshold: a detector trained for two epochs scores little; every peak above it is compared.
    const graftSays = predict('detector', files, '--threshold', '0.05');
    const page = await inPage('detector', files, { threshold: 0.05 });
    assert.equal(page.kind, 'detection');
    for (const [i, p] of page.predictions.entries()) {
      const theirs = graftSays[i].boxes!;
      const ours = p.boxes!;
      console.log(`${files[i]}: ${ours.length} boxes in the page, ${theirs.length} from graft`);
      assert.ok(theirs.length > 0, 'graft finds something to compare');
      assert.equal(ours.length, theirs.length);
      // Paired by label and place, not by rank: two peaks scoring alike may swap (graft runs on wasm, the page on cpu).
      const left = [...ours];
      for (const t of theirs) {
        const dist = (b: Found) => (b.label === t.label ? Math.max(...b.box.map((v, j) => Math.abs(v - t.box[j]))) : Infinity);
        const k = left.reduce((best, b, j) => (dist(b) < dist(left[best]) ? j : best), 0);
        const b = left.splice(k, 1)[0];
        const where = `${files[i]} ${t.label} at [${t.box}]: page ${b.label} ${b.score} at [${b.box}], graft ${t.score}`;
        assert.ok(dist(b) <= 0.1, where);
        assert.ok(Math.abs(b.score - t.score) < TOLERANCE, where);
      }
    }
  });
});

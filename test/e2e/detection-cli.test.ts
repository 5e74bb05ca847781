// `graft train --head detect` from the CLI on boxes a test draws, in each of the three formats,
// then predict (with --draw), eval (with --draw), export to ONNX, and a plain-tfjs client that
// decodes the exported model's boxes by itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { fileHandler } from '../../src/io/layers-files.js';
import { loadModel } from '../../src/kinds/index.js';
import { mulberry32 } from '../../src/math/random.js';
import { startServer } from '../../src/serve/server.js';
import { graft, root, stridedModel, tempDir } from '../helpers.js';

type Box = [number, number, number, number];
interface Image {
  name: string;
  width: number;
  height: number;
  objects: { cls: 0 | 1; box: Box }[];
}
const CLASSES = ['white', 'red'];

/** 24 images, 96x72, black with one or two squares (white or red) of 20-30 px, and two without any. */
function scenes(): Image[] {
  const rand = mulberry32(3);
  return Array.from({ length: 24 }, (_, i) => {
    const objects: Image['objects'] = [];
    const count = i < 2 ? 0 : 1 + (i % 2);
    for (let k = 0; k < count; k++) {
      const s = 20 + Math.floor(rand() * 10);
      const x = k === 0 ? Math.floor(rand() * (40 - s)) + 2 : 50 + Math.floor(rand() * (44 - s));
      const y = Math.floor(rand() * (70 - s));
      objects.push({ cls: rand() < 0.5 ? 0 : 1, box: [x, y, s, s] });
    }
    return { name: `scene${String(i).padStart(2, '0')}.png`, width: 96, height: 72, objects };
  });
}

async function writeImage(path: string, im: Image): Promise<void> {
  const px = new Uint8Array(im.width * im.height * 3);
  for (const o of im.objects) {
    const [x, y, w, h] = o.box;
    for (let r = y; r < y + h; r++)
      for (let c = x; c < x + w; c++) px.set(o.cls === 0 ? [255, 255, 255] : [230, 20, 20], (r * im.width + c) * 3);
  }
  await sharp(px, { raw: { width: im.width, height: im.height, channels: 3 } })
    .png()
    .toFile(path);
}

async function writeSets(dir: string, images: Image[]) {
  const coco = join(dir, 'coco');
  const voc = join(dir, 'voc');
  const yolo = join(dir, 'yolo');
  for (const d of [coco, voc, join(yolo, 'images'), join(yolo, 'labels')]) mkdirSync(d, { recursive: true });
  for (const im of images) {
    for (const d of [coco, voc, join(yolo, 'images')]) await writeImage(join(d, im.name), im);
    const stem = im.name.replace('.png', '');
    const objects = im.objects
      .map(
        (o) =>
          `<object><name>${CLASSES[o.cls]}</name><difficult>0</difficult><bndbox><xmin>${o.box[0] + 1}</xmin><ymin>${o.box[1] + 1}</ymin><xmax>${o.box[0] + o.box[2]}</xmax><ymax>${o.box[1] + o.box[3]}</ymax></bndbox></object>`,
      )
      .join('');
    writeFileSync(
      join(voc, `${stem}.xml`),
      `<annotation><filename>${im.name}</filename><size><width>${im.width}</width><height>${im.height}</height><depth>3</depth></size>${objects}</annotation>`,
    );
    const lines = im.objects.map((o) => {
      const [x, y, w, h] = o.box;
      return `${o.cls} ${(x + w / 2) / im.width} ${(y + h / 2) / im.height} ${w / im.width} ${h / im.height}`;
    });
    writeFileSync(join(yolo, 'labels', `${stem}.txt`), lines.join('\n'));
  }
  writeFileSync(join(yolo, 'classes.txt'), CLASSES.join('\n'));
  writeFileSync(
    join(coco, 'annotations.json'),
    JSON.stringify({
      images: images.map((im, i) => ({ id: i + 1, file_name: im.name, width: im.width, height: im.height })),
      annotations: images.flatMap((im, i) =>
        im.objects.map((o, k) => ({
          id: i * 10 + k + 1,
          image_id: i + 1,
          category_id: o.cls + 1,
          bbox: o.box,
          area: o.box[2] * o.box[3],
          iscrowd: 0,
        })),
      ),
      categories: CLASSES.map((name, i) => ({ id: i + 1, name })),
    }),
  );
  return { coco: join(coco, 'annotations.json'), voc, yolo };
}

const iou = (a: number[], b: number[]) => {
  const w = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  return (w * h) / (a[2] * a[3] + b[2] * b[3] - w * h);
};

describe('graft train --head detect', () => {
  const dir = tempDir('graft-detect-');
  const images = scenes();
  let data: Awaited<ReturnType<typeof writeSets>>;
  let base: string;
  const out = join(dir, 'detector');

  before(async () => {
    data = await writeSets(dir, images);
    mkdirSync(join(dir, 'base'));
    base = join(dir, 'base', 'model.json');
    await stridedModel().save(fileHandler(base));
  });

  const train = (format: string, o: string, ...more: string[]) =>
    graft('train', '--base', base, '--head', 'detect', '--data', format, '--out', o, '--input-size', '64', '--json', ...more);

  it('trains on COCO JSON and finds the squares it was trained on', () => {
    const r = train(data.coco, out, '--epochs', '60', '--patience', '60', '--lr', '0.01', '--augment', '2', '--unfreeze', '0', '--scratch');
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as { kind: string; stride: number; classes: string[]; metrics: { val: { ap50: number; ap: number } } };
    assert.equal(j.kind, 'detection');
    assert.equal(j.stride, 16);
    assert.deepEqual(j.classes, CLASSES);
    assert.ok(j.metrics.val.ap50 >= 0 && j.metrics.val.ap50 <= 1);
    // CenterNet's loss trains on ONNX Runtime: each stage says where it trained.
    for (const s of (r.json as { stages: { trainEngine: { engine: string; reason?: string } }[] }).stages)
      assert.deepEqual(s.trainEngine, { engine: 'onnx' });
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.equal(meta.kind, 'detection');
    assert.equal(meta.decoding.stride, 16);
    // On the training images themselves, the trained detector finds far more squares than the
    // same detector after one step at a negligible learning rate.
    const trainAP50 = (model: string) => {
      const e = graft('eval', '--model', model, '--data', data.coco, '--split', 'train', '--json');
      assert.equal(e.code, 0, e.stderr);
      return (e.json as { metrics: { ap50: number } }).metrics.ap50;
    };
    const untrained = join(dir, 'untrained');
    const u = train(data.coco, untrained, '--epochs', '1', '--lr', '1e-9', '--augment', '0', '--unfreeze', '0', '--scratch');
    assert.equal(u.code, 0, u.stderr);
    const [ap50, before] = [trainAP50(out), trainAP50(untrained)];
    assert.ok(ap50 > 0.25 && ap50 > before + 0.2, `train AP50 ${ap50}, untrained ${before}`);
  });

  for (const format of ['voc', 'yolo'] as const) {
    it(`trains on ${format === 'voc' ? 'Pascal VOC XML' : 'YOLO files'} with the same classes`, () => {
      const r = train(data[format], join(dir, `from-${format}`), '--epochs', '2', '--augment', '1');
      assert.equal(r.code, 0, r.stderr);
      const j = r.json as { classes: string[]; counts: { train: number; val: number; test: number } };
      // VOC files name classes one object at a time: without a classes.txt they come sorted.
      assert.deepEqual(j.classes, format === 'voc' ? [...CLASSES].sort() : CLASSES);
      assert.equal(j.counts.train + j.counts.val + j.counts.test, images.length);
    });
  }

  it('predict prints boxes in original pixels, --draw writes the images', () => {
    const draw = join(dir, 'drawn');
    const file = join(dirname(data.coco), images[5].name);
    const r = graft('predict', '--model', out, '--threshold', '0.2', '--draw', draw, '--json', file);
    assert.equal(r.code, 0, r.stderr);
    const p = (r.json as { predictions: { file: string; boxes: { label: string; score: number; box: number[] }[] }[] }).predictions[0];
    assert.equal(p.file, file);
    for (const b of p.boxes) {
      assert.ok(CLASSES.includes(b.label) && b.score >= 0.2 && b.box.length === 4);
      assert.ok(b.box[0] >= 0 && b.box[1] >= 0 && b.box[0] + b.box[2] <= 96.01 && b.box[1] + b.box[3] <= 72.01, `inside: ${b.box}`);
    }
    const best = images[5].objects.map((o) => Math.max(0, ...p.boxes.map((b) => iou(b.box, o.box))));
    assert.ok(Math.max(...best) > 0.3, `some square found: IoUs ${best}`);
    assert.equal(readdirSync(draw).length, 1);
    const bad = graft('predict', '--model', out, '--threshold', '2', file);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --threshold/m);
    const missing = graft('predict', '--model', out, join(dir, 'nowhere.png'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: .*nowhere\.png: no such file$/m);
  });

  it('graft serve answers with the boxes graft predict finds', async () => {
    // The image with the most boxes at the model's own threshold (serve has no --threshold).
    const files = images.map((im) => join(dirname(data.coco), im.name));
    const r = graft('predict', '--model', out, '--json', ...files);
    assert.equal(r.code, 0, r.stderr);
    type Boxes = { label: string; score: number; box: number[] }[];
    const all = (r.json as { predictions: { file: string; boxes: Boxes }[] }).predictions;
    const most = all.reduce((a, b) => (b.boxes.length > a.boxes.length ? b : a));
    const [file, expected] = [most.file, most.boxes];
    assert.ok(expected.length > 0, 'the trained detector finds boxes to compare');
    // The kind takes the image's bytes as well, decoded as the file is: the same boxes.
    const own = await loadModel(out);
    try {
      const [fromFile, fromBytes] = await own.predict([file, { bytes: readFileSync(file) }]);
      assert.deepEqual(fromBytes, { ...fromFile, file: 'input 2' });
    } finally {
      await own.dispose();
    }
    const server = await startServer({ models: { squares: out }, port: 0 });
    try {
      const res = await fetch(new URL('/v1/models/squares:predict', server.url), {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Uint8Array(readFileSync(file)),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { predictions: { boxes: { label: string; score: number; box: number[] }[] }[] };
      const boxes = body.predictions[0].boxes;
      assert.equal(boxes.length, expected.length);
      boxes.forEach((b, i) => {
        assert.equal(b.label, expected[i].label);
        assert.ok(Math.abs(b.score - expected[i].score) < 1e-4, `score ${b.score} vs ${expected[i].score}`);
        b.box.forEach((v, k) => assert.ok(Math.abs(v - expected[i].box[k]) < 1e-3, `box ${b.box} vs ${expected[i].box}`));
      });
    } finally {
      await server.close();
    }
  });

  it('eval --draw draws truth and detections for every test image', () => {
    const draw = join(dir, 'eval-drawn');
    const r = graft('eval', '--model', out, '--data', data.coco, '--draw', draw, '--json');
    assert.equal(r.code, 0, r.stderr);
    const m = (r.json as { metrics: { ap: number; ap50: number; images: number; perClass: unknown[] } }).metrics;
    assert.equal(readdirSync(draw).length, m.images);
    assert.equal(m.perClass.length, 2);
    assert.match(r.stdout, /AP50/);
  });

  it('a plain-tfjs client decodes the same boxes as graft predict', async () => {
    // Already at the input's width (64x48: letterboxing only pads), so no resampling kernel
    // (libvips' in graft, bilinear in the client) makes the two inputs differ.
    const im: Image = {
      name: 'plain.png',
      width: 64,
      height: 48,
      objects: [
        { cls: 0, box: [8, 6, 20, 20] },
        { cls: 1, box: [38, 20, 18, 18] },
      ],
    };
    const file = join(dir, im.name);
    await writeImage(file, im);
    const ours = graft('predict', '--model', out, '--threshold', '0.05', '--json', file);
    assert.equal(ours.code, 0, ours.stderr);
    const boxes = (ours.json as { predictions: { boxes: { label: string; score: number; box: number[] }[] }[] }).predictions[0].boxes;
    const pixelsPath = join(dir, 'pixels.json');
    const px: number[][][] = Array.from({ length: im.height }, () => Array.from({ length: im.width }, () => [0, 0, 0]));
    for (const o of im.objects) {
      const [x, y, w, h] = o.box;
      for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) px[r][c] = o.cls === 0 ? [255, 255, 255] : [230, 20, 20];
    }
    writeFileSync(pixelsPath, JSON.stringify(px));
    const plain = spawnSync(process.execPath, [join(root, 'test/plain-tfjs-detect.mjs'), out, pixelsPath, '0.05'], {
      encoding: 'utf8',
      cwd: root,
    });
    assert.equal(plain.status, 0, plain.stderr);
    const theirs = (JSON.parse(plain.stdout.trim().split('\n').pop()!) as { boxes: typeof boxes }).boxes;
    assert.ok(boxes.length > 0, 'graft found something to compare');
    // graft also suppresses overlapping boxes (NMS) and rounds to 0.1 px: each of its boxes is one of the client's.
    for (const b of boxes) {
      const twin = theirs.find(
        (t) => t.label === b.label && Math.abs(t.score - b.score) < 1e-4 && t.box.every((v, i) => Math.abs(v - b.box[i]) <= 0.051),
      );
      assert.ok(twin, `${JSON.stringify(b)} not among ${JSON.stringify(theirs)}`);
    }
  });

  it('exports to ONNX: ONNX Runtime computes the same grid as TF.js', async () => {
    const onnxPath = join(dir, 'detector.onnx');
    const r = graft('export', '--model', out, '--out', onnxPath, '--json');
    assert.equal(r.code, 0, r.stderr);
    const sidecar = JSON.parse(readFileSync(`${onnxPath}.json`, 'utf8'));
    assert.equal(sidecar.kind, 'detection');
    assert.equal(sidecar.decoding.stride, 16);
    const model = await tf.loadLayersModel(fileHandler(join(out, 'model.json')));
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 5);
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const session = await ort.InferenceSession.create(readFileSync(onnxPath));
    const got = await session.run({ [sidecar.input.name]: new ort.Tensor('float32', x.dataSync() as Float32Array, [2, 64, 64, 3]) });
    const y = got[sidecar.output].data as Float32Array;
    assert.equal(y.length, expected.length);
    let worst = 0;
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - expected[i]));
    assert.ok(worst < 1e-4, `max difference ${worst}`);
    await session.release();
  });

  it('refuses classification flags and says which data formats it reads', () => {
    const r = train(data.coco, join(dir, 'x'), '--per-class', '3');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: --per-class applies to image classification, text classification, not to detection/m);
    const none = train(join(dir, 'base'), join(dir, 'y'));
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^error: .*(COCO|VOC|YOLO)/m);
    assert.ok(!existsSync(join(dir, 'x')) && !existsSync(join(dir, 'y')));
  });
});

const dirname = (p: string) => p.slice(0, p.lastIndexOf('/'));

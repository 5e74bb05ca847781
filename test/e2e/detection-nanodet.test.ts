// `graft train --base nanodet --head detect`: the CenterNet head alone on nanodet's frozen
// stride-16 PAN map, from the CLI on a handful of drawn rectangles: trained through the feature
// cache (a second run computes nothing), saved with trunk/model.onnx, then predict, eval and an
// export whose one ONNX file (what predict runs) computes what the trunk then the head compute.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { NANODET_HEAD_JOIN } from '../../src/bases/image/nanodet.js';
import { fileHandler } from '../../src/io/layers-files.js';
import { mulberry32 } from '../../src/math/random.js';
import { graft, tempDir } from '../helpers.js';

const SIZE = 416;
type Box = [number, number, number, number];

/** 12 images, 160x120, grey with one or two orange rectangles of 30-60 px. */
function scenes(): { name: string; boxes: Box[] }[] {
  const rand = mulberry32(7);
  return Array.from({ length: 12 }, (_, i) => {
    const boxes: Box[] = [];
    for (let k = 0; k < 1 + (i % 2); k++) {
      const [w, h] = [30 + Math.floor(rand() * 30), 30 + Math.floor(rand() * 30)];
      boxes.push([k * 80 + Math.floor(rand() * (78 - w)) + 1, Math.floor(rand() * (118 - h)) + 1, w, h]);
    }
    return { name: `rect${String(i).padStart(2, '0')}.png`, boxes };
  });
}

async function writeSet(dir: string): Promise<string> {
  const images = scenes();
  for (const im of images) {
    const px = new Uint8Array(160 * 120 * 3).fill(110);
    for (const [x, y, w, h] of im.boxes)
      for (let r = y; r < y + h; r++) for (let c = x; c < x + w; c++) px.set([240, 140, 30], (r * 160 + c) * 3);
    await sharp(px, { raw: { width: 160, height: 120, channels: 3 } })
      .png()
      .toFile(join(dir, im.name));
  }
  const annotations = join(dir, 'annotations.json');
  writeFileSync(
    annotations,
    JSON.stringify({
      images: images.map((im, i) => ({ id: i + 1, file_name: im.name, width: 160, height: 120 })),
      annotations: images.flatMap((im, i) =>
        im.boxes.map((bbox, k) => ({ id: i * 10 + k + 1, image_id: i + 1, category_id: 1, bbox, area: bbox[2] * bbox[3], iscrowd: 0 })),
      ),
      categories: [{ id: 1, name: 'rectangle' }],
    }),
  );
  return annotations;
}

interface TrainJson {
  input: { height: number; width: number };
  stride: number;
  cut: string;
  unfreeze: number;
  metrics: { val: { ap50: number } };
  stages: { stage: string; features: { computed: number; cached: number } }[];
}

describe('graft train --base nanodet --head detect', () => {
  const dir = tempDir('graft-nanodet-detect-');
  const out = join(dir, 'detector');
  const cache = join(dir, 'cache');
  let data: string;
  const train = (o: string, ...more: string[]) =>
    graft('train', '--base', 'nanodet', '--head', 'detect', '--data', data, '--out', o, '--json', '--cache-dir', cache, ...more);

  before(async () => {
    mkdirSync(join(dir, 'data'));
    data = await writeSet(join(dir, 'data'));
  });

  it("trains the head alone on the heads' maps joined at stride 16, 416x416, saves the trunk beside it, and a second run computes nothing", () => {
    const r = train(out, '--epochs', '2', '--augment', '1');
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as unknown as TrainJson;
    assert.deepEqual([j.input.height, j.input.width, j.stride, j.cut], [SIZE, SIZE, 16, NANODET_HEAD_JOIN.name]);
    assert.deepEqual(
      j.stages.map((s) => s.stage),
      ['head'],
    );
    assert.equal(j.unfreeze, 0);
    assert.ok(j.stages[0].features.computed > 0);
    assert.ok(j.metrics.val.ap50 >= 0 && j.metrics.val.ap50 <= 1);
    assert.match(r.stdout, /frozen trunk: head only/);
    assert.ok(existsSync(join(out, 'trunk', 'model.onnx')));
    const meta = JSON.parse(readFileSync(join(out, 'graft.json'), 'utf8'));
    assert.deepEqual(meta.trunk, { path: 'trunk/model.onnx', output: NANODET_HEAD_JOIN.name, layout: 'nchw' });
    assert.deepEqual(meta.input, { height: SIZE, width: SIZE, channels: 3 });
    // Asked to fine-tune blocks, a frozen base trains its head only (unfreeze 0), as for classifiers.
    const again = train(join(dir, 'again'), '--epochs', '1', '--augment', '1', '--unfreeze', '2');
    assert.equal(again.code, 0, again.stderr);
    const a = again.json as unknown as TrainJson;
    assert.equal(a.unfreeze, 0);
    assert.deepEqual(a.stages[0].features, { computed: 0, cached: j.stages[0].features.computed });
  });

  it('refuses another input size and --scratch with one usage error each', () => {
    const size = train(join(dir, 'x'), '--input-size', '320');
    assert.equal(size.code, 2);
    assert.match(size.stderr, /^error: nanodet is a frozen ONNX model taking 416x416 images/m);
    const scratch = train(join(dir, 'y'), '--scratch');
    assert.equal(scratch.code, 2);
    assert.match(scratch.stderr, /^error: nanodet is a frozen ONNX model: it has no architecture to train from scratch/m);
    assert.ok(!existsSync(join(dir, 'x')) && !existsSync(join(dir, 'y')));
  });

  it("--head-start starts a class from COCO's, recorded in graft.json; what it cannot start is one usage error", () => {
    const started = join(dir, 'started');
    const r = train(started, '--epochs', '1', '--augment', '1', '--head-start', 'rectangle=person');
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(readFileSync(join(started, 'graft.json'), 'utf8'));
    assert.deepEqual(meta.training.headStart, { rectangle: 'person' });
    const none = train(join(dir, 'none'), '--head-start');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^error: a head start found no class of nanodet's among rectangle/m);
    const unknown = train(join(dir, 'unknown'), '--head-start', 'rectangle=pedestrian');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: nanodet has no class "pedestrian" to start from/m);
    const malformed = train(join(dir, 'malformed'), '--head-start', 'rectangle');
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /^error: .*--head-start takes new=base pairs/m);
    for (const r of [none, unknown, malformed]) assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!['none', 'unknown', 'malformed'].some((d) => existsSync(join(dir, d))));
  });

  it('predicts boxes in original pixels and evaluates to COCO AP', () => {
    const file = join(dir, 'data', 'rect03.png');
    const p = graft('predict', '--model', out, '--threshold', '0.01', '--json', file);
    assert.equal(p.code, 0, p.stderr);
    const boxes = (p.json as { predictions: { boxes: { label: string; box: number[] }[] }[] }).predictions[0].boxes;
    assert.ok(boxes.length > 0, 'some box above 0.01');
    for (const b of boxes) assert.ok(b.label === 'rectangle' && b.box.length === 4);
    const e = graft('eval', '--model', out, '--data', data, '--json');
    assert.equal(e.code, 0, e.stderr);
    const m = (e.json as { metrics: { ap: number; ap50: number; images: number } }).metrics;
    assert.ok(m.images > 0 && m.ap >= 0 && m.ap <= m.ap50 && m.ap50 <= 1, JSON.stringify(m));
  });

  it('exports one ONNX file, letterboxed NCHW image in, whose grid is the trunk then the head within 1e-4', async () => {
    const onnxPath = join(dir, 'detector.onnx');
    const r = graft('export', '--model', out, '--out', onnxPath, '--json');
    assert.equal(r.code, 0, r.stderr);
    const sidecar = JSON.parse(readFileSync(`${onnxPath}.json`, 'utf8'));
    assert.deepEqual([sidecar.kind, sidecar.input.layout, sidecar.decoding.stride], ['detection', 'nchw', 16]);
    const x = Float32Array.from({ length: 3 * SIZE * SIZE }, (_, i) => ((i * 7919) % 255) / 255);
    const joined = await ort.InferenceSession.create(readFileSync(onnxPath));
    const y = (await joined.run({ [sidecar.input.name]: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) }))[sidecar.output];
    // The trunk then the head (predict's TF.js fallback): the saved trunk to the cut (NCHW), turned to NHWC, then the head in TF.js.
    const trunk = await ort.InferenceSession.create(join(out, 'trunk', 'model.onnx'));
    const maps = (await trunk.run({ [trunk.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]) }))[NANODET_HEAD_JOIN.name];
    const head = await tf.loadLayersModel(fileHandler(join(out, 'model.json')));
    const features = tf.tidy(() => tf.tensor(maps.data as Float32Array, maps.dims as number[]).transpose([0, 2, 3, 1]));
    const grid = head.predict(features) as tf.Tensor;
    assert.deepEqual(y.dims, grid.shape);
    assert.deepEqual(grid.shape, [1, SIZE / 16, SIZE / 16, 5]);
    const expected = grid.dataSync();
    let worst = 0;
    (y.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected[i]))));
    assert.ok(worst <= 1e-4, `max difference ${worst}`);
    tf.dispose([features, grid]);
    head.dispose();
    await Promise.all([joined.release(), trunk.release()]);
  });
});

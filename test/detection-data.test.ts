// Detection data: COCO JSON, Pascal VOC XML and YOLO text files read into the same DetectionSet,
// with boxes clipped, unusable objects and images dropped with a warning (an error under strict),
// the format told from the path, and the seeded split.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it, test } from 'node:test';
import sharp from 'sharp';
import type { Skipped } from '../src/core/callbacks.js';
import { GraftError } from '../src/core/errors.js';
import {
  firstImages,
  isDetectionData,
  loadDetectionData,
  splitDetection,
  vocToBox,
  type DetectionLoadOptions,
  type DetectionSet,
} from '../src/data/detection/index.js';
import { root, tempDir } from './helpers.js';

async function png(path: string, width: number, height: number): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: { r: 90, g: 140, b: 30 } } })
    .png()
    .toFile(path);
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Files named by their basename and boxes rounded, so sets from different formats compare. */
function comparable(set: DetectionSet) {
  return {
    format: set.format,
    classes: set.classes,
    samples: set.samples
      .map((s) => ({
        file: basename(s.file),
        width: s.width,
        height: s.height,
        objects: s.objects.map((o) => ({ label: o.label, box: o.box.map((v) => Math.round(v * 1e6) / 1e6), ignore: o.ignore })),
      }))
      .sort((a, b) => (a.file < b.file ? -1 : 1)),
  };
}

function collector(extra: DetectionLoadOptions = {}): { o: DetectionLoadOptions; skipped: Skipped[] } {
  const skipped: Skipped[] = [];
  return { o: { ...extra, callbacks: [{ onSkip: (s) => skipped.push(s) }] }, skipped };
}

// The scene every format describes: a.png (40x30) with a cat, an ignored dog and a dog partly
// outside the image; b.png (20x20) with a cat filling it; c.png (16x16), a negative.
const IMAGES = { a: [40, 30], b: [20, 20], c: [16, 16] } as const;
const SCENE: Record<keyof typeof IMAGES, { name: 'cat' | 'dog'; box: [number, number, number, number]; ignore: boolean }[]> = {
  a: [
    { name: 'cat', box: [2, 3, 10, 8], ignore: false },
    { name: 'dog', box: [20, 5, 15, 20], ignore: true },
    { name: 'dog', box: [30, 20, 20, 20], ignore: false },
  ],
  b: [{ name: 'cat', box: [0, 0, 20, 20], ignore: false }],
  c: [],
};

/** What every format must load the scene as (YOLO cannot say "ignore": all false there). */
function expected(format: DetectionSet['format'], ignoreAllowed = true) {
  return {
    format,
    classes: ['cat', 'dog'],
    samples: [
      {
        file: 'a.png',
        width: 40,
        height: 30,
        objects: [
          { label: 0, box: [2, 3, 10, 8], ignore: false },
          { label: 1, box: [20, 5, 15, 20], ignore: ignoreAllowed },
          // [30, 20, 20, 20] clipped to the 40x30 image.
          { label: 1, box: [30, 20, 10, 10], ignore: false },
        ],
      },
      { file: 'b.png', width: 20, height: 20, objects: [{ label: 0, box: [0, 0, 20, 20], ignore: false }] },
      { file: 'c.png', width: 16, height: 16, objects: [] },
    ],
  };
}

async function writeImages(dir: string): Promise<void> {
  for (const [name, [w, h]] of Object.entries(IMAGES)) await png(join(dir, `${name}.png`), w, h);
}

async function writeCoco(dir: string, file = 'annotations.json'): Promise<string> {
  await writeImages(join(dir, 'img'));
  const ids = { a: 10, b: 11, c: 12 };
  const json = {
    info: { description: 'test' },
    images: Object.entries(IMAGES).map(([name, [width, height]]) => ({
      id: ids[name as 'a'],
      file_name: `img/${name}.png`,
      width,
      height,
    })),
    annotations: Object.entries(SCENE).flatMap(([name, objects]) =>
      objects.map((ob, i) => ({
        id: 100 * ids[name as 'a'] + i,
        image_id: ids[name as 'a'],
        category_id: ob.name === 'cat' ? 1 : 7,
        bbox: ob.box,
        area: ob.box[2] * ob.box[3],
        iscrowd: ob.ignore ? 1 : 0,
        segmentation: [],
      })),
    ),
    // Not in id order: classes follow the ids.
    categories: [
      { id: 7, name: 'dog', supercategory: 'animal' },
      { id: 1, name: 'cat', supercategory: 'animal' },
    ],
  };
  const path = join(dir, file);
  write(path, JSON.stringify(json));
  return path;
}

interface VocObject {
  name: string;
  corners?: [number, number, number, number];
  difficult?: boolean;
}

function vocXml(filename: string | undefined, size: [number, number] | undefined, objects: VocObject[]): string {
  const obs = objects.map(
    (o) => `  <object>
    <name>${o.name}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>${o.difficult ? 1 : 0}</difficult>
    <bndbox>${o.corners ? o.corners.map((v, i) => `<${['xmin', 'ymin', 'xmax', 'ymax'][i]}>${v}</${['xmin', 'ymin', 'xmax', 'ymax'][i]}>`).join('') : ''}</bndbox>
  </object>`,
  );
  return `<annotation verified="yes">
  <folder>images</folder>
  ${filename === undefined ? '' : `<filename>${filename}</filename>`}
  <source><database>Unknown</database></source>
  ${size ? `<size><width>${size[0]}</width><height>${size[1]}</height><depth>3</depth></size>` : ''}
  <segmented>0</segmented>
${obs.join('\n')}
</annotation>
`;
}

/** [x, y, w, h] as VOC's 1-based inclusive corners. */
const corners = ([x, y, w, h]: readonly number[]): [number, number, number, number] => [x + 1, y + 1, x + w, y + h];

async function writeVoc(dir: string): Promise<void> {
  await writeImages(dir);
  for (const [name, objects] of Object.entries(SCENE)) {
    const [w, h] = IMAGES[name as 'a'];
    // b.png's size is left out: read from the image.
    const size: [number, number] | undefined = name === 'b' ? undefined : [w, h];
    write(
      join(dir, `${name}.xml`),
      vocXml(
        `${name}.png`,
        size,
        objects.map((o) => ({ name: o.name, corners: corners(o.box), difficult: o.ignore })),
      ),
    );
  }
}

/** YOLO's `class cx cy w h`, normalised. */
function yoloLine(label: number, [x, y, w, h]: readonly number[], width: number, height: number): string {
  return `${label} ${(x + w / 2) / width} ${(y + h / 2) / height} ${w / width} ${h / height}`;
}

async function writeYolo(dir: string): Promise<void> {
  // train/ and val/ below images/ and labels/; names as an {index: name} map.
  const sub = { a: 'train', b: 'val', c: 'train' };
  for (const [name, [w, h]] of Object.entries(IMAGES)) {
    await png(join(dir, 'images', sub[name as 'a'], `${name}.png`), w, h);
    const lines = SCENE[name as 'a'].map((o) => yoloLine(o.name === 'cat' ? 0 : 1, o.box, w, h));
    // c.png's label file is empty: a negative.
    write(join(dir, 'labels', sub[name as 'a'], `${name}.txt`), lines.map((l) => `${l}\n`).join(''));
  }
  write(join(dir, 'data.yaml'), 'path: .\ntrain: images/train\nval: images/val\nnames:\n  0: cat\n  1: dog\n');
}

describe('detection data: the three formats', () => {
  it('loads COCO, VOC and YOLO descriptions of one scene to the same set', async () => {
    const coco = tempDir();
    await writeCoco(coco);
    const voc = tempDir();
    await writeVoc(voc);
    const yolo = tempDir();
    await writeYolo(yolo);
    for (const [dir, format] of [
      [coco, 'coco'],
      [voc, 'voc'],
      [yolo, 'yolo'],
    ] as const) {
      const { o, skipped } = collector();
      const set = await loadDetectionData(dir, o);
      assert.deepEqual(comparable(set), expected(format, format !== 'yolo'), format);
      assert.deepEqual(skipped, [], `${format}: a clipped box or a negative image is no warning`);
    }
  });

  it('COCO: files relative to the JSON, classes in category id order, the .json path itself as a spec', async () => {
    const dir = tempDir();
    const path = await writeCoco(dir, 'instances_val.json');
    const set = await loadDetectionData(path);
    assert.equal(set.samples[0].file, join(dir, 'img', 'a.png'));
    assert.deepEqual(comparable(set), expected('coco'));
  });

  it('VOC: converts 1-based inclusive corners to [x, y, w, h]', () => {
    assert.deepEqual(vocToBox([1, 1, 10, 20]), [0, 0, 10, 20]);
    assert.deepEqual(vocToBox([48, 240, 195, 371]), [47, 239, 148, 132]);
  });

  it('VOC devkit layout: Annotations/ + JPEGImages/, images by <filename> or by the XML name, classes.txt order', async () => {
    const dir = tempDir();
    await png(join(dir, 'JPEGImages', '000001.png'), 30, 20);
    await png(join(dir, 'JPEGImages', '000002.png'), 10, 10);
    write(
      join(dir, 'Annotations', '000001.xml'),
      vocXml(
        '000001.png',
        [30, 20],
        [
          { name: 'cat', corners: [1, 1, 10, 10] },
          { name: 'dog', corners: [5, 5, 30, 20], difficult: true },
        ],
      ),
    );
    // No <filename>: found as 000002 with an image extension.
    write(join(dir, 'Annotations', '000002.xml'), vocXml(undefined, [10, 10], [{ name: 'dog', corners: [2, 3, 4, 5] }]));
    write(join(dir, 'classes.txt'), 'dog\ncat\n');
    assert.equal(isDetectionData(dir), true);
    const { o, skipped } = collector();
    const set = await loadDetectionData(dir, o);
    assert.deepEqual(skipped, []);
    assert.equal(set.format, 'voc');
    assert.deepEqual(set.classes, ['dog', 'cat']);
    assert.deepEqual(
      set.samples.map((s) => [basename(s.file), s.width, s.height, s.objects]),
      [
        [
          '000001.png',
          30,
          20,
          [
            { label: 1, box: [0, 0, 10, 10], ignore: false },
            { label: 0, box: [4, 4, 26, 16], ignore: true },
          ],
        ],
        ['000002.png', 10, 10, [{ label: 0, box: [1, 2, 3, 3], ignore: false }]],
      ],
    );
  });

  it('YOLO: classes.txt, an image without a label file is a negative, EXIF-rotated sizes swap', async () => {
    const dir = tempDir();
    await png(join(dir, 'images', 'plain.png'), 20, 10);
    // An 8x4 JPEG marked "rotate 90° clockwise" (orientation 6): graft sees it as 4x8.
    mkdirSync(join(dir, 'images'), { recursive: true });
    await sharp({ create: { width: 8, height: 4, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(join(dir, 'images', 'turned.jpg'));
    write(join(dir, 'labels', 'turned.txt'), '1 0.5 0.5 0.5 0.25\n');
    write(join(dir, 'classes.txt'), 'a\nb\n');
    const { o, skipped } = collector();
    const set = await loadDetectionData(dir, o);
    assert.deepEqual(skipped, []);
    assert.deepEqual(set.classes, ['a', 'b']);
    assert.deepEqual(
      set.samples.map((s) => [basename(s.file), s.width, s.height, s.objects]),
      [
        ['plain.png', 20, 10, []],
        ['turned.jpg', 4, 8, [{ label: 1, box: [1, 3, 2, 2], ignore: false }]],
      ],
    );
  });
});

describe('detection data: what is dropped, and strict', () => {
  async function cocoWithProblems(dir: string): Promise<string> {
    await png(join(dir, 'a.png'), 40, 30);
    await png(join(dir, 'b.png'), 20, 20);
    const json = {
      images: [
        { id: 1, file_name: 'a.png', width: 40, height: 30 },
        { id: 2, file_name: 'missing.png', width: 20, height: 20 },
        { id: 3, file_name: 'b.png', width: 20, height: 20 },
      ],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 3, 4], iscrowd: 0 },
        { id: 2, image_id: 1, category_id: 99, bbox: [1, 2, 3, 4], iscrowd: 0 },
        { id: 3, image_id: 1, category_id: 1, bbox: [5, 5, 0.5, 10], iscrowd: 0 },
        { id: 4, image_id: 1, category_id: 1, bbox: [100, 100, 5, 5], iscrowd: 0 },
        { id: 5, image_id: 2, category_id: 1, bbox: [1, 1, 5, 5], iscrowd: 0 },
        { id: 6, image_id: 3, category_id: 1, bbox: [-5, -5, 10, 10], iscrowd: 1 },
      ],
      categories: [{ id: 1, name: 'thing' }],
    };
    const path = join(dir, 'annotations.json');
    write(path, JSON.stringify(json));
    return path;
  }

  it('COCO: warns about an unknown category, degenerate boxes and a missing image, and keeps the rest', async () => {
    const dir = tempDir();
    const path = await cocoWithProblems(dir);
    const { o, skipped } = collector();
    const set = await loadDetectionData(dir, o);
    assert.deepEqual(
      set.samples.map((s) => [basename(s.file), s.objects]),
      [
        ['a.png', [{ label: 0, box: [1, 2, 3, 4], ignore: false }]],
        ['b.png', [{ label: 0, box: [0, 0, 5, 5], ignore: true }]],
      ],
    );
    assert.equal(skipped.length, 4);
    assert.ok(skipped.every((s) => s.path === path));
    const reasons = skipped.map((s) => s.reason);
    assert.match(reasons[0], /a\.png: annotation 2 dropped: unknown category id 99/);
    assert.match(reasons[1], /a\.png: annotation 3 dropped: box \[5, 5, 0\.5, 10\] is degenerate/);
    assert.match(reasons[2], /a\.png: annotation 4 dropped: box \[100, 100, 5, 5\] is degenerate/);
    assert.match(reasons[3], /image missing\.png \(id 2\) dropped: file not found/);
  });

  it('strict: the first problem fails the load (exit 1) instead of a warning', async () => {
    const dir = tempDir();
    await cocoWithProblems(dir);
    const { o, skipped } = collector({ strict: true });
    await assert.rejects(
      loadDetectionData(dir, o),
      (err: unknown) => err instanceof GraftError && err.exitCode === 1 && /unknown category id 99.*strict/.test(err.message),
    );
    assert.deepEqual(skipped, []);
  });

  it('VOC: unknown class (classes.txt), a box with xmax < xmin, a box that is not a number, a missing image', async () => {
    const dir = tempDir();
    await png(join(dir, 'a.png'), 40, 30);
    write(join(dir, 'classes.txt'), 'cat\n');
    write(
      join(dir, 'a.xml'),
      vocXml(
        'a.png',
        [40, 30],
        [
          { name: 'cat', corners: [1, 1, 50, 50] },
          { name: 'horse', corners: [1, 1, 5, 5] },
          { name: 'cat', corners: [10, 10, 5, 20] },
          { name: 'cat' },
        ],
      ),
    );
    write(join(dir, 'gone.xml'), vocXml('gone.png', [10, 10], [{ name: 'cat', corners: [1, 1, 5, 5] }]));
    const { o, skipped } = collector();
    const set = await loadDetectionData(dir, o);
    assert.deepEqual(
      set.samples.map((s) => [basename(s.file), s.objects]),
      [['a.png', [{ label: 0, box: [0, 0, 40, 30], ignore: false }]]],
    );
    assert.deepEqual(
      skipped.map((s) => basename(s.path)),
      ['a.xml', 'a.xml', 'a.xml', 'gone.xml'],
    );
    assert.match(skipped[0].reason, /object 2 \(horse\) dropped: unknown category "horse"/);
    assert.match(skipped[1].reason, /object 3 \(cat\) dropped: .*degenerate/);
    assert.match(skipped[2].reason, /object 4 \(cat\) dropped: .*not a number/);
    assert.match(skipped[3].reason, /image gone\.png dropped: file not found/);
  });

  it('YOLO: a class index out of range, a zero-width box, a malformed line, a label file without its image', async () => {
    const dir = tempDir();
    await png(join(dir, 'images', 'a.png'), 40, 20);
    write(join(dir, 'labels', 'a.txt'), '0 0.5 0.5 0.5 0.5\n3 0.5 0.5 0.1 0.1\n0 0.5 0.5 0 0.5\n0 0.5 0.5\n\n');
    write(join(dir, 'labels', 'b.txt'), '0 0.5 0.5 0.1 0.1\n');
    write(join(dir, 'data.yaml'), 'names: [thing]\n');
    const { o, skipped } = collector();
    const set = await loadDetectionData(dir, o);
    assert.deepEqual(
      set.samples.map((s) => [basename(s.file), s.objects]),
      [['a.png', [{ label: 0, box: [10, 5, 20, 10], ignore: false }]]],
    );
    assert.deepEqual(
      skipped.map((s) => basename(s.path)),
      ['b.txt', 'a.txt', 'a.txt', 'a.txt'],
    );
    assert.match(skipped[0].reason, /image images\/b\.\* dropped: file not found/);
    assert.match(skipped[1].reason, /images\/a\.png: line 2 dropped: unknown category "3" \(classes are 0\.\.0\)/);
    assert.match(skipped[2].reason, /line 3 dropped: .*degenerate/);
    assert.match(skipped[3].reason, /line 4 dropped: expected "class cx cy w h", got "0 0\.5 0\.5"/);
  });

  it('a malformed COCO file is a usage error naming the file and the field', async () => {
    const dir = tempDir();
    const path = join(dir, 'bad.json');
    write(
      path,
      JSON.stringify({ images: [], annotations: [{ image_id: 1, category_id: 1, bbox: [1, 2, 3] }], categories: [{ id: 1, name: 'a' }] }),
    );
    await assert.rejects(loadDetectionData(path), (err: unknown) => {
      assert.ok(err instanceof GraftError);
      assert.equal(err.exitCode, 2);
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, /annotations\.0\.bbox/);
      return true;
    });
    write(path, '{"images": [');
    await assert.rejects(loadDetectionData(path), /bad\.json is not valid JSON/);
  });
});

describe('detection data: which format', () => {
  it('tells the format from the path, and a folder of class folders is not detection data', async () => {
    const coco = tempDir();
    const cocoJson = await writeCoco(coco);
    const voc = tempDir();
    await writeVoc(voc);
    const yolo = tempDir();
    await writeYolo(yolo);
    const classes = tempDir();
    await png(join(classes, 'cat', '1.png'), 8, 8);
    await png(join(classes, 'dog', '2.png'), 8, 8);
    for (const spec of [coco, cocoJson, voc, yolo]) assert.equal(isDetectionData(spec), true, spec);
    for (const spec of [classes, join(classes, 'cat'), join(classes, 'nope'), 'mnist']) assert.equal(isDetectionData(spec), false, spec);
    assert.equal((await loadDetectionData(cocoJson)).format, 'coco');
    assert.equal((await loadDetectionData(voc)).format, 'voc');
    assert.equal((await loadDetectionData(yolo)).format, 'yolo');
    await assert.rejects(loadDetectionData(classes), (err: unknown) => {
      assert.ok(err instanceof GraftError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /COCO.*YOLO.*Pascal VOC/);
      return true;
    });
    await assert.rejects(loadDetectionData(join(classes, 'nope')), /not found/);
  });
});

describe('detection data: splits', () => {
  const set: DetectionSet = {
    format: 'coco',
    classes: ['x'],
    samples: Array.from({ length: 20 }, (_, i) => ({ file: `${i}.png`, width: 10, height: 10, objects: [] })),
  };
  const files = (s: DetectionSet) => s.samples.map((x) => x.file);

  it('holds out 15% + 15% by default, disjoint and covering every image, the same for a seed', () => {
    const a = splitDetection(set, { seed: 3 });
    assert.deepEqual(
      [a.train, a.val, a.test].map((s) => s.samples.length),
      [14, 3, 3],
    );
    const all = [...files(a.train), ...files(a.val), ...files(a.test)];
    assert.deepEqual([...all].sort(), [...files(set)].sort());
    assert.deepEqual(splitDetection(set, { seed: 3 }), a);
    const b = splitDetection(set, { seed: 4 });
    assert.notDeepEqual(files(b.train), files(a.train));
    assert.deepEqual(a.train.classes, ['x']);
    assert.equal(a.val.format, 'coco');
  });

  it('fractions and counts; counts beyond the images are a usage error', () => {
    const f = splitDetection(set, { seed: 1, valFraction: 0.25, testFraction: 0.1 });
    assert.deepEqual(
      [f.train, f.val, f.test].map((s) => s.samples.length),
      [13, 5, 2],
    );
    const c = splitDetection(set, { seed: 1, counts: { val: 2, test: 4, train: 5 } });
    assert.deepEqual(
      [c.train, c.val, c.test].map((s) => s.samples.length),
      [5, 2, 4],
    );
    // Validation and test do not depend on the number of training images.
    const rest = splitDetection(set, { seed: 1, counts: { val: 2, test: 4 } });
    assert.equal(rest.train.samples.length, 14);
    assert.deepEqual(files(rest.val), files(c.val));
    assert.deepEqual(files(rest.test), files(c.test));
    assert.throws(
      () => splitDetection(set, { seed: 1, counts: { val: 10, test: 5, train: 6 } }),
      (err: unknown) => err instanceof GraftError && err.exitCode === 2 && /only 20 images/.test(err.message),
    );
    assert.throws(() => splitDetection(set, { seed: 1, valFraction: 0.6, testFraction: 0.4 }), /leave nothing to train on/);
  });

  it('firstImages: smaller training sets are nested in larger ones for a seed', () => {
    const { train } = splitDetection(set, { seed: 9 });
    const small = files(firstImages(train, 4));
    const large = files(firstImages(splitDetection(set, { seed: 9 }).train, 10));
    assert.equal(small.length, 4);
    assert.equal(large.length, 10);
    assert.deepEqual(large.slice(0, 4), small);
    // A random subset, not the first files of the set.
    assert.notDeepEqual(small, files(set).slice(0, 4));
    assert.equal(firstImages(train, 100).samples.length, train.samples.length);
    assert.throws(() => firstImages(train, 0), /positive integer/);
  });
});

// The real data set of `graft experiment pennfudan`, when the project's shared data is beside the checkout.
const PENNFUDAN = join(root, '..', 'shared', 'data', 'pennfudan', 'annotations.json');
test(
  'Penn-Fudan (shared data): 170 images, 423 pedestrians, every box inside its image',
  { skip: existsSync(PENNFUDAN) ? false : `${PENNFUDAN} absent: the shared data set is not beside this checkout` },
  async () => {
    const set = await loadDetectionData(PENNFUDAN, { strict: true });
    assert.equal(set.format, 'coco');
    assert.deepEqual(set.classes, ['pedestrian']);
    assert.equal(set.samples.length, 170);
    assert.equal(
      set.samples.reduce((n, s) => n + s.objects.length, 0),
      423,
    );
    for (const s of set.samples)
      for (const o of s.objects)
        assert.ok(o.box[0] >= 0 && o.box[1] >= 0 && o.box[0] + o.box[2] <= s.width && o.box[1] + o.box[3] <= s.height);
    const split = splitDetection(set, { seed: 1, counts: { val: 20, test: 30 } });
    assert.deepEqual([split.train.samples.length, split.val.samples.length, split.test.samples.length], [120, 20, 30]);
  },
);

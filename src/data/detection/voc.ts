// Pascal VOC XML, as labelImg writes it and as the VOC devkit lays it out: one <annotation> per
// image with <filename>, <size> and an <object> (<name>, <difficult>, <bndbox>) per box. The XML
// files sit beside their images in one folder, or in Annotations/ with the images in JPEGImages/.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { usageError } from '../../core/errors.js';
import { isImagePath } from '../images.js';
import {
  byCodePoint,
  checkClassNames,
  firstFile,
  imageCandidates,
  imageSize,
  makeSample,
  Problems,
  type RawObject,
  Reading,
  readClassList,
  stemOf,
} from './clean.js';
import type { Box, DetectionLoadOptions, DetectionSample, DetectionSet } from './types.js';

/** The devkit's folders: annotations, and the images they describe. */
export const VOC_ANNOTATIONS = 'Annotations';
export const VOC_IMAGES = 'JPEGImages';

const isDirectory = async (path: string) => (await stat(path).catch(() => undefined))?.isDirectory() ?? false;

/** Values as text (the parser is told not to turn them into numbers: a class may be called "007"). */
const parser = new XMLParser({ parseTagValue: false, ignoreAttributes: true, trimValues: true });

interface VocObject {
  name: string;
  difficult: boolean;
  /** xmin, ymin, xmax, ymax as written (NaN when missing or not a number). */
  corners: [number, number, number, number];
}

interface VocFile {
  xml: string;
  filename: string;
  /** From <size>; undefined when missing or zero (some tools write 0), then read from the image. */
  size?: { width: number; height: number };
  objects: VocObject[];
}

const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const num = (v: unknown): number => {
  const t = text(v).trim();
  return t === '' ? NaN : Number(t);
};
const list = (v: unknown): unknown[] => (v === undefined || v === '' ? [] : Array.isArray(v) ? v : [v]);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

async function readVoc(xml: string): Promise<VocFile> {
  const source = (await readFile(xml, 'utf8')).replace(/^\uFEFF/, '');
  const valid = XMLValidator.validate(source);
  if (valid !== true) throw usageError(`${xml} is not valid XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = record(parser.parse(source));
  if (!('annotation' in doc)) throw usageError(`${xml} is not a Pascal VOC annotation: no <annotation> element`);
  const ann = record(doc.annotation);
  const size = record(ann.size);
  const width = num(size.width);
  const height = num(size.height);
  const objects = list(ann.object).map((raw): VocObject => {
    const ob = record(raw);
    const b = record(ob.bndbox);
    return {
      name: text(ob.name).trim(),
      difficult: num(ob.difficult) === 1,
      corners: [num(b.xmin), num(b.ymin), num(b.xmax), num(b.ymax)],
    };
  });
  return {
    xml,
    filename: text(ann.filename).trim(),
    size: width > 0 && height > 0 ? { width, height } : undefined,
    objects,
  };
}

/**
 * VOC's corners are 1-based pixel indices, both ends inclusive: a box covering pixels 1..10 has
 * xmin=1, xmax=10 and is 10 px wide. COCO's [x, y, w, h] is 0-based and continuous, so, as
 * torchvision's and pycocotools' VOC-to-COCO converters do, x = xmin - 1 and w = xmax - xmin + 1
 * (and the same for y, h): the box then covers exactly the pixels VOC named.
 */
export function vocToBox([xmin, ymin, xmax, ymax]: readonly [number, number, number, number]): Box {
  return [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1];
}

/** The image an annotation describes: its <filename> beside it (or in JPEGImages/), else the XML's own name with an image extension. */
async function findImage(file: VocFile, xmlDir: string, imageDir: string | undefined): Promise<string | undefined> {
  const dirs = imageDir ? [xmlDir, imageDir] : [xmlDir];
  const candidates: string[] = [];
  if (file.filename) {
    for (const d of dirs) candidates.push(join(d, file.filename));
    // Some tools write the name without its extension.
    if (!isImagePath(file.filename)) for (const d of dirs) candidates.push(...imageCandidates(d, file.filename));
  }
  for (const d of dirs) candidates.push(...imageCandidates(d, stemOf(file.xml)));
  return firstFile(candidates);
}

/** A folder of VOC XML files (beside their images, or the devkit's Annotations/ + JPEGImages/) as a DetectionSet. */
export async function loadVoc(dir: string, o: DetectionLoadOptions = {}): Promise<DetectionSet> {
  const devkit = await isDirectory(join(dir, VOC_ANNOTATIONS));
  const xmlDir = devkit ? join(dir, VOC_ANNOTATIONS) : dir;
  const imageDir = devkit && (await isDirectory(join(dir, VOC_IMAGES))) ? join(dir, VOC_IMAGES) : undefined;
  const names = (await readdir(xmlDir))
    .filter((f) => !f.startsWith('.') && extname(f).toLowerCase() === '.xml')
    .sort(byCodePoint)
    .map((f) => join(xmlDir, f));
  if (names.length === 0) throw usageError(`${xmlDir}: no Pascal VOC .xml annotation files`);
  const files: VocFile[] = [];
  for (const xml of names) files.push(await readVoc(xml));

  // The class order: a classes.txt's (labelImg writes one), else every name found, sorted.
  const classFile = await firstFile([join(dir, 'classes.txt'), join(xmlDir, 'classes.txt')]);
  const classes = classFile
    ? await readClassList(classFile)
    : [...new Set(files.flatMap((f) => f.objects.map((ob) => ob.name)))].filter((n) => n !== '').sort(byCodePoint);
  checkClassNames(classes, classFile ?? dir);
  const labelOf = new Map(classes.map((c, i) => [c, i]));

  const problems = new Problems(o);
  const samples: DetectionSample[] = [];
  const reading = new Reading(files.length, o);
  for (const f of files) {
    const imageName = f.filename || `${stemOf(f.xml)}.*`;
    const image = await findImage(f, xmlDir, imageDir);
    if (!image) {
      problems.skip(f.xml, `image ${imageName} dropped: file not found beside the annotation${imageDir ? ` or in ${VOC_IMAGES}/` : ''}`);
    } else {
      const size = f.size ?? (await imageSize(image));
      if (typeof size === 'string') {
        problems.skip(f.xml, `image ${imageName} dropped: ${size}`);
      } else {
        const objects = f.objects.map((ob, i): RawObject => ({
          label: labelOf.get(ob.name),
          category: JSON.stringify(ob.name),
          box: vocToBox(ob.corners),
          ignore: ob.difficult,
          what: `object ${i + 1}${ob.name ? ` (${ob.name})` : ''}`,
        }));
        samples.push(makeSample(image, size.width, size.height, objects, f.xml, imageName, problems));
      }
    }
    reading.tick();
  }
  return { format: 'voc', classes, samples };
}

// COCO detection JSON (instances_*.json, and what CVAT, Label Studio and Roboflow export as COCO):
// `images` (id, file_name relative to the JSON's folder, width, height), `annotations` (image_id,
// category_id, bbox [x, y, w, h] in pixels, iscrowd) and `categories` (id, name).
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { usageError } from '../../core/errors.js';
import { byCodePoint, checkClassNames, isFile, makeSample, Problems, Reading, type RawObject } from './clean.js';
import type { Box, DetectionLoadOptions, DetectionSample, DetectionSet } from './types.js';

// Ids are integers in COCO itself; some exporters write strings, which identify as well.
const id = z.union([z.number(), z.string()]);

// Loose objects: COCO files carry much more (segmentation, area, licenses, info, supercategory).
const cocoSchema = z.looseObject({
  images: z.array(
    z.looseObject({
      id,
      file_name: z.string().min(1),
      width: z.number().positive(),
      height: z.number().positive(),
    }),
  ),
  annotations: z.array(
    z.looseObject({
      id: id.optional(),
      image_id: id,
      category_id: id,
      bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]),
      iscrowd: z.union([z.number(), z.boolean()]).optional(),
    }),
  ),
  categories: z.array(z.looseObject({ id, name: z.string().min(1) })).min(1),
});

type CocoJson = z.infer<typeof cocoSchema>;

/** The file parsed and its shape checked; anything malformed is a usage error naming the file and the field. */
async function readCoco(path: string): Promise<CocoJson> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read COCO file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw usageError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = cocoSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw usageError(`${path} is not COCO detection JSON: ${where}${issue.message}`);
  }
  return parsed.data;
}

// 1 and 2 are different ids, and so are 1 and "1" in a file that mixes them.
const key = (v: number | string) => `${typeof v}:${v}`;

/** A COCO JSON file as a DetectionSet: classes in category id order, iscrowd objects ignored. */
export async function loadCoco(path: string, o: DetectionLoadOptions = {}): Promise<DetectionSet> {
  const coco = await readCoco(path);
  const problems = new Problems(o);

  const categories = [...coco.categories].sort((a, b) =>
    typeof a.id === 'number' && typeof b.id === 'number' ? a.id - b.id : byCodePoint(String(a.id), String(b.id)),
  );
  const labelOf = new Map<string, number>();
  categories.forEach((c, i) => {
    if (labelOf.has(key(c.id))) throw usageError(`${path}: category id ${c.id} is used twice`);
    labelOf.set(key(c.id), i);
  });
  const classes = categories.map((c) => c.name);
  checkClassNames(classes, path);

  const objectsOf = new Map<string, RawObject[]>();
  for (const im of coco.images) {
    if (objectsOf.has(key(im.id))) throw usageError(`${path}: image id ${im.id} is used twice`);
    objectsOf.set(key(im.id), []);
  }
  coco.annotations.forEach((a, i) => {
    const what = `annotation ${a.id ?? `#${i}`}`;
    const objects = objectsOf.get(key(a.image_id));
    if (!objects) {
      problems.skip(path, `${what} dropped: no image with id ${a.image_id}`);
      return;
    }
    objects.push({
      label: labelOf.get(key(a.category_id)),
      category: `id ${a.category_id}`,
      box: [...a.bbox] as Box,
      ignore: a.iscrowd === 1 || a.iscrowd === true,
      what,
    });
  });

  const root = dirname(path);
  const samples: DetectionSample[] = [];
  const reading = new Reading(coco.images.length, o);
  for (const im of coco.images) {
    const file = resolve(root, im.file_name);
    if (!(await isFile(file))) {
      problems.skip(path, `image ${im.file_name} (id ${im.id}) dropped: file not found (${file})`);
    } else {
      samples.push(makeSample(file, im.width, im.height, objectsOf.get(key(im.id))!, path, im.file_name, problems));
    }
    reading.tick();
  }
  return { format: 'coco', classes, samples };
}

// A detection project's boxes as the studio keeps them: one COCO JSON file (annotations.json)
// beside the images/ folder, so `graft train --head detect --data PROJECT/annotations.json`
// reads the project as it is. Pure functions from the images and their boxes to that file and
// back; the workspace does the reading and writing.
import { StudioError } from './errors.js';

/** [x, y, width, height] in pixels of the image, as COCO's bbox. */
export type BoxXywh = [number, number, number, number];

export interface LabelledBox {
  label: string;
  box: BoxXywh;
}

export interface AnnotatedImage {
  /** The file's name in images/. */
  file: string;
  width: number;
  height: number;
  boxes: LabelledBox[];
}

export const IMAGES = 'images';
export const ANNOTATIONS = 'annotations.json';

interface CocoDocument {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: 0 }[];
  categories: { id: number; name: string }[];
}

/** The COCO document of `images` with `classes` as its categories (ids from 1, in the project's order). */
export function toCoco(images: readonly AnnotatedImage[], classes: readonly string[]): CocoDocument {
  let next = 1;
  return {
    images: images.map((im, i) => ({ id: i + 1, file_name: `${IMAGES}/${im.file}`, width: im.width, height: im.height })),
    annotations: images.flatMap((im, i) =>
      im.boxes.map((b) => ({
        id: next++,
        image_id: i + 1,
        category_id: classes.indexOf(b.label) + 1,
        bbox: [...b.box],
        area: b.box[2] * b.box[3],
        iscrowd: 0 as const,
      })),
    ),
    categories: classes.map((name, i) => ({ id: i + 1, name })),
  };
}

/** The images and boxes of a COCO document the studio wrote. */
export function fromCoco(doc: CocoDocument): AnnotatedImage[] {
  const names = new Map(doc.categories.map((c) => [c.id, c.name]));
  const byImage = new Map<number, LabelledBox[]>(doc.images.map((im) => [im.id, []]));
  for (const a of doc.annotations)
    byImage.get(a.image_id)?.push({ label: names.get(a.category_id) ?? '', box: a.bbox.slice(0, 4) as BoxXywh });
  return doc.images.map((im) => ({
    file: im.file_name.slice(IMAGES.length + 1),
    width: im.width,
    height: im.height,
    boxes: byImage.get(im.id) ?? [],
  }));
}

/**
 * Boxes sent for an image: a list of {label, box: [x, y, w, h]}, each label one of `classes`, each
 * box of finite numbers at least one pixel wide and tall, clipped to the image (a box drawn past
 * its edge is what the person meant up to the edge), at most 500.
 */
export function checkBoxes(given: unknown, classes: readonly string[], image: { width: number; height: number }): LabelledBox[] {
  if (!Array.isArray(given) || given.length > 500)
    throw new StudioError(400, 'send {"boxes": [{"label": "…", "box": [x, y, w, h]}, …]} (at most 500)');
  return given.map((b: unknown, i) => {
    const { label, box } = (b ?? {}) as { label?: unknown; box?: unknown };
    if (typeof label !== 'string' || !classes.includes(label))
      throw new StudioError(400, `box ${i + 1}: label ${JSON.stringify(label)} is not one of the project's classes`);
    if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new StudioError(400, `box ${i + 1}: expected [x, y, w, h], four finite numbers`);
    const [x0, y0] = [Math.max(0, box[0]), Math.max(0, box[1])];
    const [x1, y1] = [Math.min(image.width, box[0] + box[2]), Math.min(image.height, box[1] + box[3])];
    if (x1 - x0 < 1 || y1 - y0 < 1) throw new StudioError(400, `box ${i + 1}: less than a pixel inside the image`);
    const r = (v: number) => Math.round(v * 100) / 100;
    return { label, box: [r(x0), r(y0), r(x1 - x0), r(y1 - y0)] };
  });
}

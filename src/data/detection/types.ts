// The shapes detection data takes inside graft, whatever format it came in (COCO JSON, Pascal VOC
// XML, YOLO text files): images on disk, each with its boxes in pixels of the original image.
import type { Callback } from '../../core/callbacks.js';

/** A box as COCO writes it: left, top, width, height, in pixels. */
export type Box = [x: number, y: number, w: number, h: number];

/** One annotated object. */
export interface GroundTruth {
  /** Index into the set's `classes`. */
  label: number;
  box: Box;
  /** Counted neither as found nor as missed in evaluation (COCO `iscrowd`, VOC `difficult`); never a training target. */
  ignore: boolean;
}

/** One image and what is in it; an image without objects is a valid negative. */
export interface DetectionSample {
  /** The image file's path. */
  file: string;
  width: number;
  height: number;
  objects: GroundTruth[];
}

export type DetectionFormat = 'coco' | 'voc' | 'yolo';

export interface DetectionSet {
  format: DetectionFormat;
  /** Class names; a label is an index into this list. */
  classes: string[];
  samples: DetectionSample[];
}

export interface DetectionSplits {
  train: DetectionSet;
  val: DetectionSet;
  test: DetectionSet;
}

export interface DetectionLoadOptions {
  /** Problems (missing images, degenerate boxes, unknown categories) fail the run instead of being warnings. */
  strict?: boolean;
  /** onSkip for each problem (the file and what was wrong), onProgress while reading. */
  callbacks?: readonly Callback[];
}

// The shape text data takes inside graft: strings with class indices, like ImageSet for images.

/** A labelled set of texts. */
export interface TextSet {
  classes: string[];
  texts: string[];
  /** Class index per text, into `classes` (-1: unlabelled). */
  labels: Int32Array;
  /** Where each text came from (`file:row`, or a corpus file name). */
  ids: string[];
  /** A built-in corpus's sub-collection per text (spam-assassin: easy-ham-1, spam-2, …), kept for domain shift. */
  groups?: string[];
}

export type { TextWarning } from '../../core/callbacks.js';

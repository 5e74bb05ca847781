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

/**
 * Something the reader changed or dropped, gathered by the CLI into one warning per kind.
 * 'empty': no text (skipped); 'no-label': a labelled table's row without a label (skipped);
 * 'invalid-utf8': bytes replaced by U+FFFD; 'duplicate': same text as an earlier one (skipped).
 */
export interface TextWarning {
  kind: 'empty' | 'no-label' | 'invalid-utf8' | 'truncated' | 'duplicate';
  id: string;
}

// Images labelled for several tasks at once (multi-task learning): one set of pixels, one label
// array per task. A sample may be labelled for some tasks only: its missing labels are -1
// (classification) or NaN (multi-label and regression targets), and it trains only those heads.
import type { ImageSize } from '../types.js';

export type TaskKind = 'classification' | 'multi-label' | 'regression';

/** One task's labels over the set's samples. */
export type TaskLabels =
  /** One class per sample: index into `classes`, -1 when the sample has no label for this task. */
  | { kind: 'classification'; classes: string[]; labels: Int32Array }
  /** Any number of classes per sample: row-major n x classes of 0/1, a row of NaN when unlabelled. */
  | { kind: 'multi-label'; classes: string[]; targets: Float32Array }
  /** `outputs` numbers per sample: row-major n x outputs, a row of NaN when unlabelled. */
  | { kind: 'regression'; outputs: number; targets: Float32Array };

export interface MultiTaskSet {
  size: ImageSize;
  /** n images, row-major HWC uint8, as ImageSet. */
  pixels: Uint8Array;
  ids: string[];
  /** Task name → its labels, every task over the same n samples. */
  tasks: Record<string, TaskLabels>;
}

/** One task of a multi-task model: its name (the model's output), kind and labels. */
export interface TaskSpec {
  name: string;
  kind: TaskKind;
  /** Classification and multi-label: the class names. */
  classes?: string[];
  /** Regression: numbers per sample (default 1). */
  outputs?: number;
  /** Where a manifest holds its labels (default: the task's name). */
  column?: string;
}

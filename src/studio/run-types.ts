// The words a studio training run speaks, shared by the server, the run and its worker thread:
// what a run is asked for, the events it streams, the report it leaves.
import type { BackendName } from '../backend/index.js';
import type { Metrics } from '../evaluate/metrics.js';

export interface TrainSettings {
  base: string;
  epochs?: number;
  learningRate?: number;
  /** Training samples per class (the rest still validate and test). */
  perClass?: number;
  /** Blocks below the cut to fine-tune (0: the head only). */
  unfreeze?: number;
}

export type TrainEvent =
  | { type: 'start'; settings: TrainSettings }
  | { type: 'step'; message: string }
  | { type: 'epoch'; stage: string; epoch: number; epochs: number; loss: number; metrics: Record<string, number> }
  | { type: 'done'; report: TrainReport }
  | { type: 'failed'; message: string }
  | { type: 'cancelled' };

/** The events that end a run: nothing follows them. */
export const isFinal = (e: TrainEvent): boolean => e.type === 'done' || e.type === 'failed' || e.type === 'cancelled';

export interface Mistake {
  /** The sample (image: `class/file`; text: its id). */
  sample: string;
  truth: string;
  predicted: string;
  probability: number;
}

/** What a studio run leaves: a classifier's report, or a detector's. */
export type TrainReport = ClassificationReport | DetectionReport;

export interface ClassificationReport {
  /** Absent in reports written before detection projects. */
  kind?: 'classification';
  base: string;
  classes: string[];
  counts: { train: number; val: number; test: number };
  val: Metrics;
  test: Metrics;
  /** Validation samples the model gets wrong, what it said instead. */
  mistakes: Mistake[];
  /** Set when graft's check finds the base's features barely beat raw pixels. */
  negativeTransfer?: string;
  seconds: number;
}

export interface DetectionReport {
  kind: 'detection';
  base: string;
  classes: string[];
  counts: { train: number; val: number; test: number };
  val: { ap: number; ap50: number; ap75: number };
  test: { ap: number; ap50: number; ap75: number };
  /** The validation images drawn with their boxes and the detector's, in the model's drawn/ folder. */
  drawn: string[];
  /** The score a found box needed to be drawn. */
  drawnThreshold: number;
  seconds: number;
}

export const REPORT_FILE = 'report.json';
/** Where a detection run draws its validation images, inside the model's folder. */
export const DRAWN_DIR = 'drawn';

/** What the server hands the training worker. */
export interface TrainWorkerData {
  dir: string;
  id: string;
  settings: TrainSettings;
  /** One Int32: 1 once Cancel was pressed. */
  cancel: SharedArrayBuffer;
  backend: BackendName;
  wasmThreads: number;
  onnxThreads: number;
}

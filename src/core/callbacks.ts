// The callback protocol: how long work (loading, extracting features, training in stages) tells
// its caller what it is doing, in the manner of Keras callbacks. Every hook is optional, one
// object may implement several, and a call takes a list of them (`callbacks: [progress, …]`).
// The fit loop (src/train/loop.ts) calls the epoch and batch hooks; early stopping is itself a
// callback there. Types only: every layer may use them.
import type * as tf from '@tensorflow/tfjs';

export type Awaitable = void | Promise<void>;

/** A file that could not be used, and why. */
export interface Skipped {
  path: string;
  reason: string;
}

/**
 * Something a text reader or encoder changed or dropped, gathered by the CLI into one warning
 * per kind. 'empty': no text (skipped); 'no-label': a labelled table's row without a label
 * (skipped); 'invalid-utf8': bytes replaced by U+FFFD; 'duplicate': the same text as an earlier
 * one (skipped); 'truncated': cut to the base's token limit.
 */
export interface TextWarning {
  kind: 'empty' | 'no-label' | 'invalid-utf8' | 'truncated' | 'duplicate';
  id: string;
}

/** One epoch as the fit loop reports it. */
export interface EpochLogs {
  /** Which stage or run this epoch belongs to ('head', 'fine-tune', 'scratch', 'coral', …). */
  stage: string;
  /** 1-based. */
  epoch: number;
  /** The stage's maximum. */
  epochs: number;
  /** Mean training loss over the epoch's batches, weighted by their sizes. */
  loss: number;
  /** Everything else measured this epoch, by name: accuracy, valLoss, valAccuracy, `valLoss:<task>`, … */
  metrics: Record<string, number>;
  seconds: number;
}

/** One batch's numbers: its loss and anything else its step measured. */
export interface BatchLogs {
  size: number;
  loss: number;
  [metric: string]: number;
}

export interface Callback {
  /** A fit loop starts on `model` (hooks that restore or stop training keep it). */
  onTrainBegin?(model: tf.LayersModel, stage: string): Awaitable;
  onTrainEnd?(model: tf.LayersModel, stage: string): Awaitable;
  onEpochBegin?(epoch: number, stage: string): Awaitable;
  onEpochEnd?(logs: EpochLogs): Awaitable;
  onBatchBegin?(batch: number, stage: string): Awaitable;
  onBatchEnd?(batch: number, logs: BatchLogs): Awaitable;
  /** A training stage of a staged run starts ('head', 'fine-tune', 'scratch'). */
  onStageBegin?(stage: string): Awaitable;
  /** A stage ended, the model as it left it (e.g. to evaluate the heads alone before fine-tuning). */
  onStageEnd?(stage: string): Awaitable;
  /** Counted work outside the epochs: `what` is e.g. 'decoding images', 'head: frozen features', 'use-lite: embedding'. */
  onProgress?(what: string, done: number, total: number): void;
  /** A long run's current step, in words (an experiment's runs, adaptation's feature passes). */
  onStep?(what: string): void;
  onSkip?(skipped: Skipped): void;
  onTextWarning?(warning: TextWarning): void;
}

/** Every callback's hook `name` called in turn (awaited), with the same arguments. */
export async function notify<K extends keyof Callback>(
  callbacks: readonly Callback[] | undefined,
  name: K,
  ...args: Parameters<NonNullable<Callback[K]>>
): Promise<void> {
  for (const c of callbacks ?? []) {
    const hook = c[name] as ((...a: unknown[]) => Awaitable) | undefined;
    if (hook) await hook.apply(c, args);
  }
}

/** The same, for the hooks that return nothing to wait for (progress, steps, warnings): callable from synchronous code. */
export function tell<K extends 'onProgress' | 'onStep' | 'onSkip' | 'onTextWarning'>(
  callbacks: readonly Callback[] | undefined,
  name: K,
  ...args: Parameters<NonNullable<Callback[K]>>
): void {
  for (const c of callbacks ?? []) (c[name] as ((...a: unknown[]) => void) | undefined)?.apply(c, args);
}

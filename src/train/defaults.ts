// The training budget every staged run starts from (images, texts, multi-task), as the CLI's
// defaults show it. One place, so the stages of every kind of model agree.

export const TRAIN_DEFAULTS = {
  /** Maximum epochs per stage. */
  epochs: 10,
  batchSize: 32,
  /** Adam's learning rate in the first stage (the head, or the heads). */
  learningRate: 1e-3,
  /** Epochs without a better validation loss before a stage stops. */
  patience: 3,
  /** Blocks below the cut fine-tuned in the second stage (0: the head only). */
  unfreeze: 1,
  /**
   * The second stage's learning rate as a fraction of the first's: pre-trained weights move
   * gently (Keras's transfer-learning guide fine-tunes at a rate 10-100x lower).
   */
  fineTuneFactor: 0.1,
  /** How a linear head starts: solved as the cross-validated linear probe ('probe') or from random weights. */
  headInit: 'probe',
} as const;

/** The budget options every staged trainer takes. */
export interface TrainBudget {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  /** The fine-tuning stage's learning rate as a fraction of `learningRate` (default 0.1). */
  fineTuneFactor?: number;
  seed?: number;
}

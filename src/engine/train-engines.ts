// The names of the training engines, apart from the engine itself (onnx-train.ts): the CLI's
// options list them on every start without loading ONNX Runtime's step generator.

/** Where a stage's trainable part trains: ONNX Runtime where the step generator covers it (auto), or TF.js. */
export type TrainEngine = 'auto' | 'onnx' | 'tfjs';
/** Every TrainEngine, for the CLI's choices. */
export const TRAIN_ENGINES = ['auto', 'onnx', 'tfjs'] as const satisfies readonly TrainEngine[];

/** The engine a stage trained on, and why not ONNX Runtime when it did not. */
export type TrainEngineUsed = { engine: 'onnx' } | { engine: 'tfjs'; reason: string };

// graft's library API, from the one-call path down to the pieces it is built from.
export { useBackend, BACKENDS, type BackendName } from './backend/index.js';
export { GraftError } from './errors.js';

export { loadBase, layersBase, EMBEDDED_BASES } from './bases/index.js';
export { describeBase, type BaseDescription, type LayerRow } from './bases/describe.js';
export { buildDigitsCnn, loadDigitsCnn, pretrainDigitsCnn } from './bases/digits-cnn.js';
export type { Base, Block, FrozenTrunk, HeadSpec, Normalize } from './bases/types.js';
export { loadOnnxBase, type OnnxBaseOptions, type OnnxPreprocessing } from './bases/onnx.js';
export { createOnnxRunner, onnxTrunk, onnxRuntimeAvailable, type Layout } from './backend/onnx-runtime.js';

export * from './data/index.js';

export {
  graft,
  trainAbove,
  unfreezeBoundary,
  pipeline,
  asPredictor,
  disposeGrafted,
  type Grafted,
  type GraftOptions,
  type Predictor,
} from './graft/graft.js';
export { resolveCut, cutCandidates, type CutSpec } from './graft/cut.js';
export { modelAbove, modelBelow } from './graft/split.js';
export { applyHead, parseHead } from './graft/head.js';

export { trainClassifier, type ClassifierOptions, type ClassifierResult } from './train/classifier.js';
export { trainGrafted, TRAIN_DEFAULTS, type TrainOptions, type TrainResult } from './train/train.js';
export { fitStage, type EpochInfo, type FitOptions, type StageResult } from './train/fit.js';
export { withSeed } from './train/seed.js';
export { imagesToTensor, batchToTensor, oneHot } from './train/tensors.js';
export { FeatureCache, type FeatureCacheOptions, type CacheInfo } from './train/feature-cache.js';
export { extractFeatures, predictSet, type ExtractOptions, type ExtractStats } from './train/features.js';
export { frozenPart, headBoundary, trainablePart, ENGINES, type Engine, type FrozenPart } from './train/frozen.js';

export { classificationMetrics, type Metrics, type ClassMetrics } from './evaluate/metrics.js';
export { evaluateModel, evaluateGrafted, predictProbabilities } from './evaluate/evaluate.js';
export { predictFiles, predictTaskFiles, type Prediction, type TasksPrediction, type TaskAnswer } from './evaluate/predict.js';

export { saveTrained, loadTrained, type GraftJson, type Trained } from './export/trained.js';
export { layersModelToOnnx, type OnnxExportOptions } from './export/onnx/index.js';
export { trainedToOnnx, type OnnxSidecar } from './export/trained-onnx.js';
export { digest } from './io/digest.js';
export { EXPERIMENTS, type Experiment, type ExperimentResult } from './experiments/index.js';

export * from './data/text/index.js';
export type { TextEncoder } from './bases/text/types.js';
export { loadUseLite, USE_LITE_NAME, type UseLiteOptions } from './bases/text/use-lite.js';
export { UseTokenizer } from './bases/text/use-tokenizer.js';
export { loadGlove, gloveEncoder, gloveTextModel, tokenize as gloveTokenize, GLOVE_NAME, type GloveVectors } from './bases/text/glove.js';
export {
  trainText,
  fitTextHead,
  fineTuneGlove,
  embedTexts,
  loadTextEncoder,
  isTextBase,
  TEXT_BASES,
  type TextBaseName,
  type TextClassifier,
  type TextTrainOptions,
  type TextTrainResult,
  type HeadFit,
} from './train/text.js';
export { fitTfidf, fitTfidfVectorizer, restoreTfidf, type TfidfClassifier, type SavedTfidf } from './train/tfidf.js';
export { evaluateText } from './evaluate/text.js';
export { saveTextClassifier, loadTextClassifier, isTextModel, type TextGraftJson } from './export/text.js';
export { trainAdaptation, ADAPT_METHODS, type AdaptMethod, type AdaptOptions } from './strategies/adapt/adapt.js';
export { runAdaptation, domainFeatures, type AdaptData, type DomainFeatures } from './strategies/adapt/pipeline.js';
export { textDomainFeatures } from './strategies/adapt/text.js';
export type { MultiTaskSet, TaskLabels, TaskKind } from './data/multitask/types.js';
export { loadDigitsInScenes, DIGITS_IN_SCENES_SCENES } from './data/multitask/digits-in-scenes.js';
export { splitMultiTask, subsetMultiTask, type MultiTaskSplits } from './data/multitask/split.js';
export {
  loadMultiTask,
  alignTasks,
  parseTaskArg,
  type TaskColumn,
  type LoadedTasks,
  type MultiTaskLoadOptions,
} from './data/multitask/load.js';
export { graftTasks, multiTaskModel, applyTaskHeads, type TaskSpec, type GraftedTasks } from './graft/multitask.js';
export {
  trainTasks,
  evaluateTasks,
  predictTasks,
  taskMetrics,
  fitMultiTask,
  taskLosses,
  type MultiTaskData,
  type MultiTaskFitOptions,
  type TaskMetrics,
  type TasksModel,
  type TasksTrainOptions,
  type TasksTrainResult,
} from './train/multitask.js';
export { trainMultiTaskModel, type MultiTaskModelOptions, type MultiTaskModelResult } from './train/multitask-model.js';
export { maskedTaskLoss, jointLoss, uncertaintyWeights, taskWeights, type TaskWeighting } from './train/multitask-loss.js';
export { saveTasks, loadTasks, isTasksModel, type TasksGraftJson, type LoadedTasksModel } from './export/multitask.js';

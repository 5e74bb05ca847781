// graft's library API, in layers as fastai's: one call per kind of model and the trained models
// they return (the same verbs for every kind); the mid-level pieces those calls are built from,
// folder by folder, each usable on its own; and the runtime. Internals (tensor and parsing helpers,
// kernels and losses, what only the CLI uses) are not exported, and test/api.test.ts pins this
// list so a change to it is deliberate.

// ---------------------------------------------------------------------------------------------
// 1. One call per kind, and the kinds of trained model (src/kinds)

export {
  trainImageClassifier,
  ImageClassifier,
  type ImageClassifierOptions,
  type ImageTrainingResult,
  type ImagePrediction,
  type ClassifierEvaluation,
  type ImageGraftJson,
  type OnnxSidecar,
  type OnnxImageInput,
  type OnnxSamplesInput,
} from './kinds/image.js';
export type { SavedTrunk } from './kinds/trunk.js';
export {
  trainTextClassifier,
  TextClassifier,
  type TextClassifierOptions,
  type TextTrainingResult,
  type TextPrediction,
  type TextMode,
  type TextParts,
  type TextGraftJson,
} from './kinds/text.js';
export {
  trainMultiTask,
  MultiTaskModel,
  type MultiTaskOptions,
  type MultiTaskTrainingResult,
  type TasksPrediction,
  type TaskAnswer,
  type TasksEvaluation,
  type TasksGraftJson,
} from './kinds/multi-task.js';
export {
  trainDetector,
  Detector,
  type DetectorOptions,
  type DetectorTrainingResult,
  type DetectionPrediction,
  type DetectedBox,
  type DetectionEvaluation,
  type DetectionGraftJson,
  type DetectionDecoding,
  type DecodedDetectionImage,
  type EvaluatedImage,
} from './kinds/detection.js';
export type { DecodedPixels } from './kinds/inputs.js';
export {
  loadModel,
  trainingKind,
  MODEL_KINDS,
  type AnyModel,
  type TrainedModel,
  type ModelKind,
  type KindTraining,
  type TrainRequest,
  type TrainDefaults,
  type TrainOption,
  type ModelKindName,
  type ModelDescription,
  type ModelInput,
  type ModelMeta,
  type OutputDescription,
  type EvaluateOptions,
  type SaveOptions,
  type OnnxExport,
  type PredictOptions,
  type DataOption,
} from './kinds/index.js';

// ---------------------------------------------------------------------------------------------
// 2. The pieces

// Bases: the registry of embedded bases, and any TF.js or ONNX model as one.
export { loadBase, loadImageBase, loadLayersBase, loadTextBase, isTextBase, BASES, type BaseEntry } from './bases/index.js';
export type {
  Base,
  ImageBase,
  LayersBase,
  GraphBase,
  OnnxBase,
  FrozenBase,
  TextBase,
  UseLiteBase,
  GloveBase,
  HubTextBase,
  TextBaseName,
  TextEncoder,
  GloveVectors,
  Block,
  HeadSpec,
  Normalize,
  Predictor,
  FrozenTrunk,
  OnnxModelInfo,
  DetectorClassifier,
} from './bases/types.js';
export { TEXT_BASE_NAMES } from './bases/types.js';
export type { Layout } from './backend/onnx-runtime.js';
export {
  describeBase,
  type BaseDescription,
  type ImageBaseDescription,
  type TextBaseDescription,
  type LayerRow,
} from './bases/describe.js';
export { layersBase } from './bases/image/tfjs.js';
export { loadOnnxBase, type OnnxBaseOptions, type OnnxPreprocessing } from './bases/image/onnx.js';

// Data: images (folders, manifests, built-in sets), texts, multi-task sets, detection boxes; seeded splits.
export {
  loadDataSplits,
  splitDataset,
  type ImageSet,
  type ImageSize,
  type Splits,
  type LoadOptions,
  type SplitOptions,
  type LoadedData,
  type ResizeMode,
  type Skipped,
  type Medium,
  type AudioSpec,
  type RowFilter,
} from './data/index.js';
export { loadText, splitText, type TextLoadOptions, type TextSet, type TextSplits, type TextWarning } from './data/text/index.js';
export type { ReadTextOptions } from './data/text/read.js';
export type { PlacedSet, PlacedSample } from './data/detection/placed.js';
export type { Placement } from './data/detection/geometry.js';
export { loadMultiTask, type TaskColumn, type LoadedTasks, type MultiTaskLoadOptions } from './data/multitask/load.js';
export { splitMultiTask, type MultiTaskSplits, type MultiTaskSplitOptions } from './data/multitask/split.js';
export type { MultiTaskSet, TaskLabels, TaskKind, TaskSpec } from './data/multitask/types.js';
export {
  loadDetectionData,
  splitDetection,
  type Box,
  type GroundTruth,
  type DetectionSample,
  type DetectionSet,
  type DetectionSplits,
  type DetectionFormat,
  type DetectionLoadOptions,
  type DetectionSplitOptions,
} from './data/detection/index.js';
// Audio: what an audio base's medium decodes clips with (folders of WAV files load as spectrogram images).
export type { LogMelSpec } from './data/audio/logmel.js';
export type { SpeechMelSpec } from './data/audio/speech-mel.js';
export type { WaveformSpec } from './data/audio/waveform.js';

// Graft: cut a base, put a head on it (or a head per task), decide what trains.
export { graft, disposeGrafted, type Grafted, type GraftedOnLayers, type GraftedOnFrozen, type GraftOptions } from './graft/graft.js';
export type { GraftedDetector, DetectorOnFrozen, DetectorOnLayers, HeadStart } from './graft/detect.js';
export type { CutSpec } from './graft/cut.js';
export { graftTasks, type GraftedTasks } from './graft/multitask.js';

// Engine: the frozen part of a stage on the fastest engine, its outputs computed once and cached.
export { frozenPart, headBoundary, type Engine, type FrozenPart, type FrozenPartSource } from './engine/frozen.js';
export type { TrainEngine, TrainEngineUsed } from './engine/onnx-train.js';
export { extractFeatures, type ExtractOptions, type ExtractStats } from './engine/features.js';
export { FeatureCache, type FeatureCacheOptions, type CacheInfo } from './engine/feature-cache.js';
export { embedTexts, type EmbedOptions } from './engine/embed.js';

// Evaluate: metrics, and which base and cut transfer before training (scores, ranking).
export { classificationMetrics, type Metrics, type ClassMetrics } from './evaluate/metrics.js';
export { evaluateGrafted, type GraftedEvalOptions } from './evaluate/evaluate.js';
export { evaluateText, type TextScorer } from './evaluate/text.js';
export { evaluateTasks, type TaskEvaluation, type TaskMetrics, type TasksModel } from './evaluate/tasks.js';
export { rankCuts, type BaseRanking, type CutScore, type CutSet, type TransferCheck, type RankOptions } from './evaluate/rank.js';
export { rankTextCuts, type TextRankOptions } from './evaluate/rank-text.js';
export { logme, leep, hScore, type HScoreOptions } from './evaluate/scores.js';
export type { FeatureMatrix, Features } from './evaluate/matrix.js';
export { evaluateDetections, type Detection, type DetectionMetrics } from './evaluate/detection.js';

// Train: the fit loop and its callbacks, staged fine-tuning, texts, the TF-IDF baseline, multi-task.
export { fitLoop, EarlyStopping, type TrainingLoop, type History, type EarlyStoppingOptions } from './train/loop.js';
export { fitStage, type FitOptions, type StageResult } from './train/fit.js';
export { TRAIN_DEFAULTS, type TrainBudget } from './train/defaults.js';
export {
  trainStages,
  type StageTask,
  type StagePlan,
  type StageInputs,
  type StageFit,
  type StageOptions,
  type StagedGraft,
  type StageName,
  type TrainResult,
  type StageReport,
} from './train/driver.js';
export { trainGrafted, type TrainOptions } from './train/stages.js';
export {
  fitTextHead,
  fineTuneGlove,
  type HeadFit,
  type HeadTrainOptions,
  type GloveFineTuned,
  type GloveClassifierModel,
  type Labelled,
} from './train/text.js';
export {
  fitTfidf,
  type TfidfClassifier,
  type TfidfOptions,
  type TfidfVectorizer,
  type SavedTfidf,
  type SparseRows,
} from './train/tfidf.js';
export type { ProbeHeadReport } from './train/probe-head.js';
export {
  fitMultiTask,
  trainTasks,
  type MultiTaskData,
  type MultiTaskFitOptions,
  type MultiTaskFitResult,
  type TasksTrainOptions,
} from './train/multitask.js';

// Strategies: domain adaptation, on tensors (trainAdaptation) or over domains (features, then a method).
export { trainAdaptation } from './strategies/adapt/adapt.js';
export { ADAPT_METHODS, type AdaptMethod } from './strategies/adapt/methods/index.js';
export type { AdaptOptions, AdaptResult, SourceSplit, LabelledDomain, Domain } from './strategies/adapt/types.js';
export {
  runAdaptation,
  domainFeatures,
  domainImages,
  disposeDomainFeatures,
  type AdaptData,
  type AdaptReport,
  type DomainFeatures,
  type DomainFeatureOptions,
  type LabelledSet,
} from './strategies/adapt/pipeline.js';
export { textDomainFeatures } from './strategies/adapt/text.js';

// ONNX: a LayersModel as an ONNX graph (what frozen parts run as, what exports are made of).
export { layersModelToOnnx, type OnnxExportOptions } from './onnx/from-layers.js';
// A TF.js graph model as an ONNX graph (how graph bases run on ONNX Runtime), and the ops it lacks.
export { graphModelToOnnx, missingGraphOps, type GraphConversionOptions } from './onnx/tfjs-graph/index.js';

// ---------------------------------------------------------------------------------------------
// 3. Runtime: the TF.js backend, errors, the callback protocol

export { useBackend, type BackendName, type BackendOptions } from './backend/index.js';
export { GraftError } from './core/errors.js';
export type { Callback, EpochLogs, BatchLogs, Awaitable } from './core/callbacks.js';

// graft's library API, in layers as fastai's: one call per kind of model and the trained models
// they return (the same verbs for every kind); the mid-level pieces those calls are built from,
// folder by folder, each usable on its own; and the runtime. Internals are not exported, and
// test/api.test.ts pins this list so a change to it is deliberate.

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
} from './kinds/image.js';
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
  loadDetector,
  type DetectorOptions,
  type DetectorTrainingResult,
  type DetectionPrediction,
  type DetectedBox,
  type DetectionEvaluation,
  type DetectionGraftJson,
  type DetectionDecoding,
} from './kinds/detection.js';
export {
  loadModel,
  MODEL_KINDS,
  type AnyModel,
  type TrainedModel,
  type ModelKind,
  type ModelKindName,
  type ModelDescription,
  type ModelInput,
  type ModelMeta,
  type OutputDescription,
  type EvaluateOptions,
  type SaveOptions,
  type OnnxExport,
  type PredictOptions,
} from './kinds/index.js';

// ---------------------------------------------------------------------------------------------
// 2. The pieces

// Bases: the registry of embedded bases, and any TF.js or ONNX model as one.
export { loadBase, loadImageBase, loadLayersBase, loadTextBase, isTextBase, textEncoderAt, BASES, type BaseEntry } from './bases/index.js';
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
} from './bases/types.js';
export {
  describeBase,
  type BaseDescription,
  type ImageBaseDescription,
  type TextBaseDescription,
  type LayerRow,
} from './bases/describe.js';
export { layersBase } from './bases/image/tfjs.js';
export { loadOnnxBase, type OnnxBaseOptions, type OnnxPreprocessing } from './bases/image/onnx.js';

// Data: images (folders, manifests, built-in sets), texts, multi-task sets; seeded splits.
export {
  loadDataSplits,
  splitDataset,
  applyPerClass,
  parseClassFilter,
  loadMnist,
  loadMnistM,
  loadMnistRgb,
  type ImageSet,
  type ImageSize,
  type Splits,
  type LoadOptions,
  type SplitOptions,
  type LoadedData,
  type ResizeMode,
  type Skipped,
  type Medium,
  type RowFilter,
} from './data/index.js';
export { loadTarget, type TargetSet } from './data/target.js';
export { loadText, splitText, applyPerClassText, subsetText, type TextSet, type TextSplits, type TextWarning } from './data/text/index.js';
export {
  loadMultiTask,
  alignTasks,
  parseTaskArg,
  type TaskColumn,
  type LoadedTasks,
  type MultiTaskLoadOptions,
} from './data/multitask/load.js';
export { splitMultiTask, subsetMultiTask, type MultiTaskSplits } from './data/multitask/split.js';
export { loadDigitsInScenes } from './data/multitask/digits-in-scenes.js';
export type { MultiTaskSet, TaskLabels, TaskKind, TaskSpec } from './data/multitask/types.js';
export {
  loadDetectionData,
  splitDetection,
  firstImages,
  isDetectionData,
  type Box,
  type GroundTruth,
  type DetectionSample,
  type DetectionSet,
  type DetectionSplits,
  type DetectionFormat,
  type DetectionLoadOptions,
  type DetectionSplitOptions,
} from './data/detection/index.js';
export { letterbox, randomPlacement, placeBox, unplaceBox, placeObjects, type Placement } from './data/detection/geometry.js';
export { renderPlaced, drawBoxes, type DrawnBox } from './data/detection/render.js';
export { placeSet, placedImages, type PlacedSet, type PlacedSample, type PlaceOptions } from './data/detection/placed.js';
// Audio: WAV decoding, resampling, clips fitted to a window, log-mel spectrograms drawn as images.
export { decodeWav, type Waveform } from './data/audio/wav.js';
export { resample } from './data/audio/resample.js';
export { fitClip, type ClipFit, type FittedClip } from './data/audio/clip.js';
export { logMel, melFilterbank, KWS_LOGMEL, type LogMel, type LogMelSpec } from './data/audio/logmel.js';
export { spectrogramPixels, spectrogramSize, clipSpectrogram, TOP_DB } from './data/audio/spectrogram.js';
export { decodeAudio, AUDIO_EXTENSIONS, type DecodedClip } from './data/audio/read.js';
export { parseWhere, selectRows } from './data/manifest.js';

// Graft: cut a base, put a head on it (or a head per task), decide what trains.
export { graft, pipeline, disposeGrafted, trainAbove, unfreezeBoundary, type Grafted, type GraftOptions } from './graft/graft.js';
export { resolveCut, cutCandidates, type CutSpec } from './graft/cut.js';
export { modelAbove, modelBelow } from './graft/split.js';
export { applyHead, parseHead } from './graft/head.js';
export { graftTasks, type GraftedTasks } from './graft/multitask.js';
export { graftDetector, applyDetectionHead, withInputSize, type GraftedDetector, type GraftDetectorOptions } from './graft/detect.js';

// Engine: the frozen part of a stage on the fastest engine, its outputs computed once and cached.
export { frozenPart, headBoundary, withFrozenPart, ENGINES, type Engine, type FrozenPart } from './engine/frozen.js';
export {
  OnnxTrainer,
  onnxTrainerFor,
  stepVariable,
  DEFAULT_TRAIN_ENGINE,
  TRAIN_ENGINES,
  type TrainEngine,
  type TrainEngineUsed,
  type OnnxTrainerOptions,
  type StepTargets,
} from './engine/onnx-train.js';
export { extractFeatures, predictSet, type ExtractOptions, type ExtractStats } from './engine/features.js';
export { FeatureCache, type FeatureCacheOptions, type CacheInfo } from './engine/feature-cache.js';
export { embedTexts, type EmbedOptions } from './engine/embed.js';
export { imagesToTensor } from './engine/tensors.js';

// Evaluate: metrics, and which base and cut transfer before training (scores, ranking).
export { classificationMetrics, type Metrics, type ClassMetrics } from './evaluate/metrics.js';
export { evaluateModel, evaluateGrafted } from './evaluate/evaluate.js';
export { evaluateText } from './evaluate/text.js';
export { evaluateTasks, predictTasks, taskMetrics, type TaskEvaluation, type TaskMetrics, type TasksModel } from './evaluate/tasks.js';
export { rankCuts, rankCandidates, type BaseRanking, type CutScore, type TransferCheck, type RankOptions } from './evaluate/rank.js';
export { rankTextCuts, textRankCandidates, type TextRankOptions } from './evaluate/rank-text.js';
export { logme, leep, hScore } from './evaluate/scores.js';
export { linearProbe, fitLinearClassifier } from './evaluate/probe.js';
export type { FeatureMatrix, Features } from './evaluate/matrix.js';
export { evaluateDetections, detectionReport, iou, nms, type Detection, type DetectionMetrics } from './evaluate/detection.js';
export { decodeGrid, toOriginal, type DecodeOptions } from './evaluate/detection-decode.js';

// Train: the fit loop and its callbacks, staged fine-tuning, texts, the TF-IDF baseline, multi-task.
export { fitLoop, EarlyStopping, type TrainingLoop, type History, type EarlyStoppingOptions } from './train/loop.js';
export { fitStage, type FitOptions, type StageResult } from './train/fit.js';
export { TRAIN_DEFAULTS, type TrainBudget } from './train/defaults.js';
export { trainGrafted, type TrainOptions, type TrainResult, type StageReport } from './train/stages.js';
export { fitTextHead, fineTuneGlove, type HeadFit, type HeadTrainOptions } from './train/text.js';
export { fitTfidf, restoreTfidf, type TfidfClassifier, type SavedTfidf } from './train/tfidf.js';
export { fitMultiTask, trainTasks, type TasksTrainOptions, type TasksTrainResult } from './train/multitask.js';
export { maskedTaskLoss, jointLoss, uncertaintyWeights, taskWeights, type TaskWeighting } from './train/multitask-loss.js';
export {
  trainDetectorStages,
  DETECTION_DEFAULTS,
  type DetectionTrainOptions,
  type DetectionTrainResult,
  type DetectionStageReport,
} from './train/detection.js';
export { detectionLoss } from './train/detection-loss.js';
export { encodeTargets } from './train/detection-targets.js';

// Strategies: domain adaptation, its methods (each a module) and the pipeline over domains.
export { trainAdaptation } from './strategies/adapt/adapt.js';
export { ADAPTATION_METHODS, ADAPT_METHODS, type AdaptMethod } from './strategies/adapt/methods/index.js';
export type { AdaptationMethod, AdaptOptions, AdaptResult } from './strategies/adapt/types.js';
export {
  runAdaptation,
  domainFeatures,
  domainImages,
  disposeDomainFeatures,
  type AdaptData,
  type AdaptReport,
  type DomainFeatures,
} from './strategies/adapt/pipeline.js';
export { textDomainFeatures } from './strategies/adapt/text.js';
export { coralLoss, confusionLoss, reverseGradient } from './strategies/adapt/losses.js';

// ONNX: a LayersModel as an ONNX graph (what frozen parts run as, what exports are made of).
export { layersModelToOnnx, type OnnxExportOptions } from './onnx/from-layers.js';
export { buildTrainStep, unsupportedReason as trainStepUnsupported, type StepOptions, type TrainStep } from './onnx/train/step.js';
export type { DomainTerm, StepLoss, StepVariable } from './onnx/train/loss-types.js';

// Experiments: the reference tables graft reproduces (`graft experiment NAME`).
export { EXPERIMENTS, type Experiment, type ExperimentOptions, type ExperimentResult } from './experiments/index.js';

// Studio: the browser studio's server, for embedding it (`graft studio` starts it).
export { startStudio, type Studio, type StudioOptions } from './studio/server.js';

// ---------------------------------------------------------------------------------------------
// 3. Runtime: the TF.js backend, errors, the callback protocol

export { useBackend, BACKENDS, type BackendName } from './backend/index.js';
export { GraftError } from './core/errors.js';
export type { Callback, EpochLogs, BatchLogs } from './core/callbacks.js';

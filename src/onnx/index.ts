// ONNX graphs graft writes and reads: a LayersModel exported (the frozen parts ONNX Runtime runs,
// the models users deploy), a model pruned to a cut, a trunk and a head joined.
export { layersModelToOnnx, IR_VERSION, OPSET, type OnnxExportOptions } from './from-layers.js';
export { joinTrunkAndHead } from './join.js';
export { decodeModel, pruneToCut } from './prune.js';

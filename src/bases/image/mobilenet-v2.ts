import type { LayersBase } from '../types.js';
import { blocksByName } from '../structure.js';
import { loadNsfwjsModel, nsfwjsBase } from './nsfwjs.js';

// Keras names MobileNetV2's inverted-residual blocks block_1 … block_16; the stem
// (Conv1 + expanded_conv) comes before them and Conv_1/out_relu after.
function mobilenetBlock(layer: string): string {
  const m = /^(block_\d+)_/.exec(layer);
  if (m) return m[1];
  if (layer.startsWith('Conv1') || layer.startsWith('bn_Conv1') || layer.startsWith('expanded_conv')) return 'stem';
  if (layer.startsWith('Conv_1') || layer === 'out_relu') return 'top_conv';
  return 'classifier';
}

export async function loadMobilenetV2(): Promise<LayersBase> {
  const model = await loadNsfwjsModel('mobilenet_v2');
  return nsfwjsBase('mobilenet_v2', model, {
    blocks: blocksByName(model, mobilenetBlock),
    suggestedCut: 'out_relu',
    provenance:
      'MobileNetV2 224x224 (Keras), ImageNet-initialised then trained by the nsfwjs authors on a 5-class photo/drawing task; weights from the nsfwjs npm package (nsfwjs/models/mobilenet_v2). graft keeps its convolutional trunk, never that head.',
  });
}

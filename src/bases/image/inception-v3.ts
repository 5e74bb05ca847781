import type { LayersBase } from '../types.js';
import { blocksByName } from '../structure.js';
import { loadNsfwjsModel, nsfwjsBase } from './nsfwjs.js';

/**
 * Keras's InceptionV3 names its modules' outputs mixed0 … mixed10 and everything inside them
 * generically (conv2d_N, activation_N); a layer belongs to the first module output at or after
 * it (the stem goes with mixed0), and what follows mixed10 is the classifier.
 */
function inceptionBlocks(names: string[]): (layer: string) => string {
  const block = new Map<string, string>();
  let next = 'classifier';
  for (const name of [...names].reverse()) {
    if (/^mixed\d+$/.test(name)) next = name;
    block.set(name, next);
  }
  return (layer) => block.get(layer) ?? 'classifier';
}

export async function loadInceptionV3(): Promise<LayersBase> {
  const model = await loadNsfwjsModel('inception_v3');
  return nsfwjsBase('inception_v3', model, {
    blocks: blocksByName(model, inceptionBlocks(model.layers.map((l) => l.name))),
    suggestedCut: 'mixed10',
    provenance:
      'InceptionV3 299x299 (Keras), ImageNet-initialised then trained by the nsfwjs authors on the same 5-class photo/drawing task; weights from the nsfwjs npm package (nsfwjs/models/inception_v3). Loading takes ~30 s (90 MB of base64 weights).',
  });
}

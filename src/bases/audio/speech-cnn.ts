// speech-cnn: a small keyword-spotting CNN on 1 s log-mel spectrograms at 8 kHz (98 frames x 40
// mel bands), four convolution blocks and global average pooling, in the spirit of the Speech
// Commands baselines (Warden 2018) at a size TF.js wasm trains in minutes. No batch normalisation:
// its moving statistics lag far behind in a short pre-training, and its gradient is slow on wasm.
// graft pre-trains it on words eSpeak NG speaks in American English voices (`graft pretrain
// speech`, src/pretrain/) and ships the result in models/speech-cnn.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../../core/errors.js';
import { KWS_LOGMEL } from '../../data/audio/logmel.js';
import { clipImageSize } from '../../data/audio/spectrogram.js';
import { loadLayersModelFile } from '../../io/layers-files.js';
import { blocksByName } from '../structure.js';
import type { LayersBase } from '../types.js';

export const SPEECH_CNN_DIR = fileURLToPath(new URL('../../../models/speech-cnn', import.meta.url));

const FILTERS = [16, 32, 64, 64];

/** Spectrogram pixels are levels above the clip's floor (0-255): centred near their mean. */
export const SPEECH_CNN_NORMALIZE = { mean: [0.5], std: [0.25] };

export function buildSpeechCnn(classes: number): tf.LayersModel {
  const { height, width } = clipImageSize(KWS_LOGMEL);
  const input = tf.input({ shape: [height, width, 1], name: 'logmel' });
  let x: tf.SymbolicTensor = input;
  FILTERS.forEach((filters, i) => {
    const b = `block${i + 1}`;
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name: `${b}_conv` }).apply(x) as tf.SymbolicTensor;
    // The last block keeps its 12x5 map for the pooling below.
    if (i < FILTERS.length - 1) x = tf.layers.maxPooling2d({ poolSize: 2, name: `${b}_pool` }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.3, name: 'dropout' }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y, name: 'speech_cnn' });
}

export function speechCnnBase(model: tf.LayersModel): LayersBase {
  return {
    name: 'speech-cnn',
    kind: 'layers',
    model,
    input: clipImageSize(KWS_LOGMEL),
    normalize: SPEECH_CNN_NORMALIZE,
    resize: 'fill',
    blocks: blocksByName(model, (l) => (/^block\d/.test(l) ? l.split('_')[0] : l === 'pool' ? 'block4' : 'classifier')),
    suggestedCut: 'pool',
    head: { kind: 'linear', dropout: 0.3 },
    provenance:
      'A keyword-spotting CNN pre-trained by graft on English words (not digits) synthesised offline by eSpeak NG in American voices, with noise, gain, shift and speed augmentation (graft pretrain speech).',
    medium: { kind: 'audio', spec: KWS_LOGMEL },
  };
}

export async function loadSpeechCnn(dir = SPEECH_CNN_DIR): Promise<LayersBase> {
  const path = `${dir}/model.json`;
  if (!existsSync(path)) throw new GraftError(`speech-cnn weights not found at ${path} (run: graft pretrain speech)`, 1);
  return speechCnnBase(await loadLayersModelFile(path));
}

// Predictions for image files with a trained model, preprocessing exactly as graft.json says.
import * as tf from '@tensorflow/tfjs';
import { decodeImageFile } from '../data/images.js';
import type { Trained } from '../export/trained.js';
import { pipeline } from '../graft/graft.js';
import { imagesToTensor } from '../train/tensors.js';

/** The k most probable labels, most probable first (at least one). */
export function topK(probs: ArrayLike<number>, labels: string[], k: number): { label: string; probability: number }[] {
  const ranked = Array.from(probs, (p, i) => ({ label: labels[i], probability: p })).sort((a, b) => b.probability - a.probability);
  return ranked.slice(0, Math.max(1, k));
}

export interface Prediction {
  file: string;
  top: { label: string; probability: number }[];
}

export async function predictFiles(trained: Trained, files: string[], k = 3): Promise<Prediction[]> {
  const { input, normalize, resize, labels } = trained.meta;
  const classifier = pipeline(trained);
  const out: Prediction[] = [];
  for (const file of files) {
    const pixels = await decodeImageFile(file, input, resize);
    const set = { classes: labels, size: input, pixels, labels: Int32Array.of(0), ids: [file] };
    const x = imagesToTensor(set, normalize);
    const y = await classifier.predict(x);
    const probs = y.dataSync();
    tf.dispose([x, y]);
    out.push({ file, top: topK(probs, labels, k) });
  }
  return out;
}

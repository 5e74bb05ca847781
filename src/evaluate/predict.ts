// Predictions for image files with a trained model, preprocessing exactly as graft.json says.
import * as tf from '@tensorflow/tfjs';
import { decodeImageFile } from '../data/images.js';
import type { LoadedTasksModel } from '../export/multitask.js';
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

/** One task's answer for one image: top classes, the labels that apply (p ≥ 0.5), or the numbers. */
export type TaskAnswer =
  | { kind: 'classification'; top: { label: string; probability: number }[] }
  | { kind: 'multi-label'; labels: string[]; probabilities: Record<string, number> }
  | { kind: 'regression'; values: number[] };

export interface TasksPrediction {
  file: string;
  tasks: Record<string, TaskAnswer>;
}

/** Every task's answer for each image file, with a multi-task model loaded by loadTasks. */
export async function predictTaskFiles(m: LoadedTasksModel, files: string[], k = 3): Promise<TasksPrediction[]> {
  const { input, normalize, resize } = m.meta;
  const out: TasksPrediction[] = [];
  for (const file of files) {
    const pixels = await decodeImageFile(file, input, resize);
    const x = imagesToTensor({ classes: [], size: input, pixels, labels: Int32Array.of(0), ids: [file] }, normalize);
    const values = tf.tidy(() => ([m.model.predict(x)].flat() as tf.Tensor[]).map((y) => Array.from(y.dataSync())));
    x.dispose();
    const tasks = Object.fromEntries(
      m.tasks.map((t, i): [string, TaskAnswer] => {
        const v = values[i];
        if (t.kind === 'classification') return [t.name, { kind: t.kind, top: topK(v, t.classes!, k) }];
        if (t.kind === 'multi-label')
          return [
            t.name,
            {
              kind: t.kind,
              labels: t.classes!.filter((_, j) => v[j] >= 0.5),
              probabilities: Object.fromEntries(t.classes!.map((c, j) => [c, v[j]])),
            },
          ];
        return [t.name, { kind: t.kind, values: v }];
      }),
    );
    out.push({ file, tasks });
  }
  return out;
}

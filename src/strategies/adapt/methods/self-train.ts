// Self-training: a source-only network pseudo-labels the target samples it is confident about
// (≥ threshold), a new network trains on the source plus those, and so on for a few rounds.
import * as tf from '@tensorflow/tfjs';
import type { AdaptationMethod } from '../types.js';

export const selfTrain: AdaptationMethod = {
  description: 'self-training: confident pseudo-labels on the target, retrained on source + pseudo-labelled target, iterated',
  aligned: false,
  async train(source, target, round, o) {
    const rounds = o.selfTrain?.rounds ?? 3;
    const threshold = o.selfTrain?.threshold ?? 0.9;
    let current = await round(source.train, 0);
    const used: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      const { idx, labels } = tf.tidy(() => {
        const p = current.model.predict(target, { batchSize: 256 }) as tf.Tensor2D;
        const conf = p.max(1).dataSync();
        const arg = p.argMax(1).dataSync();
        const keep: number[] = [];
        conf.forEach((c, i) => c >= threshold && keep.push(i));
        return { idx: keep, labels: Int32Array.from(keep, (i) => arg[i]) };
      });
      used.push(idx.length);
      if (!idx.length) break;
      const x = tf.tidy(() => tf.concat([source.train.x, tf.gather(target, tf.tensor1d(idx, 'int32'))]));
      const next = await round({ x, y: Int32Array.from([...source.train.y, ...labels]) }, r);
      x.dispose();
      current.model.dispose();
      current = next;
    }
    return {
      model: current.model,
      checkpoint: 'best source validation accuracy in each round',
      sourceValAccuracy: current.sourceValAccuracy,
      pseudoLabels: used,
      trainEngine: current.trainEngine,
    };
  },
};

// CenterNet's loss: a penalty-reduced focal loss on the heatmaps (α = 2, β = 4) and L1 on the
// offset at object centres, normalised by the number of objects, plus L1 on the log-size over each
// object's Gaussian, weighted by it and normalised by the weights' sum (TTFNet's weighting).
import * as tf from '@tensorflow/tfjs';

export interface DetectionLossWeights {
  size: number;
  offset: number;
}

/** Size and offset weigh as much as the heatmap: log-sizes are O(1), unlike CenterNet's raw pixels (weighted 0.1). */
export const DETECTION_LOSS_WEIGHTS: DetectionLossWeights = { size: 1, offset: 1 };

/** `pred` [n, h, w, C + 4] as the head outputs it, `target` [n, h, w, C + 6] as encodeTargets makes it; a scalar. */
export function detectionLoss(pred: tf.Tensor4D, target: tf.Tensor4D, classes: number, weights = DETECTION_LOSS_WEIGHTS): tf.Scalar {
  return tf.tidy(() => {
    const [n, h, w] = pred.shape;
    const part = (t: tf.Tensor4D, from: number, size: number) => t.slice([0, 0, 0, from], [n, h, w, size]);
    const p = part(pred, 0, classes).clipByValue(1e-4, 1 - 1e-4);
    const gt = part(target, 0, classes);
    const pos = gt.equal(1).toFloat();
    const neg = tf.sub(1, pos);
    const posLoss = tf
      .log(p)
      .mul(tf.square(tf.sub(1, p)))
      .mul(pos);
    const negLoss = tf
      .log(tf.sub(1, p))
      .mul(tf.square(p))
      .mul(tf.pow(tf.sub(1, gt), 4))
      .mul(neg);
    const centres = part(target, classes + 4, 1);
    const sizeWeight = part(target, classes + 5, 1);
    const objects = tf.maximum(centres.sum(), 1);
    const focal = posLoss.sum().add(negLoss.sum()).neg().div(objects);
    const l1 = (from: number, weight: tf.Tensor, total: tf.Tensor) =>
      tf
        .abs(part(pred, from, 2).sub(part(target, from, 2)))
        .mul(weight)
        .sum()
        .div(total);
    const size = l1(classes, sizeWeight, tf.maximum(sizeWeight.sum(), 1e-6));
    return focal.add(size.mul(weights.size)).add(l1(classes + 2, centres, objects).mul(weights.offset)) as tf.Scalar;
  });
}

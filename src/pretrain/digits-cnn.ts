// Pre-training digits-cnn: the Keras mnist_transfer_cnn network trained from scratch on MNIST
// digits 0-4, the base the demo transfers to digits 5-9. Deterministic by seed: `graft pretrain
// digits --force` rewrites models/digits-cnn with the same bytes.
import { buildDigitsCnn, digitsCnnBase } from '../bases/image/digits-cnn.js';
import type { LayersBase } from '../bases/types.js';
import type { Callback } from '../core/callbacks.js';
import { loadMnist } from '../data/mnist.js';
import { splitDataset } from '../data/split.js';
import { withSeed } from '../math/seed.js';
import { fitAndTest } from './classifier.js';

export interface PretrainResult {
  base: LayersBase;
  testAccuracy: number;
  epochsRun: number;
  seconds: number;
}

/** Adam, early stopping on a held-out split of digits 0-4, test accuracy on another. */
export async function pretrainDigitsCnn(
  opts: { seed?: number; epochs?: number; callbacks?: readonly Callback[] } = {},
): Promise<PretrainResult> {
  const seed = opts.seed ?? 0;
  const set = await loadMnist({ size: { height: 28, width: 28, channels: 1 }, classes: ['0', '1', '2', '3', '4'] });
  const splits = splitDataset(set, { seed });
  return withSeed(seed, async () => {
    const model = buildDigitsCnn(5);
    const r = await fitAndTest(
      model,
      splits,
      { mean: [0], std: [1] },
      {
        epochs: opts.epochs ?? 12,
        learningRate: 1e-3,
        batchSize: 128,
        patience: 3,
        callbacks: opts.callbacks,
      },
    );
    return { ...r, base: digitsCnnBase(model) };
  });
}

import assert from 'node:assert/strict';
import { readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../src/backend/index.js';
import type { FrozenTrunk } from '../src/bases/types.js';
import { disposeGrafted, graft } from '../src/graft/graft.js';
import { FeatureCache } from '../src/engine/feature-cache.js';
import { extractFeatures } from '../src/engine/features.js';
import { trainGrafted } from '../src/train/stages.js';
import { loadDataSplits } from '../src/data/index.js';
import { makeImageFolder } from './fixtures.js';
import { colourSet, tempDir, tinyBase } from './helpers.js';

const norm = { mean: [0, 0, 0], std: [1, 1, 1] };

/** A frozen trunk that counts the images it is asked to compute: the mean colour per image. */
function countingTrunk(id = 'mean-colour'): FrozenTrunk & { images: number } {
  const t = {
    id,
    images: 0,
    predict(x: tf.Tensor) {
      t.images += x.shape[0];
      return tf.mean(x, [1, 2]);
    },
  };
  return t;
}

const entryFiles = (dir: string) =>
  readdirSync(dir)
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f)));

before(async () => {
  await useBackend('wasm');
});

describe('feature extraction with the persistent cache', () => {
  it('computes each image once; a second pass reads everything back, equal', async () => {
    const cache = new FeatureCache({ dir: tempDir() });
    const set = colourSet(10);
    const trunk = countingTrunk();
    const first = await extractFeatures(trunk, set, { normalize: norm, batchSize: 4, cache });
    assert.equal(trunk.images, 20);
    assert.deepEqual(first.stats, { computed: 20, cached: 0 });
    const second = await extractFeatures(trunk, set, { normalize: norm, batchSize: 7, cache });
    assert.equal(trunk.images, 20, 'no trunk call on the second pass');
    assert.deepEqual(second.stats, { computed: 0, cached: 20 });
    assert.deepEqual(second.features.shape, first.features.shape);
    assert.deepEqual(await second.features.data(), await first.features.data());
    tf.dispose([first.features, second.features]);
  });

  it('keys on the trunk, the preprocessing and the pixels', async () => {
    const cache = new FeatureCache({ dir: tempDir() });
    const set = colourSet(3);
    const trunk = countingTrunk();
    tf.dispose((await extractFeatures(trunk, set, { normalize: norm, cache })).features);
    tf.dispose((await extractFeatures(trunk, set, { normalize: { mean: [0.5, 0.5, 0.5], std: [1, 1, 1] }, cache })).features);
    assert.equal(trunk.images, 12, 'other normalisation: recomputed');
    const other = countingTrunk('other-weights');
    tf.dispose((await extractFeatures(other, set, { normalize: norm, cache })).features);
    assert.equal(other.images, 6, 'other trunk: recomputed');
    const changed = { ...set, pixels: set.pixels.slice() };
    changed.pixels[0] ^= 1;
    tf.dispose((await extractFeatures(trunk, changed, { normalize: norm, cache })).features);
    assert.equal(trunk.images, 13, 'one changed image: only it is recomputed');
  });

  it('recomputes a torn entry, detected by its checksum', async () => {
    const dir = tempDir();
    const cache = new FeatureCache({ dir });
    const set = colourSet(4);
    const trunk = countingTrunk();
    const first = await extractFeatures(trunk, set, { normalize: norm, cache });
    const victim = entryFiles(dir).find((f) => statSync(f).size === 40 + 4 * 3)!; // an image's 3 features, not the shape entry (1 float)
    truncateSync(victim, statSync(victim).size - 4);
    const again = await extractFeatures(trunk, set, { normalize: norm, cache });
    assert.deepEqual(again.stats, { computed: 1, cached: 7 });
    assert.deepEqual(await again.features.data(), await first.features.data());
    tf.dispose([first.features, again.features]);
  });

  it('a second training run with another head, learning rate and seed runs the trunk on nothing', async () => {
    const cache = new FeatureCache({ dir: tempDir() });
    const base = tinyBase();
    const data = { train: colourSet(6), val: colourSet(2, undefined, 2) };
    const run = async (head: 'linear' | 'mlp', learningRate: number, seed: number) => {
      const g = await graft(base, { classes: ['red', 'blue'], cut: 'top_conv', head: { kind: head, units: [4] } });
      const stem = g.model.getLayer('stem_conv');
      let calls = 0;
      const call = stem.call.bind(stem);
      stem.call = (inputs, kwargs) => {
        calls++;
        return call(inputs, kwargs);
      };
      const r = await trainGrafted(g, data, { epochs: 2, batchSize: 4, unfreeze: 1, learningRate, seed, cache, engine: 'tfjs' });
      await disposeGrafted(g);
      return { calls, stages: r.stages.map((s) => s.features) };
    };
    const first = await run('linear', 1e-3, 1);
    assert.ok(first.calls > 0);
    assert.deepEqual(first.stages, [
      { computed: 16, cached: 0 },
      { computed: 16, cached: 0 },
    ]);
    const second = await run('mlp', 3e-3, 2);
    assert.equal(second.calls, 0, 'the trunk never ran');
    assert.deepEqual(second.stages, [
      { computed: 0, cached: 16 },
      { computed: 0, cached: 16 },
    ]);
  });
});

describe('streamed data sets', () => {
  const size = { height: 16, width: 16, channels: 3 as const };

  it('hold no pixels, split like in-memory sets, and give the same features batch by batch', async () => {
    const root = (await makeImageFolder(join(tempDir(), 'data'), { perClass: 10, size: 24, extensions: ['png', 'jpg'] })).root;
    const inMemory = await loadDataSplits(root, { size, seed: 3 });
    const streamed = await loadDataSplits(root, { size, seed: 3, stream: true });
    for (const k of ['train', 'val', 'test'] as const) {
      assert.equal(streamed[k].pixels.length, 0);
      assert.deepEqual(streamed[k].ids, inMemory[k].ids);
      assert.equal(streamed[k].stream!.digests.length, streamed[k].ids.length);
    }
    const trunk = countingTrunk();
    const a = await extractFeatures(trunk, inMemory.train, { normalize: norm, batchSize: 3 });
    const b = await extractFeatures(trunk, streamed.train, { normalize: norm, batchSize: 3 });
    assert.deepEqual(await b.features.data(), await a.features.data());
    tf.dispose([a.features, b.features]);
  });

  it('scratch training on a streamed set is a usage error, not 4x the memory', async () => {
    const root = (await makeImageFolder(join(tempDir(), 'data'), { perClass: 4, size: 20 })).root;
    const splits = await loadDataSplits(root, { size, seed: 1, stream: true });
    const g = await graft(tinyBase(), { classes: splits.train.classes, scratch: true });
    await assert.rejects(
      trainGrafted(g, splits, { epochs: 1 }),
      (e: Error & { exitCode?: number }) => e.exitCode === 2 && /--scratch/.test(e.message),
    );
    await disposeGrafted(g);
  });

  it('with the cache, a second pass reads no image file at all', async () => {
    const dir = tempDir();
    const root = (await makeImageFolder(join(dir, 'data'), { perClass: 5, size: 20 })).root;
    const { train } = await loadDataSplits(root, { size, seed: 1, stream: true });
    const cache = new FeatureCache({ dir: join(dir, 'cache') });
    const trunk = countingTrunk();
    const first = await extractFeatures(trunk, train, { normalize: norm, cache });
    renameSync(root, `${root}-moved`); // any decode would now fail
    const second = await extractFeatures(trunk, train, { normalize: norm, cache });
    assert.equal(second.stats.computed, 0);
    assert.deepEqual(await second.features.data(), await first.features.data());
    tf.dispose([first.features, second.features]);
  });
});

// The model-kind registry: loadModel finds the kind graft.json names (or says clearly why not),
// and every kind answers the same interface.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { GraftError } from '../src/core/errors.js';
import { loadModel, MODEL_KINDS } from '../src/kinds/index.js';
import { TextClassifier } from '../src/kinds/text.js';
import { fitTfidf } from '../src/train/tfidf.js';
import { tempDir } from './helpers.js';

const usage = (pattern: RegExp) => (e: GraftError) => e.exitCode === 2 && pattern.test(e.message);

describe('loadModel', () => {
  it('says what is wrong with a directory that holds no model it knows', async () => {
    const dir = tempDir();
    await assert.rejects(loadModel(join(dir, 'nowhere')), usage(/model directory not found/));
    mkdirSync(join(dir, 'empty'));
    await assert.rejects(loadModel(join(dir, 'empty')), usage(/not a graft model .*graft\.json/));
    mkdirSync(join(dir, 'future'));
    writeFileSync(join(dir, 'future', 'graft.json'), JSON.stringify({ kind: 'hologram' }));
    await assert.rejects(loadModel(join(dir, 'future')), usage(/kind of model .*hologram.*known: image, text, multi-task/));
    mkdirSync(join(dir, 'headless'));
    writeFileSync(join(dir, 'headless', 'graft.json'), JSON.stringify({ labels: ['a', 'b'] }));
    await assert.rejects(
      loadModel(join(dir, 'headless')),
      usage(/not a graft model .*model\.json/),
      'no kind: an image classifier, which needs model.json',
    );
  });

  it('returns the kind graft.json names, with the interface every kind has', async () => {
    assert.deepEqual(
      MODEL_KINDS.map((k) => k.name),
      ['image', 'text', 'multi-task', 'detection'],
    );
    const texts = ['good film', 'great film', 'lovely story', 'bad film', 'awful film', 'dull story'];
    const labels = Int32Array.from([0, 0, 0, 1, 1, 1]);
    const trained = new TextClassifier({ mode: 'scratch', tfidf: fitTfidf(texts, labels, 2, { l2: 0.01 }) }, ['good', 'bad']);
    const out = join(tempDir(), 'tfidf');
    await trained.save(out, { training: { seed: 3 } });
    const model = await loadModel(out);
    assert.equal(model.kind, 'text');
    assert.deepEqual(model.describe().outputs, [{ name: 'class', kind: 'classification', labels: ['good', 'bad'] }]);
    assert.deepEqual(await model.predict(['a great film'], { top: 1 }), await trained.predict(['a great film'], { top: 1 }));
    await assert.rejects(model.export('onnx'), usage(/text models are not exported to ONNX/));
    await assert.rejects(trained.save(out), usage(/already exists/), 'an existing directory is kept without force');
  });
});

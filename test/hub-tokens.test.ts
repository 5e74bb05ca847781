// Token sequences as features: the pooling nodes pruneToCut adds (first token, mean) checked
// against the raw sequence on ONNX Runtime, masked mean pooling against its closed form, and a
// Hub text model in a folder (tokenizer.json, sentence-transformers pooling) embedding texts the
// same alone or padded in a batch, at unit length, truncated to its length.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOnnxRunner } from '../src/backend/onnx-runtime.js';
import { loadImageBase, loadTextBase } from '../src/bases/index.js';
import { pruneToCut } from '../src/onnx/prune.js';
import { poolTokens } from '../src/onnx/tokens.js';
import { tempDir } from './helpers.js';
import { TINY_BERT_MAX_TOKENS, tinyBert, tinyVit } from './hub-models.js';

function writeRepo(dir: string, files: Record<string, Uint8Array>): string {
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

describe('token cuts', () => {
  it('poolTokens: first token, mean, and a masked mean leaving padding out', () => {
    // 2 inputs x 3 tokens x 2 hidden
    const data = Float32Array.from([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 99, 99]);
    assert.deepEqual([...poolTokens(data, [2, 3, 2], 'cls').data], [1, 2, 10, 20]);
    assert.deepEqual([...poolTokens(data, [2, 3, 2], 'mean').data], [3, 4, 139 / 3, 159 / 3].map(Math.fround));
    assert.deepEqual([...poolTokens(data, [2, 3, 2], 'mean', [1, 1, 1, 1, 1, 0]).data], [3, 4, 20, 30]);
  });

  it('pruneToCut ends TENSOR:cls and TENSOR:mean in nodes that pool the sequence as closed forms do', async () => {
    const bytes = tinyVit()['onnx/model.onnx'];
    const x = Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37));
    const run = async (cut: string) => {
      const runner = await createOnnxRunner(pruneToCut(bytes, cut));
      try {
        return (await runner.run(x, [2, 3, 16, 16])).get(cut)!;
      } finally {
        await runner.release();
      }
    };
    const seq = await run('last_hidden_state');
    assert.deepEqual(seq.dims, [2, 16, 8]);
    const cls = await run('last_hidden_state:cls');
    const mean = await run('last_hidden_state:mean');
    assert.deepEqual(cls.dims, [2, 8]);
    close(cls.data, poolTokens(seq.data, seq.dims, 'cls').data);
    close(mean.data, poolTokens(seq.data, seq.dims, 'mean').data, 1e-5);
    assert.ok(Math.max(...cls.data.map((v, i) => Math.abs(v - mean.data[i]))) > 1e-3, 'the first token is not the mean on varied pixels');
  });

  it('an image model offers its outputs, their poolings and each layer, and suggests its pooled output', async () => {
    const base = await loadImageBase(writeRepo(tempDir('graft-vit-'), tinyVit()));
    assert.equal(base.kind, 'onnx');
    if (base.kind !== 'onnx') return;
    assert.equal(base.suggestedCut, 'pooler_output');
    assert.deepEqual(base.onnx.blockCuts, [
      '/encoder/layer.0/Add_1_output_0',
      '/encoder/layer.1/Add_1_output_0',
      'last_hidden_state:cls',
      'last_hidden_state:mean',
      'pooler_output',
    ]);
    assert.ok(base.onnx.tensors.includes('last_hidden_state:cls'));
    assert.ok(!base.onnx.tensors.includes('pooler_output:cls'), 'a vector has no tokens to pool');
  });

  it('a Hub text model in a folder: padded batches change nothing, unit length, truncation at its length', async () => {
    const base = await loadTextBase(writeRepo(tempDir('graft-bert-'), tinyBert()));
    assert.ok('source' in base);
    assert.equal(base.suggestedCut, 'last_hidden_state:mean');
    assert.equal(base.maxTokens, TINY_BERT_MAX_TOKENS);
    const encoder = await base.encoder();
    try {
      const short = 'The ball';
      const long = 'we cook rice and bake bread today';
      const alone = await encoder.embed([short]);
      const batch = await encoder.embed([long, short], { batchSize: 2 });
      const a = alone.dataSync();
      close(a, batch.dataSync().slice(8, 16), 1e-5);
      assert.ok(Math.abs(Math.hypot(...a) - 1) < 1e-5, 'unit length, as modules.json says');
      const words = Array.from({ length: 30 }, (_, i) => ['goal', 'soup', 'team'][i % 3]);
      const truncated: number[] = [];
      const cut = await encoder.embed([words.join(' ')], { onTruncate: (i) => truncated.push(i) });
      const kept = await encoder.embed([words.slice(0, TINY_BERT_MAX_TOKENS - 2).join(' ')]);
      assert.deepEqual(truncated, [0]);
      close(cut.dataSync(), kept.dataSync(), 1e-6);
      for (const t of [alone, batch, cut, kept]) t.dispose();
      await assert.rejects(base.encoder('nope'), /cut "nope" not found/);
    } finally {
      encoder.dispose();
    }
  });
});

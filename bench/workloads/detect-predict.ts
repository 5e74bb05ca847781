// detect-predict: what `graft predict` costs per image for a detector: mobilenet_v2 cut at its
// last stride-16 map with graft's CenterNet head, 320x320 letterboxed input, the forward pass and
// the decoding of its 20x20 grid — on ONNX Runtime (the exported model, in one session: what
// `graft predict`, `graft eval` and `graft serve` run) vs TF.js wasm (their fallback where ONNX
// Runtime does not load). The PyTorch peer has no detection workload, so it is not compared.
import * as tf from '@tensorflow/tfjs';
import { useBackend, wasmThreads } from '../../src/backend/index.js';
import { createOnnxRunner, defaultOnnxThreads } from '../../src/backend/onnx-runtime.js';
import { loadLayersBase } from '../../src/bases/index.js';
import { decodeGrid } from '../../src/evaluate/detection-decode.js';
import { graftDetector } from '../../src/graft/detect.js';
import { layersModelToOnnx } from '../../src/onnx/from-layers.js';
import { type BenchOptions, median, round, type Side, type Workload, type WorkloadResult } from '../lib.js';

const SIDE = 320;

/** ms per image of `once`: the median of `repeats` runs of `images` calls, after one warm-up call. */
export async function timed(
  repeats: number,
  images: number,
  once: () => Promise<void>,
  log: (m: string) => void,
  label: string,
): Promise<Side> {
  await once();
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < images; i++) await once();
    runs.push((performance.now() - t0) / images);
    log(`  ${label} run ${r + 1}/${repeats}: ${round(runs[r])} ms/image`);
  }
  return { msPerImage: round(median(runs)), batch: 1, images, runs: runs.map((v) => round(v)) };
}

export const detectPredict: Workload = {
  name: 'detect-predict',
  metric: 'msPerImage',
  describe: `detector (mobilenet_v2 + CenterNet head) ${SIDE}x${SIDE}, one image at a time, forward + decoding as graft predict runs it (ms/image, lower is better)`,
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const base = await loadLayersBase('mobilenet_v2');
    const g = await graftDetector(base, { classes: ['pedestrian'] });
    const grid = SIDE / g.stride;
    const decode = (data: Float32Array) => decodeGrid(data, grid, grid, { classes: 1, stride: g.stride, threshold: 0.3 });
    const x = tf.randomUniform([1, SIDE, SIDE, 3]);
    const pixels = x.dataSync() as Float32Array;
    const images = quick ? 4 : 16;
    const repeats = quick ? 2 : 3;

    log('detect-predict: graft on ONNX Runtime (the exported model)');
    const runner = await createOnnxRunner(layersModelToOnnx(g.model, { inputName: 'input' }));
    const output = runner.outputNames[0];
    const onnx = await timed(
      repeats,
      images,
      async () => void decode((await runner.run(pixels, [1, SIDE, SIDE, 3])).get(output)!.data),
      log,
      'onnx',
    );
    onnx.backend = 'onnxruntime';
    onnx.threads = defaultOnnxThreads();
    await runner.release();

    log('detect-predict: graft on TF.js wasm');
    const wasm = await timed(
      repeats,
      images,
      async () => {
        const y = g.model.predict(x) as tf.Tensor;
        decode((await y.data()) as Float32Array);
        y.dispose();
      },
      log,
      'wasm',
    );
    wasm.backend = 'wasm';
    wasm.threads = wasmThreads();
    tf.dispose(x);
    g.model.dispose();
    return {
      name: 'detect-predict',
      metric: 'msPerImage',
      graft: onnx,
      cpu: null,
      pytorch: null,
      others: { wasm },
      ratio: { vsWasm: round((wasm.msPerImage as number) / (onnx.msPerImage as number)) },
      notes: [
        'graft = the exported detector on ONNX Runtime, as graft predict, eval and serve run it; others.wasm = the same model on TF.js wasm (their fallback where ONNX Runtime does not load); the PyTorch peer has no detection workload',
      ],
    };
  },
};

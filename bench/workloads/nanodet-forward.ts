// nanodet-forward: the vendored NanoDet TF.js graph model (416x416, all six outputs, one image at
// a time) converted to ONNX and run on ONNX Runtime, vs the same graph model on TF.js wasm and
// cpu; and what the conversion itself costs. The PyTorch peer has no such workload.
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { useBackend, wasmThreads } from '../../src/backend/index.js';
import { createOnnxSession, defaultOnnxThreads } from '../../src/backend/onnx-runtime.js';
import { NANODET_DIR } from '../../src/bases/image/nanodet.js';
import { fileHandler } from '../../src/io/layers-files.js';
import { graphModelToOnnx } from '../../src/onnx/tfjs-graph/index.js';
import { type BenchOptions, median, round, type Side, type Workload, type WorkloadResult } from '../lib.js';
import { timed } from './detect-predict.js';

const SIDE = 416;

/** The graph model on TF.js `backend`, ms per image. */
async function onTfjs(backend: 'wasm' | 'cpu', x: tf.Tensor, repeats: number, images: number, log: (m: string) => void): Promise<Side> {
  await useBackend(backend);
  const graph = await tf.loadGraphModel(fileHandler(join(NANODET_DIR, 'model.json')));
  const side = await timed(
    repeats,
    images,
    async () => {
      const ys = graph.execute(x) as tf.Tensor[];
      await Promise.all(ys.map((y) => y.data()));
      tf.dispose(ys);
    },
    log,
    backend,
  );
  graph.dispose();
  return { ...side, backend, threads: backend === 'wasm' ? wasmThreads() : 1 };
}

export const nanodetForward: Workload = {
  name: 'nanodet-forward',
  metric: 'msPerImage',
  describe: `NanoDet graph model ${SIDE}x${SIDE}, one image at a time, all outputs (ms/image, lower is better)`,
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    const graph = await tf.loadGraphModel(fileHandler(join(NANODET_DIR, 'model.json')));
    const conversions: number[] = [];
    let bytes: Uint8Array = new Uint8Array();
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      bytes = graphModelToOnnx(graph);
      conversions.push((performance.now() - t0) / 1000);
    }
    graph.dispose();
    log(`nanodet-forward: conversion ${conversions.map((s) => round(s)).join(', ')} s`);
    const x = tf.randomUniform([1, 3, SIDE, SIDE]);
    const data = x.dataSync() as Float32Array;
    const images = quick ? 4 : 16;
    const repeats = quick ? 2 : 3;

    log('nanodet-forward: ONNX Runtime');
    const session = await createOnnxSession(bytes);
    const onnx = await timed(
      repeats,
      images,
      async () => void (await session.run({ input_1: { type: 'float32', data, dims: [1, 3, SIDE, SIDE] } })),
      log,
      'onnx',
    );
    await session.release();
    onnx.backend = 'onnxruntime';
    onnx.threads = defaultOnnxThreads();
    onnx.conversionSeconds = round(median(conversions));

    log('nanodet-forward: TF.js wasm');
    const wasm = await onTfjs('wasm', x, repeats, images, log);
    // tfjs cpu takes seconds per image here: two images, once.
    log('nanodet-forward: TF.js cpu');
    const cpu = await onTfjs('cpu', x, 1, 2, log);
    await useBackend('wasm');
    tf.dispose(x);
    return {
      name: 'nanodet-forward',
      metric: 'msPerImage',
      graft: onnx,
      cpu,
      pytorch: null,
      others: { wasm },
      ratio: {
        vsWasm: round((wasm.msPerImage as number) / (onnx.msPerImage as number)),
        vsCpu: round((cpu.msPerImage as number) / (onnx.msPerImage as number)),
      },
      notes: [
        `graft = the graph model converted to ONNX (median of 3 conversions: ${round(median(conversions))} s) on ONNX Runtime; others.wasm and cpu = the graph model on TF.js; the PyTorch peer has no such workload`,
      ],
    };
  },
};

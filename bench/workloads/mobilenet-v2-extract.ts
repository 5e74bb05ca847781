// mobilenet-v2-extract: frozen-trunk feature extraction (ms/image) of graft's `mobilenet_v2` base
// cut at out_relu, batch 32, on the engine graft picks (ONNX Runtime, every core) — against the
// same trunk on TF.js wasm and the PyTorch peer's MobileNetV2 forward (trunk + classifier).
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../src/backend/index.js';
import { defaultOnnxThreads } from '../../src/backend/onnx-runtime.js';
import { loadImageBase } from '../../src/bases/index.js';
import { disposeGrafted, graft } from '../../src/graft/graft.js';
import { frozenPart, type Engine } from '../../src/engine/frozen.js';
import { type BenchOptions, CORES, median, round, runPeer, type Side, type Workload, type WorkloadResult } from '../lib.js';

/** 0.6 GFLOP per image at the ~200 GFLOP/s a 1024³ matmul reached in PyTorch on this machine. */
const MACHINE_LIMIT_MS = 3;

async function extractSpeed(engine: Engine, batch: number, repeats: number, log: (m: string) => void): Promise<Side> {
  const base = await loadImageBase('mobilenet_v2');
  const g = await graft(base, { classes: ['a', 'b'] });
  const part = await frozenPart(g, g.cut, engine);
  const x = tf.randomUniform([batch, 224, 224, 3]);
  const once = async () => {
    const t0 = performance.now();
    const y = await part.predict(x);
    await y.data();
    y.dispose();
    return (performance.now() - t0) / batch;
  };
  await once();
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    runs.push(await once());
    log(`  ${part.engine} run ${r + 1}/${repeats}: ${round(runs[r])} ms/image`);
  }
  x.dispose();
  await part.release?.();
  await disposeGrafted(g);
  if (base.kind === 'layers') base.model.dispose();
  return { msPerImage: round(median(runs)), engine: part.engine, batch, images: batch, runs: runs.map((v) => round(v)) };
}

export const mobilenetV2Extract: Workload = {
  name: 'mobilenet-v2-extract',
  metric: 'msPerImage',
  describe: 'MobileNetV2 224x224 frozen-trunk features (cut out_relu), batch 32 (ms/image, lower is better)',
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    await useBackend('wasm');
    log('mobilenet-v2-extract: graft (auto engine)');
    const batch = quick ? 8 : 32;
    const graft = await extractSpeed('auto', batch, quick ? 3 : 7, log);
    graft.threads = defaultOnnxThreads();
    log('mobilenet-v2-extract: TF.js wasm');
    const wasm = await extractSpeed('tfjs', batch, quick ? 1 : 3, log);
    log('mobilenet-v2-extract: pytorch peer (mobilenet-v2-forward)');
    const extra = quick ? ['--n', '32'] : [];
    const pytorch = runPeer('mobilenet-v2-forward', 'ms_per_image', 1, quick ? 1 : 3, extra, log);
    const pytorchAllCores = CORES > 1 ? runPeer('mobilenet-v2-forward', 'ms_per_image', CORES, quick ? 1 : 3, extra, log) : pytorch;
    const g = graft.msPerImage as number;
    const best = Math.min(...[pytorch, pytorchAllCores].filter((p): p is Side => !!p).map((p) => p.msPerImage as number));
    const notes = [
      `graft: ${graft.engine} with ${graft.threads} threads; wasm: TF.js wasm backend, 1 thread (graft's default)`,
      'pytorch: torchvision mobilenet_v2 forward (trunk + classifier, slightly more work than the trunk), eval + no_grad, batch 32',
      `machine limit ~${MACHINE_LIMIT_MS} ms/image (0.6 GFLOP at ~200 GFLOP/s); graft is ${round(g / MACHINE_LIMIT_MS)}x it`,
    ];
    const ratio: Record<string, number | null> = {
      vsPytorch: pytorch ? round((pytorch.msPerImage as number) / g) : null,
      vsPytorchAllCores: pytorchAllCores ? round((pytorchAllCores.msPerImage as number) / g) : null,
      vsPytorchBest: Number.isFinite(best) ? round(best / g) : null,
      vsWasm: round((wasm.msPerImage as number) / g),
      vsMachineLimit: round(MACHINE_LIMIT_MS / g),
    };
    return {
      name: 'mobilenet-v2-extract',
      metric: 'msPerImage',
      graft,
      cpu: null,
      others: { wasm },
      pytorch,
      pytorchAllCores,
      ratio,
      notes,
    };
  },
};

// speech-embed: FSDD recordings per second through the speech-embedding base as graft trains and
// predicts with it: each WAV decoded, resampled to 16 kHz, fitted to 1.6 s and drawn by the mel
// model (ONNX Runtime), then the embedding model over each clip's frames, batches of clips (the frozen trunk),
// against speech-cnn's path (graft's own log-mel in plain code, its CNN trunk) on the same files.
// Needs ../shared/data/fsdd; skipped with a message when it is absent.
import { existsSync } from 'node:fs';
import { useBackend } from '../../src/backend/index.js';
import { defaultOnnxThreads } from '../../src/backend/onnx-runtime.js';
import { loadImageBase } from '../../src/bases/index.js';
import { loadManifest, parseWhere } from '../../src/data/manifest.js';
import { frozenPart } from '../../src/engine/frozen.js';
import { imagesToTensor } from '../../src/engine/tensors.js';
import { FSDD_MANIFEST } from '../../src/experiments/fsdd-transfer.js';
import { disposeGrafted, graft } from '../../src/graft/graft.js';
import { type BenchOptions, median, round, type Side, type Workload, type WorkloadResult } from '../lib.js';

/** Clips per second the issue asks of the base on this machine. */
const BAR = 100;
const BATCH = 64;

async function clipsPerSecond(baseName: string, clips: number, repeats: number, log: (m: string) => void): Promise<Side> {
  const base = await loadImageBase(baseName);
  const g = await graft(base, { classes: ['a', 'b'] });
  const part = await frozenPart(g, g.cut, 'auto');
  const runs: number[] = [];
  const phases = { decode: [] as number[], trunk: [] as number[] };
  // The first pass starts the sessions and is left out.
  for (let r = 0; r <= repeats; r++) {
    const t0 = performance.now();
    const set = await loadManifest(FSDD_MANIFEST, { size: base.input, medium: base.medium, where: [parseWhere('split=test')] });
    const n = Math.min(clips, set.labels.length);
    const t1 = performance.now();
    for (let i = 0; i < n; i += BATCH) {
      const x = imagesToTensor(
        set,
        base.normalize,
        Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => i + j),
      );
      const y = await part.predict(x);
      await y.data();
      x.dispose();
      y.dispose();
    }
    const t2 = performance.now();
    if (r === 0) continue;
    // loadManifest decodes every test clip; the rate counts all of them through the front end.
    const rate = set.labels.length / ((t1 - t0) / 1000 + ((t2 - t1) / 1000) * (set.labels.length / n));
    runs.push(rate);
    phases.decode.push((t1 - t0) / 1000);
    phases.trunk.push((t2 - t1) / 1000);
    log(
      `  ${baseName} run ${r}/${repeats}: ${round(rate)} clips/s (decode + front end ${round((t1 - t0) / 1000)} s, trunk ${round((t2 - t1) / 1000)} s for ${n} clips)`,
    );
  }
  // A trunk base's part is the graft's own trunk session, released with the graft.
  if (!g.trunk) await part.release?.();
  await disposeGrafted(g);
  if (base.kind === 'layers') base.model.dispose();
  return {
    imagesPerS: round(median(runs)),
    engine: part.engine,
    batch: BATCH,
    runs: runs.map((v) => round(v)),
    phases: { frontEndSeconds: round(median(phases.decode)), trunkSeconds: round(median(phases.trunk)), clips },
  };
}

export const speechEmbed: Workload = {
  name: 'speech-embed',
  metric: 'imagesPerS',
  describe: `FSDD recordings/s through speech-embedding (WAV → 16 kHz → mel model → windowed embedding, ONNX Runtime), test split, vs speech-cnn's path; bar ≥ ${BAR}`,
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    if (!existsSync(FSDD_MANIFEST)) {
      const why = `skipped: FSDD not found at ${FSDD_MANIFEST}`;
      log(`speech-embed: ${why}`);
      return { name: 'speech-embed', metric: 'imagesPerS', graft: {}, cpu: null, pytorch: null, ratio: {}, notes: [why] };
    }
    await useBackend('wasm');
    const clips = quick ? 64 : 300;
    log('speech-embed: speech-embedding');
    const graftSide = await clipsPerSecond('speech-embedding', clips, quick ? 1 : 3, log);
    graftSide.threads = defaultOnnxThreads();
    log("speech-embed: speech-cnn (graft's log-mel in plain code, its CNN trunk)");
    const cnn = await clipsPerSecond('speech-cnn', clips, quick ? 1 : 3, log);
    const rate = graftSide.imagesPerS as number;
    return {
      name: 'speech-embed',
      metric: 'imagesPerS',
      graft: graftSide,
      cpu: cnn,
      pytorch: null,
      ratio: { vsSpeechCnn: round(rate / (cnn.imagesPerS as number)), meetsBar: rate >= BAR },
      notes: [
        `graft: speech-embedding, ${rate} clips/s (bar ≥ ${BAR}: ${rate >= BAR ? 'met' : 'missed'}); the cpu column is speech-cnn's path on the same files`,
        'a clip: WAV read and decoded, resampled 8 → 16 kHz, fitted to 1.6 s, the mel model (one clip a call, clips decoded 8 at a time), then the embedding model over its 157 frames in one pass (its 11 windows), 64 clips a batch',
      ],
    };
  },
};

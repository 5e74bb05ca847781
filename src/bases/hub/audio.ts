// An audio encoder in the Hub's ONNX layout whose feature extractor takes raw samples
// (Wav2Vec2FeatureExtractor: wav2vec2, HuBERT, WavLM and their fine-tunes), as a frozen ONNX
// base. graft keeps a clip as mu-law codes (data/audio/waveform.ts); the base's graph expands
// them back to samples and normalises each clip as the feature extractor does, then runs the
// encoder, so from there it is an ONNX base like any other: its token sequence cut as
// `last_hidden_state:mean` or `:cls`, cached, saved as trunk/model.onnx, exported from samples.
import { readFile } from 'node:fs/promises';
import { usageError } from '../../core/errors.js';
import type { WaveformSpec } from '../../data/audio/waveform.js';
import { muLawExpandNodes, opsetOf } from '../../onnx/mu-law.js';
import { FLOAT, int64Tensor, node, onnx, valueInfo } from '../../onnx/proto.js';
import { onnxBaseFromBytes, type OnnxBaseOptions } from '../image/onnx.js';
import type { OnnxBase } from '../types.js';

/** The keys of a Wav2Vec2FeatureExtractor's preprocessor_config.json that graft reads. */
export interface AudioPreprocessorConfig {
  feature_extractor_type?: string;
  sampling_rate: number;
  do_normalize?: boolean;
  feature_size?: number;
}

/** Whether a preprocessor_config.json is an audio model's (it has a sampling rate; image processors do not). */
export const isAudioPreprocessor = (c: object): c is AudioPreprocessorConfig => 'sampling_rate' in c;

/** The clip a Hub audio base hears: the speech embedding's 1.6 s, so the two bases hear the same window of a recording. */
export const HUB_AUDIO_CLIP_SECONDS = 1.6;

/** The codes' input: [batch, samples, 1, 1], as graft feeds a one-channel image of clipSamples x 1. */
const INPUT = 'waveform';
const PREFIX = 'graft_waveform/';

/**
 * The encoder `bytes` taking a clip's mu-law codes: `input_values` (and an `attention_mask` of
 * ones, when the encoder reads one) computed from them in the graph.
 */
export function waveformEncoder(bytes: Uint8Array, spec: WaveformSpec, normalize: boolean, where: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const g = model.graph;
  if (!g) throw usageError(`${where} is not an ONNX model: it has no graph`);
  const initializers = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((v) => !initializers.has(v.name));
  const values = inputs.find((v) => v.name === 'input_values');
  const others = inputs.filter((v) => v !== values && v.name !== 'attention_mask');
  if (!values || others.length)
    throw usageError(
      `${where}: an audio encoder takes input_values (and maybe attention_mask); this one takes ${inputs.map((v) => v.name).join(', ')}`,
    );
  const t = (n: string) => `${PREFIX}${n}`;
  const expand = muLawExpandNodes(t('codes'), 'input_values', { mu: spec.mu, normalize, opset: opsetOf(model), prefix: t('') });
  const mask = inputs.some((v) => v.name === 'attention_mask')
    ? [
        node('Shape', [t('codes')], [t('shape')], t('shape')),
        // ConstantOfShape's value: one int64 1, as a tensor attribute.
        node('ConstantOfShape', [t('shape')], ['attention_mask'], t('mask'), {
          value: { type: onnx.AttributeProto.AttributeType.TENSOR, t: int64Tensor(t('one'), [1], [1]) },
        }),
      ]
    : [];
  g.node = [node('Reshape', [INPUT, t('flat')], [t('codes')], t('flat')), ...expand.nodes, ...mask, ...(g.node ?? [])];
  g.initializer = [int64Tensor(t('flat'), [2], [-1, spec.clipSamples]), ...expand.initializers, ...(g.initializer ?? [])];
  g.input = [valueInfo(INPUT, FLOAT, [null, spec.clipSamples, 1, 1])];
  return onnx.ModelProto.encode(model).finish();
}

/** `onnx` (a Hub audio encoder) with `config` (its preprocessor_config.json) as a base named `name`. */
export async function hubAudioBase(
  name: string,
  onnxPath: string,
  config: AudioPreprocessorConfig,
  options: OnnxBaseOptions,
): Promise<OnnxBase> {
  const type = config.feature_extractor_type ?? 'an unnamed feature extractor';
  if (type !== 'Wav2Vec2FeatureExtractor' || (config.feature_size ?? 1) !== 1)
    throw usageError(
      `${name}: its feature extractor is ${type}; graft reads Hub audio encoders that take raw samples (Wav2Vec2FeatureExtractor, feature_size 1)`,
    );
  if (!Number.isInteger(config.sampling_rate) || config.sampling_rate < 1000 || config.sampling_rate > 192000)
    throw usageError(`${name}: sampling_rate ${config.sampling_rate} is not a sample rate`);
  const given = Object.entries(options).filter(([k, v]) => v !== undefined && k !== 'threads');
  if (given.length)
    throw usageError(`${name} is an audio encoder: image preprocessing (${given.map(([k]) => k).join(', ')}) does not apply`);
  const spec: WaveformSpec = {
    frontEnd: 'mu-law',
    sampleRate: config.sampling_rate,
    clipSamples: Math.round(config.sampling_rate * HUB_AUDIO_CLIP_SECONDS),
    mu: 255,
  };
  const normalize = config.do_normalize !== false;
  const bytes = waveformEncoder(new Uint8Array(await readFile(onnxPath)), spec, normalize, name);
  const base = await onnxBaseFromBytes(bytes, name, {
    layout: 'nhwc',
    size: { height: spec.clipSamples, width: 1 },
    // Codes stored as levels 0-255 become 2 level/255 - 1, the code in [-1, 1] the graph expands.
    normalize: { mean: [0.5], std: [0.5] },
    resize: 'fill',
    threads: options.threads,
  });
  return {
    ...base,
    name,
    head: { kind: 'linear', dropout: 0.2 },
    provenance: `${name}: ${base.provenance}; recordings at ${spec.sampleRate} Hz in ${HUB_AUDIO_CLIP_SECONDS} s clips, kept as 8-bit mu-law codes${normalize ? ', each clip at zero mean and unit variance' : ''} (its ${type})`,
    medium: { kind: 'audio', spec },
  };
}

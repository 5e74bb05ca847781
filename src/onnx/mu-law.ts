// Mu-law companding (data/audio/waveform.ts) as ONNX operators: the expansion a waveform base's
// trunk starts with (stored codes back to samples, then the feature extractor's normalisation),
// and the compression an exported model starts with (samples to the codes graft stores), so the
// file takes samples and computes what graft computes.
import {
  floatTensor,
  int,
  int64Tensor,
  ints,
  IR_VERSION,
  node,
  onnx,
  valueInfo,
  FLOAT,
  type NodeProto,
  type TensorProto,
} from './proto.js';

/** Nodes and the constants they read. */
export interface Nodes {
  nodes: NodeProto[];
  initializers: TensorProto[];
}

const scalar = (name: string, v: number) => floatTensor(name, [], Float32Array.of(v));

/** The default opset of a model: its version of the ONNX domain. */
export const opsetOf = (m: InstanceType<typeof onnx.ModelProto>): number =>
  Number((m.opsetImport ?? []).find((o) => !o.domain)?.version ?? 13);

/** ReduceMean over `axes`, keeping them: an attribute until opset 18, an input since. */
function reduceMean(input: string, output: string, axes: number[], opset: number, name: string, init: TensorProto[]): NodeProto {
  if (opset < 18) return node('ReduceMean', [input], [output], name, { axes: ints(axes), keepdims: int(1) });
  init.push(int64Tensor(`${name}/axes`, [axes.length], axes));
  return node('ReduceMean', [input, `${name}/axes`], [output], name, { keepdims: int(1) });
}

/**
 * `codes` (mu-law codes in [-1, 1], [batch, samples]) → `output`: the samples they stand for,
 * sign(y) (exp(|y| ln(1 + mu)) - 1) / mu, then, when `normalize`, each clip at zero mean and unit
 * variance as Wav2Vec2FeatureExtractor's zero_mean_unit_var_norm does ((x - mean) / sqrt(var + 1e-7)).
 */
export function muLawExpandNodes(
  codes: string,
  output: string,
  o: { mu: number; normalize: boolean; opset: number; prefix: string },
): Nodes {
  const t = (n: string) => `${o.prefix}${n}`;
  const init = [scalar(t('log_base'), Math.log1p(o.mu)), scalar(t('one'), 1), scalar(t('inv_mu'), 1 / o.mu), scalar(t('eps'), 1e-7)];
  const samples = o.normalize ? t('samples') : output;
  const nodes = [
    node('Abs', [codes], [t('abs')], t('abs')),
    node('Sign', [codes], [t('sign')], t('sign')),
    node('Mul', [t('abs'), t('log_base')], [t('exponent')], t('exponent')),
    node('Exp', [t('exponent')], [t('power')], t('power')),
    node('Sub', [t('power'), t('one')], [t('magnitude_mu')], t('magnitude_mu')),
    node('Mul', [t('magnitude_mu'), t('inv_mu')], [t('magnitude')], t('magnitude')),
    node('Mul', [t('sign'), t('magnitude')], [samples], t('expanded')),
  ];
  if (o.normalize)
    nodes.push(
      reduceMean(samples, t('mean'), [1], o.opset, t('mean'), init),
      node('Sub', [samples, t('mean')], [t('centred')], t('centred')),
      node('Mul', [t('centred'), t('centred')], [t('squared')], t('squared')),
      reduceMean(t('squared'), t('variance'), [1], o.opset, t('variance'), init),
      node('Add', [t('variance'), t('eps')], [t('variance_eps')], t('variance_eps')),
      node('Sqrt', [t('variance_eps')], [t('sd')], t('sd')),
      node('Div', [t('centred'), t('sd')], [output], t('normalised')),
    );
  return { nodes, initializers: init };
}

/**
 * A model from samples [batch, samples] (floats, [-1, 1] full scale) to their mu-law codes as real
 * numbers in [-1, 1] (`code`), for `prependFrontEnd` to put before `model` (at its opset), which
 * then quantises them as graft stores them.
 */
export function muLawCompressor(samples: number, mu: number, model: Uint8Array): Uint8Array {
  const opset = opsetOf(onnx.ModelProto.decode(model));
  const t = (n: string) => `mu_law/${n}`;
  const graph = {
    name: 'mu_law',
    node: [
      node('Clip', ['x', t('minus_one'), t('one')], [t('clipped')], t('clip')),
      node('Abs', [t('clipped')], [t('abs')], t('abs')),
      node('Sign', [t('clipped')], [t('sign')], t('sign')),
      node('Mul', [t('abs'), t('mu')], [t('scaled')], t('scaled')),
      node('Add', [t('scaled'), t('one')], [t('shifted')], t('shifted')),
      node('Log', [t('shifted')], [t('log')], t('log')),
      node('Mul', [t('log'), t('inv_log_base')], [t('magnitude')], t('magnitude')),
      node('Mul', [t('sign'), t('magnitude')], ['code'], t('code')),
    ],
    initializer: [scalar(t('minus_one'), -1), scalar(t('one'), 1), scalar(t('mu'), mu), scalar(t('inv_log_base'), 1 / Math.log1p(mu))],
    input: [valueInfo('x', FLOAT, [null, samples])],
    output: [valueInfo('code', FLOAT, [null, samples])],
  };
  const compressor = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'graft',
    graph,
  });
  return onnx.ModelProto.encode(compressor).finish();
}

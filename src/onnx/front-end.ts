// One ONNX graph from samples to answer: a front-end model (the speech embedding's mel model)
// and the arithmetic graft applies to its output (scale, 8-bit levels, normalisation) put before
// a classifier that takes those frames, so an audio model on such a base deploys as one file.
import onnxProto from 'onnx-proto';
import { usageError } from '../core/errors.js';
import { prefixGraph } from './join.js';
import { FLOAT, floatTensor, int64Tensor, node, valueInfo } from './proto.js';

const { onnx } = onnxProto;

const PREFIX = 'graft_front/';

/** What graft computes between the samples and the classifier's input, as numbers. */
export interface FrontEndArithmetic {
  /** Samples per clip: the graph's input is [batch, samples]. */
  samples: number;
  /** The classifier's input: [batch, frames, mels, 1]. */
  frames: number;
  mels: number;
  /** Samples are multiplied by this before the front-end model (openWakeWord feeds int16 values). */
  inputScale: number;
  /** The front end's output y becomes the 8-bit level round(clip(y·levelScale + levelShift, 0, 255)). */
  levelScale: number;
  levelShift: number;
  /** The level then becomes the classifier's input as graft normalises pixels: (level/255 − mean)/std. */
  normalize: { mean: number; std: number };
}

const scalar = (name: string, v: number) => floatTensor(`${PREFIX}${name}`, [], Float32Array.of(v));

/** `frontEnd` (one float input, one output holding frames x mels per clip) feeding `model`'s one input through `a`. */
export function prependFrontEnd(model: Uint8Array, frontEnd: Uint8Array, a: FrontEndArithmetic): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  const f = onnx.ModelProto.decode(frontEnd);
  const mg = m.graph!;
  const fg = f.graph!;
  if (mg.input?.length !== 1 || fg.input?.length !== 1 || fg.output?.length !== 1)
    throw usageError('a front end joins a model with one input to a front-end model with one input and one output');
  const modelIn = mg.input[0].name!;
  const frontIn = fg.input[0].name!;
  const frontOut = fg.output[0].name!;
  const opset = (p: InstanceType<typeof onnx.ModelProto>) =>
    Math.max(...(p.opsetImport ?? []).filter((o) => !o.domain).map((o) => Number(o.version)));
  if (opset(m) !== opset(f))
    throw usageError(`the front end is ONNX opset ${opset(f)} and the model ${opset(m)}; graft joins the same opset`);
  const t = (n: string) => `${PREFIX}${n}`;
  prefixGraph(fg, PREFIX, new Map([[frontIn, t('scaled')]]));
  const out = `${PREFIX}${frontOut}`;
  const nodes = [
    node('Mul', ['samples', t('input_scale')], [t('scaled')], t('scale')),
    ...(fg.node ?? []),
    node('Mul', [out, t('level_scale')], [t('level_scaled')], t('level_scale_op')),
    node('Add', [t('level_scaled'), t('level_shift')], [t('level_raw')], t('level_shift_op')),
    // Round is half to even where graft's Math.round is half up: the two differ only at exact halves.
    node('Round', [t('level_raw')], [t('level_rounded')], t('round')),
    node('Clip', [t('level_rounded'), t('zero'), t('top')], [t('level')], t('clip')),
    node('Mul', [t('level'), t('pixel_scale')], [t('pixel_scaled')], t('pixel_scale_op')),
    node('Add', [t('pixel_scaled'), t('pixel_shift')], [t('normalised')], t('pixel_shift_op')),
    node('Reshape', [t('normalised'), t('shape')], [modelIn], t('to_input')),
  ];
  mg.node = [...nodes, ...(mg.node ?? [])];
  mg.initializer = [
    ...(fg.initializer ?? []),
    scalar('input_scale', a.inputScale),
    scalar('level_scale', a.levelScale),
    scalar('level_shift', a.levelShift),
    scalar('zero', 0),
    scalar('top', 255),
    scalar('pixel_scale', 1 / (255 * a.normalize.std)),
    scalar('pixel_shift', -a.normalize.mean / a.normalize.std),
    int64Tensor(t('shape'), [4], [-1, a.frames, a.mels, 1]),
    ...(mg.initializer ?? []),
  ];
  mg.valueInfo = [...(fg.valueInfo ?? []), ...(mg.valueInfo ?? [])];
  mg.input = [valueInfo('samples', FLOAT, [null, a.samples])];
  m.opsetImport = [
    ...(m.opsetImport ?? []),
    ...(f.opsetImport ?? []).filter((o) => o.domain && !m.opsetImport?.some((p) => p.domain === o.domain)),
  ];
  return onnx.ModelProto.encode(m).finish();
}

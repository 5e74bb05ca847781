// A feature pyramid's levels joined into one map at one stride, as extra nodes of an NCHW ONNX
// model: finer levels average-pooled down, coarser ones repeated up (nearest), all concatenated
// along channels. A detector base's maps at strides 8, 16 and 32 then become one cut a
// single-stride head can sit on and the feature cache can hold, like any other tensor of the
// model (CenterNet itself joins its backbone's levels into one map before its head, by learned
// upsampling; here nothing is learned, so the join is exact and the frozen trunk stays frozen).
import { usageError } from '../core/errors.js';
import { decodeModel } from './prune.js';
import { floatTensor, int, ints, node, onnx, str } from './proto.js';

export interface PyramidLevel {
  /** An NCHW tensor of the model. */
  tensor: string;
  /** Its stride in input pixels. */
  stride: number;
}

export interface PyramidJoin {
  /** The joined map's tensor name. */
  name: string;
  /** Levels in the order their channels are concatenated. */
  levels: readonly PyramidLevel[];
  /** The joined map's stride; every level's stride is a power-of-two multiple or fraction of it. */
  stride: number;
}

/** `model` with each join's nodes appended (its outputs unchanged: a join is a cut, not an output). */
export function appendPyramidJoins(model: Uint8Array, joins: readonly PyramidJoin[]): Uint8Array {
  const m = decodeModel(model).proto;
  const g = m.graph!;
  const known = new Set((g.node ?? []).flatMap((n) => n.output ?? []));
  for (const j of joins) {
    if (known.has(j.name)) throw usageError(`pyramid join ${j.name}: the model already has a tensor of that name`);
    const parts = j.levels.map((level, i) => {
      if (!known.has(level.tensor)) throw usageError(`pyramid join ${j.name}: ${level.tensor} is not a tensor of the model`);
      const t = (suffix: string) => `${j.name}/${i}_${suffix}`;
      if (level.stride === j.stride) return { tensor: level.tensor, nodes: [], initializers: [] };
      const ratio = Math.max(level.stride, j.stride) / Math.min(level.stride, j.stride);
      if (!Number.isInteger(ratio))
        throw usageError(`pyramid join ${j.name}: stride ${level.stride} does not divide or multiply ${j.stride}`);
      if (level.stride < j.stride)
        return {
          tensor: t('pooled'),
          nodes: [
            node('AveragePool', [level.tensor], [t('pooled')], t('pool'), {
              kernel_shape: ints([ratio, ratio]),
              strides: ints([ratio, ratio]),
            }),
          ],
          initializers: [],
        };
      // Cell (y, x) of the joined map reads cell (floor(y / ratio), floor(x / ratio)) of the coarser one.
      return {
        tensor: t('repeated'),
        nodes: [
          node('Resize', [level.tensor, '', t('scales')], [t('repeated')], t('repeat'), {
            mode: str('nearest'),
            coordinate_transformation_mode: str('asymmetric'),
            nearest_mode: str('floor'),
          }),
        ],
        initializers: [floatTensor(t('scales'), [4], Float32Array.of(1, 1, ratio, ratio))],
      };
    });
    g.node = [
      ...(g.node ?? []),
      ...parts.flatMap((p) => p.nodes),
      node(
        'Concat',
        parts.map((p) => p.tensor),
        [j.name],
        `${j.name}/concat`,
        { axis: int(1) },
      ),
    ];
    g.initializer = [...(g.initializer ?? []), ...parts.flatMap((p) => p.initializers)];
    known.add(j.name);
  }
  return onnx.ModelProto.encode(m).finish();
}

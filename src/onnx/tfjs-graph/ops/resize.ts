// Image resizing: TF's ResizeBilinear and ResizeNearestNeighbor as ONNX Resize on the NCHW form,
// to the constant size the graph gives. TF's two flags map to ONNX's coordinate transformations:
// half_pixel_centers is half_pixel, align_corners is align_corners, neither is asymmetric. TF's
// nearest neighbour takes floor((out + 0.5) * scale) with half-pixel centres, which is ONNX's
// half_pixel (out + 0.5) * scale - 0.5 rounded half up; round(...) with aligned corners; floor(...)
// with neither.
import { int, str } from '../../proto.js';
import { attrBool } from '../graph-def.js';
import { type OpContext, type OpConverter, unsupportedForm } from '../context.js';

function resize(mode: 'linear' | 'nearest'): OpConverter {
  return (c: OpContext) => {
    const size = Array.from(c.required(1, 'the size').values, Number);
    const halfPixel = attrBool(c.node, 'half_pixel_centers');
    const alignCorners = attrBool(c.node, 'align_corners');
    if (halfPixel && alignCorners) throw unsupportedForm(c.node, 'half_pixel_centers with align_corners');
    const x = c.nchw(0);
    const { g } = c;
    // ONNX wants every dimension's size: the batch and channels are the input's own.
    const batchAndChannels = g.op('Slice', [g.op('Shape', [x]), g.int64s([0]), g.int64s([2])]);
    const sizes = g.op('Concat', [batchAndChannels, g.int64s(size)], { axis: int(0) });
    const coordinates = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
    const attrs = {
      mode: str(mode),
      coordinate_transformation_mode: str(coordinates),
      ...(mode === 'nearest' ? { nearest_mode: str(alignCorners || halfPixel ? 'round_prefer_ceil' : 'floor') } : {}),
    };
    // Resize's roi and scales are unused when sizes are given (empty names skip optional inputs).
    c.emitFromNchw(g.op('Resize', [x, '', '', sizes], attrs));
  };
}

export const RESIZE_OPS: Record<string, OpConverter> = {
  ResizeBilinear: resize('linear'),
  ResizeNearestNeighbor: resize('nearest'),
};

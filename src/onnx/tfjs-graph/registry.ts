// The op registry of the graph-model converter: TF op name → its converter. A new op is one entry
// in its family's module, with a test in test/tfjs-graph.test.ts comparing it with TF.js.
import type { OpConverter } from './context.js';
import { CONV_OPS } from './ops/conv.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { MATMUL_OPS } from './ops/matmul.js';
import { REDUCE_OPS } from './ops/reduce.js';
import { RESIZE_OPS } from './ops/resize.js';
import { SHAPE_OPS } from './ops/shape.js';

export const GRAPH_OPS: Record<string, OpConverter> = {
  ...CONV_OPS,
  ...MATMUL_OPS,
  ...ELEMENTWISE_OPS,
  ...SHAPE_OPS,
  ...REDUCE_OPS,
  ...RESIZE_OPS,
};

export const hasConverter = (op: string): boolean => Object.hasOwn(GRAPH_OPS, op);

// Flags for bases whose files cannot say how to preprocess (ONNX models): the same on every
// command that loads a base. A sidecar MODEL.onnx.json gives the same keys.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { OnnxBaseOptions } from '../bases/onnx.js';

export interface BaseFlags {
  mean?: number[];
  std?: number[];
  inputSize?: { height: number; width: number };
  layout?: 'nhwc' | 'nchw';
}

const numbers = (name: string) => (v: string) => {
  const xs = v.split(',').map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x)))
    throw new InvalidArgumentError(`${name} must be comma-separated numbers, e.g. 0.485,0.456,0.406`);
  return xs;
};

const size = (v: string) => {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m || Number(m[1]) < 1) throw new InvalidArgumentError('--input-size must be HxW or N, e.g. 224x224');
  return { height: Number(m[1]), width: Number(m[2] ?? m[1]) };
};

export function withBaseFlags(cmd: Command): Command {
  return cmd
    .option('--mean <list>', "per-channel mean of [0,1] pixels the base expects (default: the base's own, 0 for ONNX)", numbers('--mean'))
    .option('--std <list>', "per-channel std the base expects (default: the base's own, 1 for ONNX)", numbers('--std'))
    .option('--input-size <HxW>', 'input size when the ONNX model leaves it dynamic', size)
    .addOption(new Option('--layout <layout>', 'image layout of the ONNX input (default: from its shape)').choices(['nhwc', 'nchw']));
}

export function baseOptions(f: BaseFlags): OnnxBaseOptions {
  // One of the two alone keeps the other neutral, with as many channels as the given one.
  const normalize = f.mean || f.std ? { mean: f.mean ?? f.std!.map(() => 0), std: f.std ?? f.mean!.map(() => 1) } : undefined;
  return { normalize, size: f.inputSize, layout: f.layout };
}

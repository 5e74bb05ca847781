// Option parsers: a bad value is a usage error (exit 2) naming the option.
import { InvalidArgumentError } from 'commander';

export const intArg = (name: string, min = 0) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
  return n;
};
export const numArg = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

// Option parsers: a bad value is a usage error (exit 2) naming the option.
import { InvalidArgumentError, type Command } from 'commander';
import { usageError } from '../errors.js';

export const intArg =
  (name: string, min = 0) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
export const numArg = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

/** A usage error naming the flags among `keys` the command line gave, which do not apply `why` (e.g. "to image bases, not to use-lite"). */
export function refuseFlags(cmd: Command, keys: readonly string[], why: string): void {
  const given = keys.filter((k) => cmd.getOptionValueSource(k) === 'cli');
  const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (given.length) throw usageError(`${given.map(flagName).join(', ')} ${given.length > 1 ? 'apply' : 'applies'} ${why}`);
}

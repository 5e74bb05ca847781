// `--config FILE` (JSON or YAML): a command's flags kept in a file. Every flag of the command is a
// key, in camelCase as the library spells it (batchSize) or as on the command line (batch-size,
// no-cache); repeatable flags (--task) take a list. Paths in it are as typed (relative to the
// working directory). The file is checked with a schema built from the
// command's own options (zod), then turned into the flags it stands for, placed before the
// command line's: a flag given on the command line wins over the file, and every value goes
// through the same parser as when typed.
import { extname } from 'node:path';
import type { Command, Option } from 'commander';
import type { ZodType } from 'zod';
import { usageError } from '../core/errors.js';
import { MiB, readSmallText } from '../io/read.js';
// yaml and zod are imported when a --config is given, not on every start (together ~0.3 s).

export const CONFIG_FLAG = '--config';

const camel = (key: string) => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Options that take a list in a config file: those given an array default (collected from repeated flags). */
const repeatable = (o: Option) => o.variadic || Array.isArray(o.defaultValue);
const takesValue = (o: Option) => o.required || o.optional;

/** A key written as its `--no-…` flag (`no-cache: true`) as the option's own key (`cache: false`). */
function negatedKey(cmd: Command, key: string, value: unknown): [string, unknown] {
  const o = cmd.options.find((x) => x.negate && camel(x.long!.slice(2)) === key);
  return o && typeof value === 'boolean' ? [o.attributeName(), !value] : [key, value];
}

/** The schema of a config file for `cmd`: one optional key per flag, nothing else. */
export async function configSchema(cmd: Command) {
  const { z } = await import('zod');
  const scalar = z.union([z.string(), z.number()]);
  const shape: Record<string, ZodType> = {};
  for (const o of cmd.options) {
    if (!o.long || o.long === CONFIG_FLAG || o.long === '--help') continue;
    const value = takesValue(o) ? (repeatable(o) ? z.union([scalar, z.array(scalar)]) : scalar) : z.boolean();
    shape[o.attributeName()] = value.optional();
  }
  return z.strictObject(shape);
}

/** A config file is a page of flags: more than this is not one (and /dev/zero must not fill the memory first). */
const MAX_CONFIG_BYTES = MiB;

async function readConfig(file: string): Promise<unknown> {
  const text = await readSmallText(file, MAX_CONFIG_BYTES, 'config file', "a config file holds a command's flags");
  try {
    return extname(file).toLowerCase() === '.json' ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (e) {
    throw usageError(
      `${file}: not valid ${extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

/** The attribute names of the flags typed on the command line (either form of a negatable pair). */
function typedFlags(cmd: Command, args: string[]): Set<string> {
  const typed = new Set<string>();
  for (const a of args) {
    const flag = a.split('=')[0];
    const o = cmd.options.find((x) => x.long === flag || x.short === flag);
    if (o) typed.add(o.attributeName());
  }
  return typed;
}

/** The flags `values` (validated) stand for, skipping those the command line gives. */
function toFlags(cmd: Command, values: Record<string, unknown>, typed: Set<string>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || typed.has(key)) continue;
    const options = cmd.options.filter((o) => o.attributeName() === key);
    const plain = options.find((o) => !o.negate);
    const negated = options.find((o) => o.negate);
    if (typeof value === 'boolean') {
      if (value && plain) out.push(plain.long!);
      else if (!value && negated) out.push(negated.long!);
      continue;
    }
    for (const v of [value].flat()) out.push(plain!.long!, String(v));
  }
  return out;
}

/**
 * argv (after the program name) with `--config FILE` replaced by the flags the file holds, for
 * the command argv names. Without --config, argv as it is.
 */
export async function expandConfig(argv: string[], program: Command): Promise<string[]> {
  const isConfig = (a: string) => a === CONFIG_FLAG || a.startsWith(`${CONFIG_FLAG}=`);
  const at = argv.findIndex(isConfig);
  if (at < 0) return argv;
  if (argv.filter(isConfig).length > 1) throw usageError(`give ${CONFIG_FLAG} once`);
  const file = argv[at].includes('=') ? argv[at].slice(CONFIG_FLAG.length + 1) : argv[at + 1];
  if (!file || file.startsWith('--')) throw usageError(`${CONFIG_FLAG} needs a file (JSON or YAML)`);
  const rest = [...argv.slice(0, at), ...argv.slice(at + (argv[at].includes('=') ? 1 : 2))];
  const cmd = program.commands.find((c) => c.name() === rest[0]);
  if (!cmd) throw usageError(`${CONFIG_FLAG} goes after a command (e.g. graft train ${CONFIG_FLAG} ${file})`);
  const raw = await readConfig(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw usageError(`${file}: expected a mapping of ${cmd.name()}'s flags to values`);
  const keyed = Object.fromEntries(Object.entries(raw).map(([k, v]) => negatedKey(cmd, camel(k), v)));
  const parsed = (await configSchema(cmd)).safeParse(keyed);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    const known = cmd.options.filter((o) => o.long && o.long !== CONFIG_FLAG && o.long !== '--help').map((o) => o.attributeName());
    const hint = issue.code === 'unrecognized_keys' ? ` (${cmd.name()} takes: ${[...new Set(known)].join(', ')})` : '';
    throw usageError(`${file}: ${where}${issue.message}${hint}`);
  }
  return [rest[0], ...toFlags(cmd, parsed.data as Record<string, unknown>, typedFlags(cmd, rest.slice(1))), ...rest.slice(1)];
}

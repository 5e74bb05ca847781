// Entry point for text data: turn a spec into a TextSet. Specs:
//   reviews.csv, reviews.tsv, reviews.jsonl, reviews.ndjson   a text table (see read.ts)
//   spam-assassin                                           the built-in mail corpus, all five groups
//   spam-assassin:easy-ham-1,spam-1                         only these groups (comma-separated)
// A table needs one of those extensions, so a spec is never both a file and the built-in name.
import { stat } from 'node:fs/promises';
import { usageError } from '../../core/errors.js';
import { isTextTablePath, readTextTable, TEXT_TABLE_EXTENSIONS, type ReadTextOptions } from './read.js';
import { loadSpamAssassin, SPAM_ASSASSIN_GROUPS } from './spam-assassin.js';
import { subsetText } from './split.js';
import type { TextSet } from './types.js';

export type * from './types.js';
export {
  readTextTable,
  isTextTablePath,
  TEXT_TABLE_EXTENSIONS,
  DEFAULT_TEXT_COLUMN,
  DEFAULT_LABEL_COLUMN,
  type ReadTextOptions,
} from './read.js';
export {
  loadSpamAssassin,
  emailText,
  SPAM_ASSASSIN_GROUPS,
  SPAM_ASSASSIN_CLASSES,
  type SpamAssassinGroup,
  type SpamAssassinOptions,
} from './spam-assassin.js';
export { splitText, applyPerClassText, subsetText, positionsIn, type TextSplits } from './split.js';

/** The spec naming the built-in corpus; `spam-assassin:<group>,<group>` picks groups. */
export const SPAM_ASSASSIN_SPEC = 'spam-assassin';

/** Options for any spec; the column options only apply to tables. */
export type TextLoadOptions = ReadTextOptions;

/** The groups a `spam-assassin[:g1,g2]` spec names (undefined: all), or undefined if the spec is something else. */
export function parseSpamAssassinSpec(spec: string): { groups?: string[] } | undefined {
  if (spec === SPAM_ASSASSIN_SPEC) return {};
  if (!spec.startsWith(`${SPAM_ASSASSIN_SPEC}:`)) return undefined;
  const groups = spec
    .slice(SPAM_ASSASSIN_SPEC.length + 1)
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  return { groups };
}

/** A loaded set's classes narrowed and reordered to `classes`, dropping texts of the others. */
function inClasses(set: TextSet, classes: string[], spec: string): TextSet {
  const absent = classes.filter((c) => !set.classes.includes(c));
  if (absent.length) throw usageError(`${spec}: no class ${absent.join(', ')} (classes: ${set.classes.join(', ')})`);
  if (new Set(classes).size !== classes.length) throw usageError(`${spec}: a class is listed twice in ${classes.join(', ')}`);
  const keep = Array.from(set.labels.keys()).filter((i) => classes.includes(set.classes[set.labels[i]]));
  const kept = subsetText(set, keep);
  return { ...kept, classes: [...classes], labels: kept.labels.map((l) => classes.indexOf(set.classes[l])) };
}

/** Load the texts a spec names (see the top of this file). */
export async function loadText(spec: string, o: TextLoadOptions = {}): Promise<TextSet> {
  const builtIn = parseSpamAssassinSpec(spec);
  if (builtIn) {
    if (o.where?.length)
      throw usageError(`--where selects rows of a text table; ${SPAM_ASSASSIN_SPEC} selects by group (${SPAM_ASSASSIN_SPEC}:GROUP,…)`);
    const set = await loadSpamAssassin({ groups: builtIn.groups, callbacks: o.callbacks });
    return o.classes ? inClasses(set, o.classes, spec) : set;
  }
  if (!isTextTablePath(spec)) {
    throw usageError(
      `${spec} is not a text table (${TEXT_TABLE_EXTENSIONS.join(', ')}) or the built-in ${SPAM_ASSASSIN_SPEC} ` +
        `(groups: ${SPAM_ASSASSIN_SPEC}:${SPAM_ASSASSIN_GROUPS.slice(0, 2).join(',')})`,
    );
  }
  if (!(await stat(spec).catch(() => undefined))?.isFile()) throw usageError(`data path not found: ${spec}`);
  return readTextTable(spec, o);
}

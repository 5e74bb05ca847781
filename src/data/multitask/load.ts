// Multi-task data from a spec: a manifest with one column per task, nested class folders (one
// folder level per task), or the built-in digits-in-scenes. Tasks come as the user names them
// (`--task NAME:KIND[:COLUMN]`); their classes are read from the data.
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { usageError } from '../../core/errors.js';
import type { TaskSpec } from './types.js';
import { decodeFiles, Progress, settleSkips, shouldStream, STREAM_ABOVE_BYTES } from '../build.js';
import { listDir, walk } from '../folder.js';
import { isManifestPath, readManifest, sortLabels, type ManifestRow } from '../manifest.js';
import type { LoadOptions, Skipped } from '../types.js';
import { DIGITS_IN_SCENES_SCENES, loadDigitsInScenes } from './digits-in-scenes.js';
import type { MultiTaskSet, TaskKind, TaskLabels } from './types.js';

export const TASK_KINDS: readonly TaskKind[] = ['classification', 'multi-label', 'regression'];

/** A task as the user names it: where its labels are and what kind they are. */
export interface TaskColumn {
  name: string;
  kind: TaskKind;
  /** The manifest column holding its labels (default: the task's name). */
  column?: string;
}

/** `NAME[:KIND[:COLUMN]]`, KIND defaulting to classification. */
export function parseTaskArg(spec: string): TaskColumn {
  const [name, kind = 'classification', column, ...rest] = spec.split(':');
  if (!name || rest.length) throw usageError(`--task ${JSON.stringify(spec)}: expected NAME[:KIND[:COLUMN]]`);
  if (!TASK_KINDS.includes(kind as TaskKind))
    throw usageError(`--task ${spec}: kind must be one of ${TASK_KINDS.join(', ')}, not ${JSON.stringify(kind)}`);
  return { name, kind: kind as TaskKind, ...(column ? { column } : {}) };
}

/** The built-in set: `digits-in-scenes` or `digits-in-scenes:COUNT` (3,000 images by default). */
export const DIGITS_IN_SCENES_SPEC = 'digits-in-scenes';
const BUILT_IN_TASKS: Record<string, readonly string[]> = {
  digit: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  scene: DIGITS_IN_SCENES_SCENES,
};

/** A folder level standing for "no label for this task" in nested folders. */
export const UNLABELLED_FOLDER = '_';
/** Separates several labels (multi-label) or numbers (regression) in a CSV cell. */
export const CELL_SEPARATOR = '|';

export interface MultiTaskLoadOptions extends Pick<LoadOptions, 'size' | 'resize' | 'strict' | 'callbacks'> {
  tasks: TaskColumn[];
  /** The built-in set's seed. */
  seed?: number;
  /** Evaluation: a task may have fewer than 2 classes (or no labels) in this data; the model's tasks decide (alignTasks). */
  anyClasses?: boolean;
}

/** The tasks with their classes (as found in the data, sorted as single-task labels are) and the set labelled for them. */
export interface LoadedTasks {
  set: MultiTaskSet;
  tasks: TaskSpec[];
}

export async function loadMultiTask(spec: string, o: MultiTaskLoadOptions): Promise<LoadedTasks> {
  if (!o.tasks.length) throw usageError('name at least one task (--task NAME:KIND[:COLUMN])');
  if (spec === DIGITS_IN_SCENES_SPEC || spec.startsWith(`${DIGITS_IN_SCENES_SPEC}:`)) return builtIn(spec, o);
  const info = await stat(spec).catch(() => undefined);
  if (!info) throw usageError(`data path not found: ${spec}`);
  if (info.isDirectory()) return nestedFolders(spec, o);
  if (isManifestPath(spec)) return manifest(spec, o);
  throw usageError(`${spec} is not a folder, a .csv or .jsonl manifest, or digits-in-scenes`);
}

async function builtIn(spec: string, o: MultiTaskLoadOptions): Promise<LoadedTasks> {
  const count = spec.includes(':') ? Number(spec.slice(spec.indexOf(':') + 1)) : undefined;
  if (count !== undefined && !(Number.isInteger(count) && count > 0))
    throw usageError(`${spec}: the count after ${DIGITS_IN_SCENES_SPEC}: must be a positive whole number`);
  if (o.size.height !== o.size.width || o.size.channels !== 3)
    throw usageError(
      `${DIGITS_IN_SCENES_SPEC} makes square RGB images; this base takes ${o.size.height}x${o.size.width}x${o.size.channels}`,
    );
  for (const t of o.tasks) {
    if (!BUILT_IN_TASKS[t.name])
      throw usageError(`${DIGITS_IN_SCENES_SPEC} has tasks ${Object.keys(BUILT_IN_TASKS).join(' and ')}, not ${t.name}`);
    if (t.kind !== 'classification') throw usageError(`${DIGITS_IN_SCENES_SPEC}: task ${t.name} is a classification`);
    if (t.column) throw usageError(`${DIGITS_IN_SCENES_SPEC}: task ${t.name} has no column to choose (COLUMN is for manifests)`);
  }
  const set = await loadDigitsInScenes({ seed: o.seed, count, size: o.size.height });
  const tasks = Object.fromEntries(o.tasks.map((t) => [t.name, set.tasks[t.name]]));
  return { set: { ...set, tasks }, tasks: o.tasks.map((t) => ({ name: t.name, kind: t.kind, classes: [...BUILT_IN_TASKS[t.name]] })) };
}

const column = (t: TaskColumn) => (t.column ? { column: t.column } : {});

/** Values of one task for each kept sample: a class name, several, numbers, or undefined when unlabelled. */
type Raw = string | string[] | undefined;

/** Turn each task's raw values into labels over the samples, with classes sorted as single-task labels are. */
function labelTasks(
  tasks: TaskColumn[],
  raw: Raw[][],
  where: (sample: number) => string,
  anyClasses = false,
): { specs: TaskSpec[]; labels: Record<string, TaskLabels> } {
  const n = raw.length;
  const specs: TaskSpec[] = [];
  const labels: Record<string, TaskLabels> = {};
  tasks.forEach((t, k) => {
    const values = raw.map((r) => r[k]);
    if (t.kind === 'regression') {
      const rows = values.map((v, i) => (v === undefined ? undefined : [v].flat().map((x) => parseNumber(x, t.name, where(i)))));
      const outputs = rows.find((r) => r)?.length ?? 1;
      const targets = new Float32Array(n * outputs).fill(NaN);
      rows.forEach((r, i) => {
        if (!r) return;
        if (r.length !== outputs) throw usageError(`${where(i)}: task ${t.name} has ${r.length} numbers, earlier samples ${outputs}`);
        targets.set(r, i * outputs);
      });
      specs.push({ name: t.name, kind: t.kind, outputs, ...column(t) });
      labels[t.name] = { kind: 'regression', outputs, targets };
      return;
    }
    const classes = sortLabels([...new Set(values.flatMap((v) => (v === undefined ? [] : [v].flat())))]);
    if (t.kind === 'classification') {
      if (classes.length < 2 && !anyClasses)
        throw usageError(`task ${t.name}: need at least 2 classes, found ${classes.length}${classes.length ? ` (${classes[0]})` : ''}`);
      specs.push({ name: t.name, kind: t.kind, classes, ...column(t) });
      labels[t.name] = {
        kind: 'classification',
        classes,
        labels: Int32Array.from(values, (v) => (v === undefined ? -1 : classes.indexOf(v as string))),
      };
      return;
    }
    if (!classes.length && !anyClasses) throw usageError(`task ${t.name}: no labels found`);
    const targets = new Float32Array(n * classes.length).fill(NaN);
    values.forEach((v, i) => {
      if (v === undefined) return;
      const on = new Set([v].flat());
      classes.forEach((c, j) => (targets[i * classes.length + j] = on.has(c) ? 1 : 0));
    });
    specs.push({ name: t.name, kind: t.kind, classes, ...column(t) });
    labels[t.name] = { kind: 'multi-label', classes, targets };
  });
  return { specs, labels };
}

function parseNumber(x: string, task: string, where: string): number {
  const v = Number(x);
  if (x.trim() === '' || !Number.isFinite(v))
    throw usageError(`${where}: task ${task} is a regression, ${JSON.stringify(x)} is not a number`);
  return v;
}

/** Decode the samples' files (kept in order, unusable ones skipped) and label the kept ones. */
async function build(
  files: { path: string; raw: Raw[] }[],
  o: MultiTaskLoadOptions,
  skips: Skipped[],
  where: string,
  at: (i: number) => string,
): Promise<LoadedTasks> {
  // Multi-task sets are held in memory (subsetMultiTask copies pixels): no streaming.
  if (shouldStream(files.length, { size: o.size }))
    throw usageError(
      `${where}: ${files.length} images at ${o.size.height}x${o.size.width} would take over ${(STREAM_ABOVE_BYTES / 1024 ** 3).toFixed(0)} GiB decoded; multi-task data is held in memory (use fewer images)`,
    );
  const decoded = await decodeFiles(
    files.map((f, i) => ({ path: f.path, label: i })),
    [],
    { ...o, stream: false },
    new Progress(files.length, o.callbacks),
    skips,
  );
  settleSkips(skips, o, where);
  if (!decoded.labels.length) throw usageError(`${where}: no usable images`);
  const kept = Array.from(decoded.labels);
  const { specs, labels } = labelTasks(
    o.tasks,
    kept.map((i) => files[i].raw),
    (k) => at(kept[k]),
    o.anyClasses,
  );
  return { set: { size: o.size, pixels: decoded.pixels, ids: decoded.ids, tasks: labels }, tasks: specs };
}

/**
 * A manifest: `path` and one column per task (its `column`, default its name); an empty cell leaves
 * the sample unlabelled for that task.
 */
async function manifest(file: string, o: MultiTaskLoadOptions): Promise<LoadedTasks> {
  const columns = o.tasks.map((t) => (t.column ?? t.name).toLowerCase());
  const rows = await readManifest(file, { columns });
  const skips: Skipped[] = [];
  const usable: ManifestRow[] = [];
  for (const r of rows) {
    if (r.path) usable.push(r);
    else skips.push({ path: `${file}:${r.line}`, reason: 'empty path' });
  }
  const cell = (v: string | string[] | undefined, kind: TaskKind, where: string, task: string): Raw => {
    if (v === undefined || v === '') return undefined;
    if (kind === 'classification') {
      if (Array.isArray(v)) throw usageError(`${where}: task ${task} is a classification, one label per sample, not a list`);
      return v;
    }
    const items = (Array.isArray(v) ? v : v.split(CELL_SEPARATOR)).map((x) => x.trim()).filter(Boolean);
    // A regression without numbers is unlabelled; a multi-label [] is labelled, with no label applying.
    return kind === 'regression' && !items.length ? undefined : items;
  };
  const files = usable.map((r) => ({
    path: isAbsolute(r.path) ? r.path : join(dirname(file), r.path),
    raw: o.tasks.map((t, k) => cell(r.fields[columns[k]], t.kind, `${file}:${r.line}`, t.name)),
  }));
  return build(files, o, skips, file, (i) => `${file}:${usable[i].line}`);
}

/**
 * Nested class folders, one level per task in the order the tasks are given:
 * root/<first task's class>/<second task's class>/…/<images, at any depth below>. A level named
 * `_` leaves its images unlabelled for that task. Classification tasks only.
 */
async function nestedFolders(root: string, o: MultiTaskLoadOptions): Promise<LoadedTasks> {
  const other = o.tasks.find((t) => t.kind !== 'classification');
  if (other)
    throw usageError(`task ${other.name} is ${other.kind}: nested folders label classification tasks only (use a CSV/JSONL manifest)`);
  const files: { path: string; raw: Raw[] }[] = [];
  const skips: Skipped[] = [];
  const descend = async (dir: string, labels: Raw[]): Promise<void> => {
    if (labels.length === o.tasks.length) {
      const images: string[] = [];
      const others: string[] = [];
      await walk(dir, images, others);
      for (const p of others) skips.push({ path: p, reason: 'not an image file' });
      for (const p of images) files.push({ path: p, raw: labels });
      return;
    }
    const { dirs, files: loose } = await listDir(dir);
    for (const f of loose) skips.push({ path: join(dir, f), reason: `not inside a folder for task ${o.tasks[labels.length].name}` });
    for (const d of dirs) await descend(join(dir, d), [...labels, d === UNLABELLED_FOLDER ? undefined : d]);
  };
  await descend(root, []);
  if (!files.length) throw usageError(`${root}: no images in ${o.tasks.map((t) => `<${t.name}>`).join(sep)}${sep}<image> folders`);
  return build(files, o, skips, root, (i) => relative(root, files[i].path));
}

/**
 * `set`'s labels in the class order of `tasks` (a trained model's), so its outputs and the labels
 * line up. A class the model does not know is a usage error; a regression's width must match.
 */
export function alignTasks(set: MultiTaskSet, tasks: TaskSpec[]): MultiTaskSet {
  const n = set.ids.length;
  const aligned: Record<string, TaskLabels> = {};
  for (const t of tasks) {
    const l = set.tasks[t.name];
    if (!l) throw usageError(`the data has no labels for task ${t.name} (tasks: ${Object.keys(set.tasks).join(', ')})`);
    if (l.kind !== t.kind) throw usageError(`task ${t.name} is ${t.kind} in the model, ${l.kind} in the data`);
    if (l.kind === 'regression') {
      if (l.outputs !== (t.outputs ?? 1))
        throw usageError(`task ${t.name}: the model predicts ${t.outputs ?? 1} numbers, the data has ${l.outputs}`);
      aligned[t.name] = l;
      continue;
    }
    const classes = t.classes!;
    const unknown = l.classes.filter((c) => !classes.includes(c));
    if (unknown.length)
      throw usageError(`task ${t.name}: classes not known to the model: ${unknown.join(', ')} (model: ${classes.join(', ')})`);
    const to = l.classes.map((c) => classes.indexOf(c));
    if (l.kind === 'classification') {
      aligned[t.name] = { kind: l.kind, classes, labels: l.labels.map((x) => (x < 0 ? -1 : to[x])) };
      continue;
    }
    const targets = new Float32Array(n * classes.length);
    for (let i = 0; i < n; i++) {
      // Unlabelled rows stay NaN; classes the data never mentions are 0 for labelled rows.
      const unlabelled = Number.isNaN(l.targets[i * l.classes.length]);
      targets.fill(unlabelled ? NaN : 0, i * classes.length, (i + 1) * classes.length);
      if (!unlabelled) l.classes.forEach((_, j) => (targets[i * classes.length + to[j]] = l.targets[i * l.classes.length + j]));
    }
    aligned[t.name] = { kind: l.kind, classes, targets };
  }
  return { ...set, tasks: aligned };
}

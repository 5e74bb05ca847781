// The studio's projects as plain files in a workspace folder, so a person can see, back up or
// script them: WORKSPACE/<project>/project.json, the image samples in samples/<class>/ (the image
// folder layout `graft train` reads), a text project's samples in texts.jsonl, and the trained
// model in model/. Every write is atomic; every name that becomes a path is checked first.
import { existsSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { makeDirs } from '../io/destination.js';
import { GraftError } from '../core/errors.js';
import { isImagePath } from '../data/images.js';
import { writeFileAtomically } from '../io/atomic.js';

export type ProjectKind = 'image' | 'text';

export interface ProjectFile {
  version: 1;
  name: string;
  kind: ProjectKind;
  /** Class names in the order the cards show them. */
  classes: string[];
  created: string;
}

export interface TextSample {
  id: number;
  text: string;
  label: string;
}

export interface ProjectSummary extends ProjectFile {
  id: string;
  /** Samples per class. */
  counts: Record<string, number>;
  trained: boolean;
}

/** A request the studio refuses: the HTTP status and a one-line reason. */
export class StudioError extends GraftError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message, 1);
  }
}

const PROJECT_FILE = 'project.json';
const SAMPLES = 'samples';
const TEXTS = 'texts.jsonl';
export const MODEL_DIR = 'model';

/**
 * A name that becomes one path segment (a class folder, a sample file): no separators, no NUL or
 * control characters, not `.` or `..`, at most 100 characters. Refused, not rewritten, so nothing
 * lands anywhere but where the name says.
 */
export function checkSegment(name: string, what: string): string {
  const n = name.trim();
  if (!n || n === '.' || n === '..' || n.length > 100 || /[/\\\u0000-\u001f]/.test(n) || n.startsWith('.'))
    throw new StudioError(
      400,
      `${what} ${JSON.stringify(name)} is not allowed (no slashes, control characters or leading dot; 1-100 characters)`,
    );
  return n;
}

/** A folder name for a new project: its name's letters and digits, made unique. */
function projectId(name: string, taken: Set<string>): string {
  const slug =
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'project';
  let id = slug;
  for (let i = 2; taken.has(id); i++) id = `${slug}-${i}`;
  return id;
}

export class Workspace {
  constructor(readonly dir: string) {}

  /**
   * A path in the workspace. No part of it below the workspace folder may be a symbolic link: a
   * link planted in a project (samples/ pointing at /home, a sample at /etc/passwd) would let a
   * request read or delete outside the workspace. Checked at every use, since links can appear
   * at any time; the parts that do not exist yet are created by the studio itself.
   */
  private path(id: string, ...rest: string[]): string {
    let at = this.dir;
    let exists = true;
    for (const part of [checkSegment(id, 'project'), ...rest]) {
      at = join(at, part);
      // Below a part that does not exist, nothing does.
      const entry: Stats | undefined = exists ? lstatSync(at, { throwIfNoEntry: false }) : undefined;
      exists = entry !== undefined;
      if (entry?.isSymbolicLink())
        throw new StudioError(403, `${at.slice(this.dir.length + 1)} is a symbolic link: the studio does not follow links`);
    }
    return at;
  }

  async list(): Promise<ProjectSummary[]> {
    if (!existsSync(this.dir)) return [];
    const out: ProjectSummary[] = [];
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || !existsSync(join(this.dir, entry.name, PROJECT_FILE))) continue;
      // A project the studio refuses to read (a link planted in it) is left out, not the whole list.
      const summary = await this.summary(entry.name).catch((e: unknown) => {
        if (e instanceof StudioError && e.status === 403) return undefined;
        throw e;
      });
      if (summary) out.push(summary);
    }
    return out.sort((a, b) => b.created.localeCompare(a.created));
  }

  async create(name: string, kind: ProjectKind): Promise<ProjectSummary> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) throw new StudioError(400, 'a project needs a name of 1-100 characters');
    if (kind !== 'image' && kind !== 'text') throw new StudioError(400, `a project is image or text, not ${JSON.stringify(kind)}`);
    await makeDirs(this.dir);
    const taken = new Set(await readdir(this.dir));
    const id = projectId(trimmed, taken);
    const project: ProjectFile = { version: 1, name: trimmed, kind, classes: ['Class 1', 'Class 2'], created: new Date().toISOString() };
    await makeDirs(this.path(id));
    await this.write(id, project);
    return this.summary(id);
  }

  async read(id: string): Promise<ProjectFile> {
    const file = this.path(id, PROJECT_FILE);
    if (!existsSync(file)) throw new StudioError(404, `no project ${JSON.stringify(id)}`);
    return JSON.parse(await readFile(file, 'utf8')) as ProjectFile;
  }

  private async write(id: string, project: ProjectFile): Promise<void> {
    await writeFileAtomically(this.path(id, PROJECT_FILE), JSON.stringify(project, null, 2) + '\n');
  }

  async summary(id: string): Promise<ProjectSummary> {
    const project = await this.read(id);
    const counts: Record<string, number> = {};
    if (project.kind === 'image') for (const c of project.classes) counts[c] = (await this.imageFiles(id, c)).length;
    else for (const c of project.classes) counts[c] = (await this.texts(id)).filter((t) => t.label === c).length;
    return { ...project, id, counts, trained: existsSync(this.path(id, MODEL_DIR, 'graft.json')) };
  }

  async remove(id: string): Promise<void> {
    await this.read(id);
    await rm(this.path(id), { recursive: true, force: true });
  }

  // Classes ---------------------------------------------------------------------------------------

  async addClass(id: string, name: string): Promise<ProjectFile> {
    const project = await this.read(id);
    const n = checkSegment(name, 'class name');
    if (project.classes.includes(n)) throw new StudioError(409, `class ${JSON.stringify(n)} exists`);
    project.classes.push(n);
    await this.write(id, project);
    return project;
  }

  async renameClass(id: string, from: string, to: string): Promise<ProjectFile> {
    const project = await this.read(id);
    const i = this.classIndex(project, from);
    const n = checkSegment(to, 'class name');
    if (project.classes.includes(n)) throw new StudioError(409, `class ${JSON.stringify(n)} exists`);
    if (project.kind === 'image' && existsSync(this.path(id, SAMPLES, from)))
      await rename(this.path(id, SAMPLES, from), this.path(id, SAMPLES, n));
    if (project.kind === 'text')
      await this.writeTexts(
        id,
        (await this.texts(id)).map((t) => (t.label === from ? { ...t, label: n } : t)),
      );
    project.classes[i] = n;
    await this.write(id, project);
    return project;
  }

  async deleteClass(id: string, name: string): Promise<ProjectFile> {
    const project = await this.read(id);
    const i = this.classIndex(project, name);
    if (project.kind === 'image') await rm(this.path(id, SAMPLES, name), { recursive: true, force: true });
    else
      await this.writeTexts(
        id,
        (await this.texts(id)).filter((t) => t.label !== name),
      );
    project.classes.splice(i, 1);
    await this.write(id, project);
    return project;
  }

  private classIndex(project: ProjectFile, name: string): number {
    const i = project.classes.indexOf(name);
    if (i < 0) throw new StudioError(404, `no class ${JSON.stringify(name)}`);
    return i;
  }

  // Image samples ---------------------------------------------------------------------------------

  samplesDir(id: string): string {
    return this.path(id, SAMPLES);
  }

  async imageFiles(id: string, cls: string): Promise<string[]> {
    const dir = this.path(id, SAMPLES, checkSegment(cls, 'class name'));
    if (!existsSync(dir)) return [];
    // Regular files only: a link in a class folder is neither listed nor served.
    return (await readdir(dir, { withFileTypes: true }))
      .filter((f) => f.isFile() && !f.name.startsWith('.') && isImagePath(f.name))
      .map((f) => f.name)
      .sort();
  }

  /** Store an image under its own name (a number added if taken); the caller has checked that it decodes. */
  async addImage(id: string, cls: string, fileName: string, bytes: Uint8Array): Promise<string> {
    const project = await this.read(id);
    this.classIndex(project, cls);
    if (project.kind !== 'image') throw new StudioError(400, 'this is a text project: add texts, not images');
    const name = checkSegment(fileName, 'file name');
    if (!isImagePath(name)) throw new StudioError(415, `${name}: not an image file name (.jpg, .jpeg, .png, .webp, .gif, .bmp)`);
    const dir = this.path(id, SAMPLES, cls);
    await makeDirs(dir);
    const ext = extname(name);
    let target = name;
    for (let i = 2; existsSync(join(dir, target)); i++) target = `${name.slice(0, -ext.length)}-${i}${ext}`;
    await writeFileAtomically(join(dir, target), bytes, false);
    return target;
  }

  imagePath(id: string, cls: string, file: string): string {
    return this.path(id, SAMPLES, checkSegment(cls, 'class name'), checkSegment(file, 'file name'));
  }

  async deleteImage(id: string, cls: string, file: string): Promise<void> {
    const path = this.imagePath(id, cls, file);
    if (!existsSync(path) || !(await stat(path)).isFile()) throw new StudioError(404, `no sample ${cls}/${file}`);
    await rm(path);
  }

  // Text samples ----------------------------------------------------------------------------------

  async texts(id: string): Promise<TextSample[]> {
    const file = this.path(id, TEXTS);
    if (!existsSync(file)) return [];
    return (await readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as TextSample);
  }

  private async writeTexts(id: string, rows: TextSample[]): Promise<void> {
    await writeFileAtomically(this.path(id, TEXTS), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  async addTexts(id: string, rows: { text: string; label: string }[]): Promise<number> {
    const project = await this.read(id);
    if (project.kind !== 'text') throw new StudioError(400, 'this is an image project: add images, not texts');
    for (const r of rows) this.classIndex(project, r.label);
    const existing = await this.texts(id);
    let next = existing.reduce((m, t) => Math.max(m, t.id), 0) + 1;
    const added = rows.filter((r) => r.text.trim()).map((r) => ({ id: next++, text: r.text.trim(), label: r.label }));
    await this.writeTexts(id, [...existing, ...added]);
    return added.length;
  }

  async deleteText(id: string, textId: number): Promise<void> {
    const rows = await this.texts(id);
    if (!rows.some((r) => r.id === textId)) throw new StudioError(404, `no text ${textId}`);
    await this.writeTexts(
      id,
      rows.filter((r) => r.id !== textId),
    );
  }

  /** The texts as a table `graft train` reads (text,label), for training. */
  textsTable(id: string): string {
    return this.path(id, TEXTS);
  }

  /** The trained model's folder, which graft's loaders read whole: refused if a link is anywhere inside. */
  modelDir(id: string): string {
    const dir = this.path(id, MODEL_DIR);
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isSymbolicLink()) throw new StudioError(403, `${MODEL_DIR}/${e.name} is a symbolic link: the studio does not follow links`);
        if (e.isDirectory()) walk(join(d, e.name));
      }
    };
    if (existsSync(dir)) walk(dir);
    return dir;
  }

  /** A file of the trained model (model.json, weights, the report), checked as every path is. */
  modelFile(id: string, file: string): string {
    return this.path(id, MODEL_DIR, checkSegment(file, 'model file'));
  }
}

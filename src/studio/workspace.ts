// The studio's projects as plain files in a workspace folder, so a person can see, back up or
// script them: WORKSPACE/<project>/project.json, the image or sound samples in samples/<class>/
// (the folder layout `graft train` reads), a text project's samples in texts.jsonl, and the trained
// model in model/. Every write is atomic; every name that becomes a path is checked first.
import { existsSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { makeDirs } from '../io/destination.js';
import { StudioError } from './errors.js';
import { isAudioPath } from '../data/audio/read.js';
import { isImagePath } from '../data/images.js';
import { writeFileAtomically } from '../io/atomic.js';
import { ANNOTATIONS, checkBoxes, fromCoco, IMAGES, toCoco, type AnnotatedImage, type LabelledBox } from './annotations.js';

export type ProjectKind = 'image' | 'text' | 'audio' | 'detection';

/** The kinds whose samples are files in a folder per class; a text project's are rows of texts.jsonl. */
export const FOLDER_KINDS: readonly ProjectKind[] = ['image', 'audio'];

/** Whether a file name is a sample of a folder kind: an image, or a recording. */
export const isSampleName = (kind: ProjectKind, name: string): boolean => (kind === 'audio' ? isAudioPath(name) : isImagePath(name));

/** What a kind's projects hold beside project.json: class folders, a table of texts, or images and their boxes. */
export const holdsBoxes = (kind: ProjectKind): boolean => kind === 'detection';

/** What a refused sample name should have been, for the message. */
export const SAMPLE_NAMES: Record<ProjectKind, string> = {
  image: 'an image file name (.jpg, .jpeg, .png, .webp, .gif, .bmp)',
  audio: 'a recording file name (.wav, .mp3, .flac, .ogg, …)',
  text: 'a CSV or plain text file name',
  detection: 'an image file name (.jpg, .jpeg, .png, .webp, .gif, .bmp)',
};

/** The classes a new project starts with: a sound project records the room's background noise first, as Teachable Machine's do. */
const FIRST_CLASSES: Record<ProjectKind, string[]> = {
  image: ['Class 1', 'Class 2'],
  text: ['Class 1', 'Class 2'],
  audio: ['Background noise', 'Class 2'],
  detection: ['object'],
};

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

export { StudioError } from './errors.js';

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

/** texts.jsonl from an archive: each line a {id, text, label} row with one of `classes`; the bytes kept as given. */
function checkTexts(bytes: Uint8Array, classes: string[]): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let row: Partial<TextSample>;
    try {
      row = JSON.parse(line) as Partial<TextSample>;
    } catch (e) {
      throw new StudioError(400, `${TEXTS} line ${i + 1}: ${(e as Error).message}`);
    }
    if (!Number.isInteger(row.id) || typeof row.text !== 'string' || typeof row.label !== 'string' || !classes.includes(row.label))
      throw new StudioError(400, `${TEXTS} line ${i + 1}: expected {"id": N, "text": "…", "label": one of the project's classes}`);
  });
  return bytes;
}

/**
 * annotations.json from an archive: the studio's COCO document, every image in it one of the
 * archive's images/ and every one of those in it, every box checked as `setBoxes` checks it.
 */
function checkAnnotations(bytes: Uint8Array, classes: string[], samples: { at: string[] }[]): Uint8Array {
  let images: AnnotatedImage[];
  try {
    images = fromCoco(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (e) {
    throw new StudioError(400, `${ANNOTATIONS}: not the studio's COCO JSON (${(e as Error).message})`);
  }
  const files = new Set(samples.map((s) => s.at[1]));
  if (images.length !== files.size || !images.every((im) => files.has(im.file)))
    throw new StudioError(400, `${ANNOTATIONS}: its images are not the archive's ${IMAGES}/`);
  for (const im of images) {
    if (!(im.width >= 1 && im.height >= 1)) throw new StudioError(400, `${ANNOTATIONS}: ${im.file} has no size`);
    checkBoxes(im.boxes, classes, im);
  }
  return bytes;
}

/** `name` in `dir`, or name-2, name-3, … when a file there (or one of `taken`, about to be) has it. */
function freeName(dir: string, name: string, taken: readonly string[] = []): string {
  const ext = extname(name);
  let target = name;
  for (let i = 2; existsSync(join(dir, target)) || taken.includes(target); i++) target = `${name.slice(0, -ext.length)}-${i}${ext}`;
  return target;
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
    if (!Object.hasOwn(FIRST_CLASSES, kind))
      throw new StudioError(400, `a project is image, audio, text or detection, not ${JSON.stringify(kind)}`);
    await makeDirs(this.dir);
    const taken = new Set(await readdir(this.dir));
    const id = projectId(trimmed, taken);
    const project: ProjectFile = { version: 1, name: trimmed, kind, classes: [...FIRST_CLASSES[kind]], created: new Date().toISOString() };
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
    if (FOLDER_KINDS.includes(project.kind))
      for (const c of project.classes) counts[c] = (await this.sampleFiles(id, c, project.kind)).length;
    else if (holdsBoxes(project.kind)) {
      // A detection project counts boxes per class.
      const boxes = (await this.annotated(id)).flatMap((im) => im.boxes);
      for (const c of project.classes) counts[c] = boxes.filter((b) => b.label === c).length;
    } else for (const c of project.classes) counts[c] = (await this.texts(id)).filter((t) => t.label === c).length;
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
    if (FOLDER_KINDS.includes(project.kind) && existsSync(this.path(id, SAMPLES, from)))
      await rename(this.path(id, SAMPLES, from), this.path(id, SAMPLES, n));
    if (project.kind === 'text')
      await this.writeTexts(
        id,
        (await this.texts(id)).map((t) => (t.label === from ? { ...t, label: n } : t)),
      );
    const classes = project.classes.map((c, k) => (k === i ? n : c));
    if (holdsBoxes(project.kind))
      await this.writeAnnotated(
        id,
        (await this.annotated(id)).map((im) => ({ ...im, boxes: im.boxes.map((b) => (b.label === from ? { ...b, label: n } : b)) })),
        classes,
      );
    project.classes = classes;
    await this.write(id, project);
    return project;
  }

  async deleteClass(id: string, name: string): Promise<ProjectFile> {
    const project = await this.read(id);
    const i = this.classIndex(project, name);
    const classes = project.classes.filter((_, k) => k !== i);
    if (FOLDER_KINDS.includes(project.kind)) await rm(this.path(id, SAMPLES, name), { recursive: true, force: true });
    else if (holdsBoxes(project.kind))
      await this.writeAnnotated(
        id,
        (await this.annotated(id)).map((im) => ({ ...im, boxes: im.boxes.filter((b) => b.label !== name) })),
        classes,
      );
    else
      await this.writeTexts(
        id,
        (await this.texts(id)).filter((t) => t.label !== name),
      );
    project.classes = classes;
    await this.write(id, project);
    return project;
  }

  private classIndex(project: ProjectFile, name: string): number {
    const i = project.classes.indexOf(name);
    if (i < 0) throw new StudioError(404, `no class ${JSON.stringify(name)}`);
    return i;
  }

  // Image and sound samples -----------------------------------------------------------------------

  samplesDir(id: string): string {
    return this.path(id, SAMPLES);
  }

  /** A class's sample files of the project's kind (images, or recordings). */
  async sampleFiles(id: string, cls: string, kind: ProjectKind): Promise<string[]> {
    const dir = this.path(id, SAMPLES, checkSegment(cls, 'class name'));
    if (!existsSync(dir)) return [];
    // Regular files only: a link in a class folder is neither listed nor served.
    return (await readdir(dir, { withFileTypes: true }))
      .filter((f) => f.isFile() && !f.name.startsWith('.') && isSampleName(kind, f.name))
      .map((f) => f.name)
      .sort();
  }

  /** Store an image or a recording under its own name (a number added if taken); the caller has checked that it decodes. */
  async addSample(id: string, cls: string, fileName: string, bytes: Uint8Array): Promise<string> {
    const project = await this.read(id);
    this.classIndex(project, cls);
    if (!FOLDER_KINDS.includes(project.kind)) throw new StudioError(400, 'this is a text project: add texts, not files');
    const name = checkSegment(fileName, 'file name');
    if (!isSampleName(project.kind, name)) throw new StudioError(415, `${name}: not ${SAMPLE_NAMES[project.kind]}`);
    const dir = this.path(id, SAMPLES, cls);
    await makeDirs(dir);
    const target = freeName(dir, name);
    await writeFileAtomically(join(dir, target), bytes, false);
    return target;
  }

  samplePath(id: string, cls: string, file: string): string {
    return this.path(id, SAMPLES, checkSegment(cls, 'class name'), checkSegment(file, 'file name'));
  }

  async deleteSample(id: string, cls: string, file: string): Promise<void> {
    const path = this.samplePath(id, cls, file);
    if (!existsSync(path) || !(await stat(path)).isFile()) throw new StudioError(404, `no sample ${cls}/${file}`);
    await rm(path);
  }

  // Images and their boxes (detection) -------------------------------------------------------------

  /** The images of a detection project with their boxes, as annotations.json holds them. */
  async annotated(id: string): Promise<AnnotatedImage[]> {
    const file = this.path(id, ANNOTATIONS);
    if (!existsSync(file)) return [];
    return fromCoco(JSON.parse(await readFile(file, 'utf8')));
  }

  private async writeAnnotated(id: string, images: readonly AnnotatedImage[], classes: readonly string[]): Promise<void> {
    await writeFileAtomically(this.path(id, ANNOTATIONS), JSON.stringify(toCoco(images, classes), null, 1) + '\n');
  }

  /** The COCO JSON `graft train --head detect` reads: the project's boxes. */
  annotationsPath(id: string): string {
    return this.path(id, ANNOTATIONS);
  }

  imageFile(id: string, file: string): string {
    return this.path(id, IMAGES, checkSegment(file, 'file name'));
  }

  /**
   * Store images (their sizes read by the caller, which has checked that they decode) with their
   * boxes, each under its own name (a number added if taken), adding the classes the boxes name;
   * everything is checked before the first file is written.
   */
  async addAnnotatedImages(
    id: string,
    items: readonly { name: string; bytes: Uint8Array; size: { width: number; height: number }; boxes: LabelledBox[] }[],
  ): Promise<string[]> {
    const project = await this.read(id);
    if (!holdsBoxes(project.kind)) throw new StudioError(400, `this is an ${project.kind} project: its samples go to a class`);
    const classes = [...project.classes];
    for (const b of items.flatMap((it) => it.boxes)) if (!classes.includes(b.label)) classes.push(checkSegment(b.label, 'class name'));
    const checked = items.map((it) => {
      const name = checkSegment(it.name, 'file name');
      if (!isImagePath(name)) throw new StudioError(415, `${name}: not ${SAMPLE_NAMES.detection}`);
      return { ...it, name, boxes: checkBoxes(it.boxes, classes, it.size) };
    });
    const dir = this.path(id, IMAGES);
    await makeDirs(dir);
    const images = await this.annotated(id);
    const names: string[] = [];
    for (const it of checked) {
      const target = freeName(dir, it.name, names);
      await writeFileAtomically(join(dir, target), it.bytes, false);
      names.push(target);
      images.push({ file: target, ...it.size, boxes: it.boxes });
    }
    await this.writeAnnotated(id, images, classes);
    if (classes.length !== project.classes.length) await this.write(id, { ...project, classes });
    return names;
  }

  /** Replace an image's boxes (checked: labels of the project, inside the image). */
  async setBoxes(id: string, file: string, boxes: unknown): Promise<AnnotatedImage> {
    const project = await this.read(id);
    const images = await this.annotated(id);
    const image = images.find((im) => im.file === file);
    if (!image) throw new StudioError(404, `no image ${JSON.stringify(file)}`);
    image.boxes = checkBoxes(boxes, project.classes, image);
    await this.writeAnnotated(id, images, project.classes);
    return image;
  }

  async deleteAnnotatedImage(id: string, file: string): Promise<void> {
    const project = await this.read(id);
    const images = await this.annotated(id);
    if (!images.some((im) => im.file === file)) throw new StudioError(404, `no image ${JSON.stringify(file)}`);
    await this.writeAnnotated(
      id,
      images.filter((im) => im.file !== file),
      project.classes,
    );
    await rm(this.imageFile(id, file), { force: true });
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
    if (project.kind !== 'text') throw new StudioError(400, `this is an ${project.kind} project: add files, not texts`);
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

  // A project as one archive -----------------------------------------------------------------------

  /**
   * The project's own files, path → bytes: project.json, and the samples (samples/<class>/<file>)
   * or texts.jsonl. Not the trained model, which training makes again from these.
   */
  async archive(id: string): Promise<Record<string, Uint8Array>> {
    const project = await this.read(id);
    const files: Record<string, Uint8Array> = { [PROJECT_FILE]: await readFile(this.path(id, PROJECT_FILE)) };
    if (project.kind === 'text') {
      if (existsSync(this.path(id, TEXTS))) files[TEXTS] = await readFile(this.path(id, TEXTS));
      return files;
    }
    if (holdsBoxes(project.kind)) {
      const images = await this.annotated(id);
      if (existsSync(this.path(id, ANNOTATIONS))) files[ANNOTATIONS] = await readFile(this.path(id, ANNOTATIONS));
      for (const im of images) files[`${IMAGES}/${im.file}`] = await readFile(this.imageFile(id, im.file));
      return files;
    }
    for (const c of project.classes)
      for (const f of await this.sampleFiles(id, c, project.kind))
        files[`${SAMPLES}/${c}/${f}`] = await readFile(this.path(id, SAMPLES, c, f));
    return files;
  }

  /**
   * A new project from an archive's files (as `archive` writes them), under a fresh folder name:
   * every name, class and sample checked first (`checkSample`: it decodes as graft train will read
   * it), the project written into a hidden folder and renamed into place, so a refused archive
   * leaves nothing behind.
   */
  async importArchive(
    files: Record<string, Uint8Array>,
    checkSample: (kind: ProjectKind, bytes: Uint8Array, name: string) => Promise<void>,
  ): Promise<ProjectSummary> {
    const raw = files[PROJECT_FILE];
    if (!raw) throw new StudioError(400, `the archive has no ${PROJECT_FILE}: not a studio project`);
    let given: Partial<ProjectFile>;
    try {
      given = JSON.parse(new TextDecoder().decode(raw)) as Partial<ProjectFile>;
    } catch (e) {
      throw new StudioError(400, `${PROJECT_FILE}: ${(e as Error).message}`);
    }
    const kind = given.kind as ProjectKind;
    if (!Object.hasOwn(FIRST_CLASSES, kind))
      throw new StudioError(400, `${PROJECT_FILE}: kind is image, audio, text or detection, not ${JSON.stringify(kind)}`);
    const name = typeof given.name === 'string' ? given.name.trim() : '';
    if (!name || name.length > 100) throw new StudioError(400, `${PROJECT_FILE}: a project needs a name of 1-100 characters`);
    if (!Array.isArray(given.classes) || !given.classes.length || given.classes.length > 1000)
      throw new StudioError(400, `${PROJECT_FILE}: classes must be a list of 1-1000 names`);
    const classes = given.classes.map((c) => checkSegment(String(c), 'class name'));
    if (new Set(classes).size !== classes.length) throw new StudioError(400, `${PROJECT_FILE}: a class name appears twice`);
    /** Files to write, as path segments under the project's folder. */
    const samples: { at: string[]; bytes: Uint8Array }[] = [];
    const holds = kind === 'text' ? TEXTS : holdsBoxes(kind) ? `${ANNOTATIONS} and ${IMAGES}/<file>` : `${SAMPLES}/<class>/<file>`;
    for (const [path, bytes] of Object.entries(files)) {
      if (path === PROJECT_FILE || (kind === 'text' && path === TEXTS) || (holdsBoxes(kind) && path === ANNOTATIONS)) continue;
      const parts = path.split('/');
      if (FOLDER_KINDS.includes(kind) && parts.length === 3 && parts[0] === SAMPLES) {
        const [cls, file] = [checkSegment(parts[1], 'class name'), checkSegment(parts[2], 'file name')];
        if (!classes.includes(cls)) throw new StudioError(400, `${path}: ${cls} is not one of the project's classes`);
        if (!isSampleName(kind, file)) throw new StudioError(415, `${path}: not ${SAMPLE_NAMES[kind]}`);
        await checkSample(kind, bytes, path);
        samples.push({ at: [SAMPLES, cls, file], bytes });
      } else if (holdsBoxes(kind) && parts.length === 2 && parts[0] === IMAGES) {
        const file = checkSegment(parts[1], 'file name');
        if (!isSampleName(kind, file)) throw new StudioError(415, `${path}: not ${SAMPLE_NAMES[kind]}`);
        await checkSample(kind, bytes, path);
        samples.push({ at: [IMAGES, file], bytes });
      } else throw new StudioError(400, `${path}: a ${kind} project's archive holds ${PROJECT_FILE} and ${holds} only`);
    }
    const texts = kind === 'text' && files[TEXTS] ? checkTexts(files[TEXTS], classes) : undefined;
    const annotations = holdsBoxes(kind) && files[ANNOTATIONS] ? checkAnnotations(files[ANNOTATIONS], classes, samples) : undefined;
    await makeDirs(this.dir);
    const id = projectId(name, new Set(await readdir(this.dir)));
    const project: ProjectFile = { version: 1, name, kind, classes, created: new Date().toISOString() };
    // A hidden sibling, which list() skips, on the same file system as the project's folder.
    const staging = join(this.dir, `.import-${id}-${Date.now().toString(36)}`);
    try {
      await makeDirs(staging);
      await writeFileAtomically(join(staging, PROJECT_FILE), JSON.stringify(project, null, 2) + '\n');
      if (texts) await writeFileAtomically(join(staging, TEXTS), texts);
      if (annotations) await writeFileAtomically(join(staging, ANNOTATIONS), annotations);
      for (const { at, bytes } of samples) {
        await makeDirs(join(staging, ...at.slice(0, -1)));
        await writeFileAtomically(join(staging, ...at), bytes, false);
      }
      await rename(staging, this.path(id));
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      throw e;
    }
    return this.summary(id);
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

  /** A validation image a detection run drew, in the model's drawn/ folder. */
  drawnFile(id: string, file: string): string {
    return this.path(id, MODEL_DIR, 'drawn', checkSegment(file, 'drawn image'));
  }

  /** A file of the trained model (model.json, weights, the report), checked as every path is. */
  modelFile(id: string, file: string): string {
    return this.path(id, MODEL_DIR, checkSegment(file, 'model file'));
  }
}

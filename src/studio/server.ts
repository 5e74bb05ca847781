// graft studio's HTTP server (Fastify): the single-page app and its assets, served from the
// package, and the JSON API it calls. Every request must name this server in its Host header (DNS
// rebinding). Every API request must carry the session token in a header, come from this origin
// (Origin, Sec-Fetch-Site: another port of 127.0.0.1 is another site) and, when it changes
// something, say its body is JSON or, where files go, multipart: a page elsewhere can send
// neither the header nor JSON without the browser asking this server first, which it never
// allows. There is no cookie: a browser sends a host's cookies to every port of that host, so a
// cookie would hand the token to any other server on 127.0.0.1. Uploads are bounded per file and
// per request and must be images, recordings (for sound projects) or, for text projects, CSV and
// plain text.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import { parse as parseCsv } from 'csv-parse/sync';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { BASES, loadImageBase } from '../bases/index.js';
import { DecodeError, decodeImageBuffer } from '../data/images.js';
import { orientedSize } from '../data/detection/clean.js';
import { loadDetectionData } from '../data/detection/index.js';
import { sharp } from '../io/sharp.js';
import { spectrogramPicture } from '../data/audio/picture.js';
import { AUDIO_CONTENT_TYPES, decodeAudio } from '../data/audio/read.js';
import type { LogMelSpec } from '../data/audio/logmel.js';
import { clipImageSize } from '../data/audio/spectrogram.js';
import { rankCuts } from '../evaluate/rank.js';
import { allowedHostValues, bracketed } from '../io/hosts.js';
import { loadDataSplits } from '../data/index.js';
import { loadModel } from '../kinds/index.js';
import { isFinal, REPORT_FILE, type TrainSettings } from './run-types.js';
import { Trainer } from './training.js';
import {
  checkSegment,
  FOLDER_KINDS,
  holdsBoxes,
  isSampleName,
  SAMPLE_NAMES,
  StudioError,
  Workspace,
  type ProjectKind,
} from './workspace.js';
import { exportSnippet } from './snippet.js';

export interface StudioOptions {
  /** The workspace folder: one folder per project. */
  dir: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Per uploaded file (default 10 MB) and per request (default 50 MB). */
  maxFileBytes?: number;
  maxRequestBytes?: number;
  /** The session token (default: 32 random bytes, hex). */
  token?: string;
  /** More image bases to offer beside the embedded ones: a path or URL to a TF.js model.json, or onnx:PATH. */
  bases?: string[];
  /**
   * Host header values answered besides the studio's own address (`name:port`, or `name`: bare and
   * with the studio's port), as graft serve's; the page's Origin must then be that host.
   */
  allowedHosts?: string[];
}

export interface Studio {
  url: string;
  /** The URL with the token, which is what a person opens. */
  openUrl: string;
  token: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

const HEADER = 'x-graft-token';
/** Routes whose body is files (multipart) rather than JSON. */
const MULTIPART_ROUTE = /^\/api\/(projects\/[^/]+\/(classes\/[^/]+\/samples|images|boxes-import|predict)|archives)$/;
/** What every answer says to the browser: no type sniffing (a sample is served as the image its name says, never as a page), no framing, no referrer. */
const SAFETY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};
const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), 'app');
const require = createRequire(import.meta.url);

/** Files the page loads, from the packages graft depends on (nothing is fetched from the internet). */
const VENDOR: Record<string, { path: string; type: string }> = {
  'tf.min.js': { path: require.resolve('@tensorflow/tfjs/dist/tf.min.js'), type: 'text/javascript' },
  'uPlot.iife.min.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
};
const APP_FILES: Record<string, string> = { 'index.html': 'text/html', 'app.js': 'text/javascript', 'style.css': 'text/css' };

/** The embedded bases a project can train on, by kind of project. */
export const STUDIO_BASES: Record<ProjectKind, string[]> = {
  image: Object.keys(BASES).filter((b) => {
    const e = BASES[b];
    return e.modality === 'image' && !e.pretrainedFor;
  }),
  text: Object.keys(BASES).filter((b) => BASES[b].modality === 'text'),
  audio: Object.keys(BASES).filter((b) => BASES[b].modality === 'audio'),
  // COCO-pretrained nanodet first (Penn-Fudan test AP50 0.947 vs 0.788, AP 0.649 vs 0.353 with all images, docs/detection.md), then mobilenet_v2.
  detection: ['nanodet', 'mobilenet_v2'],
};

/**
 * How the page shows a recording: a log-mel spectrogram of its first 2 s at 16 kHz (64 bands to
 * 8 kHz), whatever base the project trains on, so every clip is drawn the same way.
 */
const SHOWN: LogMelSpec = {
  sampleRate: 16000,
  clipSamples: 32000,
  fftSize: 512,
  windowLength: 400,
  hop: 160,
  mels: 64,
  fMin: 20,
  fMax: 8000,
};

/**
 * An image's size as graft sees it, after its EXIF orientation (a quarter turn swaps width and
 * height), checked to decode first: the size boxes are drawn in and COCO's width and height.
 */
async function imageSizeOf(bytes: Uint8Array, name: string): Promise<{ width: number; height: number }> {
  await decodeImageBuffer(bytes, { height: 8, width: 8, channels: 3 }, 'cover', name);
  const m = await sharp(bytes)
    .metadata()
    .catch(() => ({ width: undefined, height: undefined, orientation: undefined }));
  if (!m.width || !m.height) throw new DecodeError('its size cannot be read (BMP is not taken for boxes)', name);
  return orientedSize(m.width, m.height, m.orientation);
}

/** What a sample file of a folder kind is checked with before it is stored: graft reads it as `graft train` will. */
async function checkSample(kind: ProjectKind, bytes: Uint8Array, name: string): Promise<void> {
  if (kind === 'audio') await decodeAudio(bytes, SHOWN, name);
  else if (kind === 'detection') await imageSizeOf(bytes, name);
  else await decodeImageBuffer(bytes, { height: 8, width: 8, channels: 3 }, 'cover', name);
}

function sameToken(a: string | undefined, b: string): boolean {
  if (!a || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export async function startStudio(o: StudioOptions): Promise<Studio> {
  const host = o.host ?? '127.0.0.1';
  const token = o.token ?? randomBytes(32).toString('hex');
  const maxFile = o.maxFileBytes ?? 10 * 2 ** 20;
  const maxRequest = o.maxRequestBytes ?? 50 * 2 ** 20;
  const bases: Record<ProjectKind, string[]> = {
    image: [...STUDIO_BASES.image, ...(o.bases ?? [])],
    text: STUDIO_BASES.text,
    audio: STUDIO_BASES.audio,
    detection: STUDIO_BASES.detection,
  };
  const workspace = new Workspace(o.dir);
  const trainer = new Trainer(workspace);
  const app = Fastify({ bodyLimit: 2 * 2 ** 20 });
  // A text/plain body is one a page on another origin may send without asking (CORS-safelisted):
  // the API takes JSON or files only, so Fastify answers it 415.
  app.removeContentTypeParser('text/plain');
  // preservePath: a name like ../x.png reaches checkSegment as sent, and is refused.
  await app.register(multipart, { preservePath: true, limits: { fileSize: maxFile, files: 1000, fields: 20 } });
  let allowedHosts = new Set<string>();

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SAFETY_HEADERS);
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(host)) return reply.code(403).send({ error: 'this server does not answer to that host name' });
    const url = new URL(req.url, 'http://studio');
    if (!url.pathname.startsWith('/api/')) {
      // The page and its assets are the package's own files, the same for everyone: no token.
      // A wrong token in the printed URL is said at once rather than by the page's first call.
      const given = url.searchParams.get('token');
      if (url.pathname === '/' && given !== null && !sameToken(given, token))
        return reply.code(401).send({ error: 'wrong token: open the URL graft studio printed' });
      return;
    }
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    if ((site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && origin !== `http://${host}`))
      return reply.code(403).send({ error: 'the studio answers its own page only (this request came from another origin)' });
    const header = req.headers[HEADER];
    if (!sameToken(typeof header === 'string' ? header : undefined, token))
      return reply.code(401).send({ error: 'no session: open the URL graft studio printed (it carries the token)' });
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxRequest) return reply.code(413).send({ error: `request larger than ${maxRequest} bytes` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const files = MULTIPART_ROUTE.test(url.pathname);
      const bodied = length > 0 || req.headers['transfer-encoding'] !== undefined;
      if (bodied || type) {
        if (type !== 'application/json' && !(files && type === 'multipart/form-data'))
          return reply
            .code(415)
            .send({ error: `send ${files ? 'multipart/form-data or ' : ''}application/json, not ${type || 'no type'}` });
      }
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof StudioError) return reply.code(err.status).send({ error: err.message });
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') return reply.code(413).send({ error: `a file is larger than ${maxFile} bytes` });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    // The server's own folders are none of the client's business.
    const message = err.message.split('\n')[0].replaceAll(workspace.dir, '<workspace>').replaceAll(tmpdir(), '<tmp>');
    return reply.code(status).send({ error: message });
  });

  // The page and its assets -----------------------------------------------------------------------
  const page = (name: string, type: string) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type(type).send(await readFile(join(APP_DIR, name)));
  app.get('/', page('index.html', APP_FILES['index.html']));
  for (const [name, type] of Object.entries(APP_FILES)) app.get(`/app/${name}`, page(name, type));
  for (const [name, v] of Object.entries(VENDOR))
    app.get(`/vendor/${name}`, async (_req, reply) => reply.type(v.type).send(readFileSync(v.path)));

  /**
   * The files of a multipart request, each name checked as a path segment and by `accept` (which
   * throws to refuse), the whole request read before anything is written: a refused request (size,
   * type, name) leaves the workspace as it was.
   */
  const uploadedFiles = async (req: FastifyRequest, accept: (name: string, mimetype: string) => void) => {
    if (!req.isMultipart()) throw new StudioError(415, 'send the files as multipart/form-data');
    const parts: { name: string; bytes: Buffer }[] = [];
    let total = 0;
    for await (const part of req.files()) {
      const bytes = await part.toBuffer();
      total += bytes.length;
      if (total > maxRequest) throw new StudioError(413, `request larger than ${maxRequest} bytes`);
      const name = checkSegment(part.filename, 'file name');
      accept(name, part.mimetype);
      parts.push({ name, bytes });
    }
    return parts;
  };

  // Projects --------------------------------------------------------------------------------------
  app.get('/api/bases', async () => bases);
  app.get('/api/projects', async () => workspace.list());
  app.post('/api/projects', async (req) => {
    const b = (req.body ?? {}) as { name?: string; kind?: ProjectKind };
    return workspace.create(String(b.name ?? ''), b.kind ?? 'image');
  });
  app.get<{ Params: { id: string } }>('/api/projects/:id', async (req) => {
    const summary = await workspace.summary(req.params.id);
    const samples = FOLDER_KINDS.includes(summary.kind)
      ? Object.fromEntries(
          await Promise.all(summary.classes.map(async (c) => [c, await workspace.sampleFiles(req.params.id, c, summary.kind)] as const)),
        )
      : holdsBoxes(summary.kind)
        ? await workspace.annotated(req.params.id)
        : await workspace.texts(req.params.id);
    const run = trainer.current(req.params.id);
    return { ...summary, samples, training: run && !run.finished };
  });
  // A project as one zip (its project.json and samples or texts), and a zip opened as a new project.
  app.get<{ Params: { id: string } }>('/api/projects/:id/archive', async (req, reply) =>
    reply
      .type('application/zip')
      .header('content-disposition', `attachment; filename="${req.params.id}-project.zip"`)
      .send(Buffer.from(zipSync(await workspace.archive(req.params.id), { level: 0 }))),
  );
  /** The files of the one zip a request sends, each entry's declared size checked before it is inflated. */
  const zipFiles = async (req: FastifyRequest): Promise<Record<string, Uint8Array>> => {
    if (!req.isMultipart()) throw new StudioError(415, 'send the zip as multipart/form-data');
    const part = await req.file();
    if (!part || !/^application\/(zip|x-zip-compressed)$/.test(part.mimetype)) throw new StudioError(415, 'send one zip');
    const bytes = await part.toBuffer();
    if (bytes.length > maxRequest) throw new StudioError(413, `request larger than ${maxRequest} bytes`);
    let files: Record<string, Uint8Array>;
    // What the zip says of each entry is checked before it is inflated: a file over the per-file
    // limit, or more than the request limit in all (a zip bomb), refuses the archive. fflate
    // inflates into a buffer of the size declared, so an entry that lies cannot grow past it.
    // Names are checked segment by segment by the workspace (no absolute path, no .., no backslash).
    let total = 0;
    const refused: string[] = [];
    try {
      files = unzipSync(bytes, {
        filter: (f) => {
          total += f.originalSize;
          if (f.originalSize > maxFile || total > maxRequest) refused.push(f.name);
          return !f.name.endsWith('/') && !refused.length;
        },
      });
    } catch (e) {
      throw new StudioError(400, `not a readable zip: ${(e as Error).message}`);
    }
    if (refused.length) throw new StudioError(413, `${refused[0]}: over ${maxFile} bytes, or the archive over ${maxRequest} in all`);
    return files;
  };
  app.post('/api/archives', async (req) => {
    const files = await zipFiles(req);
    // A sample graft cannot read refuses the whole archive: opened, the project is what was saved.
    return workspace.importArchive(files, async (kind, sample, name) => {
      try {
        await checkSample(kind, sample, name);
      } catch (e) {
        if (e instanceof DecodeError) throw new StudioError(400, e.message);
        throw e;
      }
    });
  });
  app.delete<{ Params: { id: string } }>('/api/projects/:id', async (req) => {
    refuseWhileTraining(req.params.id);
    await workspace.remove(req.params.id);
    return { deleted: req.params.id };
  });

  const refuseWhileTraining = (id: string) => {
    const run = trainer.current(id);
    if (run && !run.finished) throw new StudioError(409, 'training already running for this project');
  };

  // Classes ---------------------------------------------------------------------------------------
  app.post<{ Params: { id: string } }>('/api/projects/:id/classes', async (req) => {
    refuseWhileTraining(req.params.id);
    return workspace.addClass(req.params.id, String((req.body as { name?: string })?.name ?? ''));
  });
  app.patch<{ Params: { id: string; cls: string } }>('/api/projects/:id/classes/:cls', async (req) => {
    refuseWhileTraining(req.params.id);
    return workspace.renameClass(req.params.id, req.params.cls, String((req.body as { name?: string })?.name ?? ''));
  });
  app.delete<{ Params: { id: string; cls: string } }>('/api/projects/:id/classes/:cls', async (req) => {
    refuseWhileTraining(req.params.id);
    return workspace.deleteClass(req.params.id, req.params.cls);
  });

  // Samples ---------------------------------------------------------------------------------------
  app.post<{ Params: { id: string; cls: string } }>('/api/projects/:id/classes/:cls/samples', async (req) => {
    refuseWhileTraining(req.params.id);
    const project = await workspace.read(req.params.id);
    if (!project.classes.includes(req.params.cls)) throw new StudioError(404, `no class ${JSON.stringify(req.params.cls)}`);
    if (holdsBoxes(project.kind)) throw new StudioError(400, "a detection project's images go to /images, their boxes to each image");
    const parts = await uploadedFiles(req, (name, mimetype) => {
      const text = /^text\/(plain|csv)$/.test(mimetype) || /\.(txt|csv)$/i.test(name);
      const ok = project.kind === 'text' ? text : mimetype.startsWith(project.kind === 'audio' ? 'audio/' : 'image/');
      if (!ok)
        throw new StudioError(
          415,
          `${name}: ${mimetype} is not ${project.kind === 'text' ? 'a CSV or plain text file' : `an ${project.kind} file`}`,
        );
      if (project.kind !== 'text' && !isSampleName(project.kind, name))
        throw new StudioError(415, `${name}: not ${SAMPLE_NAMES[project.kind]}`);
    });
    if (project.kind === 'text') {
      const rows = parts.flatMap((p) => textRows(p.bytes, p.name, req.params.cls));
      return { added: await workspace.addTexts(req.params.id, rows), rejected: [] };
    }
    const added: string[] = [];
    const rejected: { file: string; reason: string }[] = [];
    for (const { name, bytes } of parts) {
      try {
        // A file graft cannot decode (or a silent or empty recording) is reported with the reason, not stored.
        await checkSample(project.kind, bytes, name);
      } catch (e) {
        rejected.push({ file: name, reason: (e as Error).message });
        continue;
      }
      added.push(await workspace.addSample(req.params.id, req.params.cls, name, bytes));
    }
    return { added, rejected };
  });
  app.post<{ Params: { id: string; cls: string } }>('/api/projects/:id/classes/:cls/texts', async (req) => {
    refuseWhileTraining(req.params.id);
    const texts = (req.body as { texts?: unknown })?.texts;
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw new StudioError(400, 'send {"texts": ["…", …]}');
    return {
      added: await workspace.addTexts(
        req.params.id,
        texts.map((text) => ({ text, label: req.params.cls })),
      ),
    };
  });
  app.get<{ Params: { id: string; cls: string; file: string } }>('/api/projects/:id/classes/:cls/samples/:file', async (req, reply) => {
    const path = workspace.samplePath(req.params.id, req.params.cls, req.params.file);
    const bytes = await readFile(path).catch(() => {
      throw new StudioError(404, `no sample ${req.params.cls}/${req.params.file}`);
    });
    const ext = extname(path).toLowerCase();
    return reply.type(IMAGE_TYPES[ext] ?? AUDIO_CONTENT_TYPES[ext] ?? 'application/octet-stream').send(bytes);
  });
  // A recording as a picture: its log-mel spectrogram (SHOWN), time to the right and pitch up.
  app.get<{ Params: { id: string; cls: string; file: string } }>(
    '/api/projects/:id/classes/:cls/samples/:file/spectrogram',
    async (req, reply) => {
      const path = workspace.samplePath(req.params.id, req.params.cls, req.params.file);
      const bytes = await readFile(path).catch(() => {
        throw new StudioError(404, `no sample ${req.params.cls}/${req.params.file}`);
      });
      let pixels: Uint8Array;
      try {
        pixels = (await decodeAudio(bytes, SHOWN, req.params.file)).pixels;
      } catch (e) {
        if (e instanceof DecodeError) throw new StudioError(400, `cannot read the recording: ${e.reason}`);
        throw e;
      }
      return reply.type('image/png').send(await spectrogramPicture([{ label: '', pixels }], clipImageSize(SHOWN), 1, true));
    },
  );
  app.delete<{ Params: { id: string; cls: string; file: string } }>('/api/projects/:id/classes/:cls/samples/:file', async (req) => {
    refuseWhileTraining(req.params.id);
    await workspace.deleteSample(req.params.id, req.params.cls, req.params.file);
    return { deleted: req.params.file };
  });
  // A detection project's images and their boxes -------------------------------------------------
  app.post<{ Params: { id: string } }>('/api/projects/:id/images', async (req) => {
    refuseWhileTraining(req.params.id);
    const project = await workspace.read(req.params.id);
    if (!holdsBoxes(project.kind)) throw new StudioError(400, `this is an ${project.kind} project: its samples go to a class`);
    const parts = await uploadedFiles(req, (name, mimetype) => {
      if (!mimetype.startsWith('image/')) throw new StudioError(415, `${name}: ${mimetype} is not an image`);
      if (!isSampleName(project.kind, name)) throw new StudioError(415, `${name}: not ${SAMPLE_NAMES[project.kind]}`);
    });
    const added: string[] = [];
    const rejected: { file: string; reason: string }[] = [];
    for (const { name, bytes } of parts) {
      let size: { width: number; height: number };
      try {
        size = await imageSizeOf(bytes, name);
      } catch (e) {
        rejected.push({ file: name, reason: (e as Error).message });
        continue;
      }
      added.push(...(await workspace.addAnnotatedImages(req.params.id, [{ name, bytes, size, boxes: [] }])));
    }
    return { added, rejected };
  });
  // A COCO, Pascal VOC or YOLO data set (a zip of its folder) added to a detection project, as graft train reads each.
  app.post<{ Params: { id: string } }>('/api/projects/:id/boxes-import', async (req) => {
    refuseWhileTraining(req.params.id);
    const project = await workspace.read(req.params.id);
    if (!holdsBoxes(project.kind)) throw new StudioError(400, `this is an ${project.kind} project: boxes go to detection projects`);
    const files = await zipFiles(req);
    const dir = await mkdtemp(join(tmpdir(), 'graft-studio-import-'));
    try {
      for (const [path, bytes] of Object.entries(files)) {
        // Every segment checked as a name: nothing lands outside the temporary folder.
        const at = path.split('/').map((p) => checkSegment(p, 'file name in the zip'));
        await mkdir(join(dir, ...at.slice(0, -1)), { recursive: true });
        await writeFile(join(dir, ...at), bytes);
      }
      const jsons = Object.keys(files).filter((p) => !p.includes('/') && p.endsWith('.json'));
      const skipped: { file: string; reason: string }[] = [];
      let set;
      try {
        set = await loadDetectionData(jsons.length === 1 ? join(dir, jsons[0]) : dir, {
          callbacks: [{ onSkip: (s) => void skipped.push({ file: s.path, reason: s.reason }) }],
        });
      } catch (e) {
        throw new StudioError(400, (e as Error).message.replaceAll(dir, '<zip>'));
      }
      const items = [];
      const rejected = skipped.map((s) => ({ file: s.file.replaceAll(dir, '<zip>'), reason: s.reason.replaceAll(dir, '<zip>') }));
      for (const sample of set.samples) {
        const name = basename(sample.file);
        const bytes = await readFile(sample.file);
        try {
          const size = await imageSizeOf(bytes, name);
          const boxes = sample.objects.filter((o) => !o.ignore).map((o) => ({ label: set.classes[o.label], box: o.box }));
          items.push({ name, bytes, size, boxes });
        } catch (e) {
          rejected.push({ file: name, reason: (e as Error).message });
        }
      }
      return { format: set.format, added: await workspace.addAnnotatedImages(req.params.id, items), rejected };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  app.get<{ Params: { id: string; file: string } }>('/api/projects/:id/images/:file', async (req, reply) => {
    const path = workspace.imageFile(req.params.id, req.params.file);
    const bytes = await readFile(path).catch(() => {
      throw new StudioError(404, `no image ${req.params.file}`);
    });
    return reply.type(IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream').send(bytes);
  });
  app.put<{ Params: { id: string; file: string } }>('/api/projects/:id/images/:file/boxes', async (req) => {
    refuseWhileTraining(req.params.id);
    return workspace.setBoxes(req.params.id, req.params.file, (req.body as { boxes?: unknown } | undefined)?.boxes);
  });
  app.delete<{ Params: { id: string; file: string } }>('/api/projects/:id/images/:file', async (req) => {
    refuseWhileTraining(req.params.id);
    await workspace.deleteAnnotatedImage(req.params.id, req.params.file);
    return { deleted: req.params.file };
  });
  // The boxes as COCO JSON: the file graft train --head detect reads (file names relative to it).
  app.get<{ Params: { id: string } }>('/api/projects/:id/annotations.json', async (req, reply) => {
    const bytes = await readFile(workspace.annotationsPath(req.params.id)).catch(() => {
      throw new StudioError(404, 'no images yet');
    });
    return reply.type('application/json').header('content-disposition', `attachment; filename="${req.params.id}-coco.json"`).send(bytes);
  });
  app.delete<{ Params: { id: string; text: string } }>('/api/projects/:id/texts/:text', async (req) => {
    refuseWhileTraining(req.params.id);
    await workspace.deleteText(req.params.id, Number(req.params.text));
    return { deleted: Number(req.params.text) };
  });

  // Which base and cut? ---------------------------------------------------------------------------
  app.post<{ Params: { id: string } }>('/api/projects/:id/rank', async (req) => {
    const project = await workspace.read(req.params.id);
    if (project.kind === 'text' || holdsBoxes(project.kind)) throw new StudioError(400, 'ranking cuts is for image and sound projects');
    const rows = [];
    for (const name of bases[project.kind]) {
      const base = await loadImageBase(name);
      const splits = await loadDataSplits(workspace.samplesDir(req.params.id), {
        size: base.input,
        resize: base.resize,
        medium: base.medium,
        classes: project.classes,
        seed: 0,
      });
      const r = await rankCuts(base, splits.train, { cuts: 'blocks', seed: 0 });
      rows.push(...r.rows.slice(0, 3).map((row) => ({ base: name, cut: row.cut, logme: row.logme })));
    }
    return rows.sort((a, b) => b.logme - a.logme);
  });

  // Training --------------------------------------------------------------------------------------
  app.post<{ Params: { id: string } }>('/api/projects/:id/train', async (req, reply) => {
    const s = (req.body ?? {}) as Partial<TrainSettings>;
    const project = await workspace.read(req.params.id);
    const base = s.base ?? bases[project.kind][0];
    if (!bases[project.kind].includes(base)) throw new StudioError(400, `base ${base} is not one of ${bases[project.kind].join(', ')}`);
    const num = (v: unknown, what: string, min: number, max: number) => {
      if (v === undefined || v === null || v === '') return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) throw new StudioError(400, `${what} must be between ${min} and ${max}`);
      return n;
    };
    const settings: TrainSettings = {
      base,
      epochs: num(s.epochs, 'epochs', 1, 500),
      learningRate: num(s.learningRate, 'learning rate', 1e-6, 1),
      perClass: num(s.perClass, 'per-class limit', 1, 1e6),
      unfreeze: num(s.unfreeze, 'unfreeze', 0, 20),
    };
    await trainer.start(req.params.id, settings);
    return reply.code(202).send({ started: true, settings });
  });
  app.post<{ Params: { id: string } }>('/api/projects/:id/train/cancel', async (req) => ({ cancelled: trainer.cancel(req.params.id) }));
  app.get<{ Params: { id: string } }>('/api/projects/:id/train/events', async (req, reply) => {
    const run = trainer.current(req.params.id);
    if (!run) throw new StudioError(404, 'no training run for this project since the server started');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...SAFETY_HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // A client gone mid-stream is its own business, never the server's.
    res.on('error', () => {});
    // The stream ends after the run's last event, not after the first event of a finished run:
    // subscribing replays every saved event, and writing past the end would kill the process.
    let stop = () => {};
    stop = run.subscribe((e) => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`data: ${JSON.stringify(e)}\n\n`);
      if (isFinal(e)) {
        res.end();
        queueMicrotask(() => stop());
      }
    });
    req.raw.on('close', () => stop());
  });

  // The trained model -----------------------------------------------------------------------------
  app.get<{ Params: { id: string } }>('/api/projects/:id/report', async (req) => {
    const file = workspace.modelFile(req.params.id, REPORT_FILE);
    return JSON.parse(
      await readFile(file, 'utf8').catch(() => {
        throw new StudioError(404, 'no trained model yet');
      }),
    );
  });
  app.get<{ Params: { id: string; file: string } }>('/api/projects/:id/model/:file', async (req, reply) => {
    const file = req.params.file;
    if (!['model.json', 'weights.bin', 'graft.json'].includes(file)) throw new StudioError(404, `no model file ${file}`);
    const bytes = await readFile(workspace.modelFile(req.params.id, file)).catch(() => {
      throw new StudioError(404, 'no trained model yet');
    });
    return reply.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream').send(bytes);
  });
  app.get<{ Params: { id: string; file: string } }>('/api/projects/:id/drawn/:file', async (req, reply) => {
    const bytes = await readFile(workspace.drawnFile(req.params.id, req.params.file)).catch(() => {
      throw new StudioError(404, `no drawn image ${req.params.file}`);
    });
    return reply.type(IMAGE_TYPES[extname(req.params.file).toLowerCase()] ?? 'application/octet-stream').send(bytes);
  });
  app.post<{ Params: { id: string } }>('/api/projects/:id/predict', async (req) => {
    const model = await loadModel(workspace.modelDir(req.params.id)).catch(() => {
      throw new StudioError(404, 'no trained model yet');
    });
    try {
      if (model.kind === 'text') {
        const text = String((req.body as { text?: string })?.text ?? '');
        const [p] = await model.predict([text], { top: model.classes.length });
        return { probabilities: p.top };
      }
      if (model.kind === 'detection') {
        if (!req.isMultipart()) throw new StudioError(415, 'send the image as multipart/form-data');
        const part = await req.file();
        if (!part || !part.mimetype.startsWith('image/')) throw new StudioError(415, 'send one image');
        const bytes = await part.toBuffer();
        // The score a box needs (a form field before the file; default the model's own).
        const field = part.fields.threshold as { value?: unknown } | undefined;
        const threshold = field?.value === undefined ? undefined : Number(field.value);
        if (threshold !== undefined && !(threshold > 0 && threshold <= 1)) throw new StudioError(400, 'threshold must be in (0, 1]');
        try {
          const [p] = await model.predict([{ bytes, name: 'the image' }], { threshold });
          return { boxes: p.boxes, threshold: threshold ?? model.meta.scoreThreshold };
        } catch (e) {
          if (e instanceof DecodeError) throw new StudioError(400, `cannot read the image: ${e.reason}`);
          throw e;
        }
      }
      if (model.kind !== 'image') throw new StudioError(400, `a ${model.kind} model cannot be tried here`);
      const what = model.meta.medium?.kind === 'audio' ? 'recording' : 'image';
      if (!req.isMultipart()) throw new StudioError(415, `send the ${what} as multipart/form-data`);
      const part = await req.file();
      if (!part || !part.mimetype.startsWith(what === 'image' ? 'image/' : 'audio/')) throw new StudioError(415, `send one ${what}`);
      const bytes = await part.toBuffer();
      // The kind decodes the bytes as it would the file holding them: what is not an image (or a
      // recording) is the client's fault (400), and the answer names neither the file nor a path of the server's.
      try {
        const [p] = await model.predict([{ bytes, name: `the ${what}`, type: part.mimetype }], { top: model.meta.labels.length });
        return { probabilities: p.top };
      } catch (e) {
        if (e instanceof DecodeError) throw new StudioError(400, `cannot read the ${what}: ${e.reason}`);
        throw e;
      }
    } finally {
      await model.dispose();
    }
  });
  app.get<{ Params: { id: string }; Querystring: { format?: string } }>('/api/projects/:id/export', async (req, reply) => {
    const dir = workspace.modelDir(req.params.id);
    const files: Record<string, Uint8Array> = {};
    const format = req.query.format ?? 'tfjs';
    if (format === 'tfjs') {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
        throw new StudioError(404, 'no trained model yet');
      });
      for (const e of entries.filter((x) => x.isFile() && !x.name.startsWith('.'))) files[e.name] = await readFile(join(dir, e.name));
    } else if (format === 'onnx') {
      const model = await loadModel(dir).catch(() => {
        throw new StudioError(404, 'no trained model yet');
      });
      try {
        const x = await model.export('onnx');
        files['model.onnx'] = x.bytes;
        files['model.onnx.json'] = strToU8(JSON.stringify(x.sidecar, null, 2));
      } finally {
        await model.dispose();
      }
    } else throw new StudioError(400, `format is tfjs or onnx, not ${format}`);
    files['README.txt'] = strToU8(exportSnippet(format, (await workspace.read(req.params.id)).name));
    return reply
      .type('application/zip')
      .header('content-disposition', `attachment; filename="${req.params.id}-${format}.zip"`)
      .send(Buffer.from(zipSync(files)));
  });
  app.get<{ Querystring: { format?: string; name?: string } }>('/api/snippet', async (req) => ({
    snippet: exportSnippet(req.query.format ?? 'tfjs', req.query.name ?? 'your model'),
  }));

  await app.listen({ host, port: o.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 0);
  allowedHosts = allowedHostValues(host, port, o.allowedHosts ?? []);
  const url = `http://${bracketed(host)}:${port}/`;
  return {
    url,
    openUrl: `${url}?token=${token}`,
    token,
    app,
    close: async () => {
      await trainer.settle();
      await app.close();
    },
  };
}

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
};

/** A text upload's rows: a CSV's `text` column (or its first), or each non-empty line of a plain text file. */
function textRows(bytes: Buffer, name: string, label: string): { text: string; label: string }[] {
  if (!/\.csv$/i.test(name))
    return bytes
      .toString('utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim())
      .map((text) => ({ text, label }));
  let records: string[][];
  try {
    records = parseCsv(bytes, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (e) {
    throw new StudioError(400, `${name}: not a valid CSV file: ${(e as Error).message}`);
  }
  const header = records[0]?.map((h) => h.trim().toLowerCase()) ?? [];
  const at = header.indexOf('text');
  const rows = at >= 0 ? records.slice(1) : records;
  return rows.map((r) => ({ text: r[Math.max(at, 0)] ?? '', label })).filter((r) => r.text.trim());
}

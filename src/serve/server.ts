// `graft serve`: trained models behind TF Serving's REST API (so its clients work), with dynamic
// batching, Prometheus metrics (prom-client) and an OpenAPI document. A request never takes the
// server down nor another request with it: every bad input is a 4xx with a one-line reason that
// names no server path, checked before it joins a batch; a failure inside a batch is rerun one
// instance at a time (batcher.ts). A client cannot hold the server: bodies are limited in size
// (multipart in total too) and in time, a Host header must name this server (DNS rebinding), and
// on close a slow or stalled upload is cut after a short grace instead of being waited for.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import { Counter, Histogram, Registry } from 'prom-client';
import { allowedHostValues, bracketed } from '../io/hosts.js';
import { GRAFT_VERSION } from '../core/version.js';
import { DynamicBatcher } from './batcher.js';
import { BadInput, isImageType, loadServedModel, type Instance, type Prediction, type ServedModel } from './model.js';

export interface ServeOptions {
  /** Model name → trained model directory. */
  models: Record<string, string>;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Instances per batch (default 32); 1 turns batching off. */
  maxBatch?: number;
  /** How long the first instance of a batch waits for others (default 5 ms). */
  maxDelayMs?: number;
  /** Request body limit (default 16 MB), a multipart body's parts all together too. */
  maxBodyBytes?: number;
  /** The whole request (headers and body) must arrive within this (default 30 s; 0: no limit); else 408. */
  requestTimeoutMs?: number;
  /** Its headers must arrive within this (default 10 s, at most requestTimeoutMs); else 408. */
  headersTimeoutMs?: number;
  /** A connection with no traffic either way for this long is closed (default 120 s; 0: never). */
  idleTimeoutMs?: number;
  /** On close, connections still sending a request are cut after this (default 2 s); answers being computed are waited for. */
  closeGraceMs?: number;
  /**
   * Host header values answered besides this server's own address (`name:port`, or `name`: bare and
   * with this server's port). Bound to
   * loopback, its own are 127.0.0.1, localhost and [::1] with the port; bound to 0.0.0.0 or ::, also
   * this machine's name and addresses; bound to an address, that address. Any other is a 403.
   */
  allowedHosts?: string[];
}

export interface Server {
  url: string;
  app: FastifyInstance;
  /** Stops accepting, finishes what is in flight, releases the models. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** TF Serving's instances: a text, or an image as {"b64": …}. */
function toInstance(v: unknown, i: number): Instance {
  if (typeof v === 'string') return { kind: 'text', text: v };
  if (v && typeof v === 'object' && typeof (v as { b64?: unknown }).b64 === 'string') {
    const b64 = (v as { b64: string }).b64;
    if (!/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(b64)) throw new HttpError(400, `instances[${i}].b64 is not base64`);
    return { kind: 'file', bytes: Buffer.from(b64, 'base64') };
  }
  throw new HttpError(400, `instances[${i}] must be a text or {"b64": "<base64 image>"}`);
}

/** How long a connection answered before its body was all read is still read (and dropped) before it is cut. */
const LINGER_MS = 1000;

/**
 * A message that did not come from this file, with anything like an absolute path taken out (a
 * model directory, a module's location): a client is told the reason, never
 * where the server keeps things.
 */
const withoutPaths = (message: string) => message.replace(/(?<![\w:/.])\/(?:[\w.@+~-]+\/)+[\w.@+~-]*/g, '…');

export async function startServer(o: ServeOptions): Promise<Server> {
  const maxBatch = o.maxBatch ?? 32;
  const maxDelayMs = o.maxDelayMs ?? 5;
  const maxBody = o.maxBodyBytes ?? 16 * 2 ** 20;
  const requestTimeout = o.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(o.headersTimeoutMs ?? 10_000, requestTimeout || Infinity);
  const idleTimeout = o.idleTimeoutMs ?? 120_000;
  const closeGrace = o.closeGraceMs ?? 2_000;
  const host = o.host ?? '127.0.0.1';
  const registry = new Registry();
  const requests = new Counter({
    name: 'graft_requests_total',
    help: 'requests by model and status',
    labelNames: ['model', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'graft_request_seconds',
    help: 'request latency',
    labelNames: ['model'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const batchSizes = new Histogram({
    name: 'graft_batch_size',
    help: 'instances per batch run',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [registry],
  });

  const served = new Map<string, { model: ServedModel; batcher: DynamicBatcher<unknown, Prediction> }>();
  for (const [name, dir] of Object.entries(o.models)) {
    const model = await loadServedModel(name, dir);
    const batcher = new DynamicBatcher<unknown, Prediction>((batch) => model.run(batch), {
      maxBatch,
      maxDelayMs,
      onBatch: (n) => batchSizes.observe({ model: name }, n),
    });
    served.set(name, { model, batcher });
  }

  // Node's http server enforces the timeouts (408 when a request is not all there in time) and
  // checks them every connectionsCheckingInterval, 30 s by default: a quarter of the shortest
  // timeout here, so a slow client is cut close to its limit, not up to 30 s after it.
  const timeouts = [requestTimeout, headersTimeout].filter((t) => t > 0);
  const app = Fastify({
    bodyLimit: maxBody,
    requestTimeout,
    connectionTimeout: idleTimeout,
    http: {
      requestTimeout,
      headersTimeout,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(Math.min(...timeouts, 4000) / 4))),
    },
    // Requests arriving while closing get graft's own one-line 503 (the onRequest hook below).
    return503OnClosing: false,
    // Errors Node meets before there is a request (a timeout, headers too large, not HTTP) answered
    // as every other error here: one line of JSON, then the connection closed.
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, error] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [
              408,
              `the request did not arrive in time (headers within ${headersTimeout / 1000} s, all of it within ${requestTimeout / 1000} s)`,
            ]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'request headers too large']
            : [400, 'malformed HTTP request'];
      const body = JSON.stringify({ error });
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
        );
      socket.destroy(err);
    },
  });
  await app.register(multipart, { limits: { fileSize: maxBody, files: maxBatch * 4 } });
  // Raw image bodies (Content-Type image/*) arrive as bytes.
  app.addContentTypeParser(/^(image|audio)\//, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err instanceof HttpError ? err.status : err instanceof BadInput ? 400 : (err.statusCode ?? 500);
    const message =
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'unsupported media type: send application/json, image/*, or multipart/form-data'
        : err instanceof HttpError
          ? err.message
          : withoutPaths(err.message.split('\n')[0]);
    return reply.code(status >= 400 && status < 600 ? status : 500).send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such route (${req.method}): the API is in GET /openapi.json` }));

  // The request each connection is receiving or being answered, for close(): one still receiving
  // is cut after the grace, one whose answer is being computed is waited for.
  const sockets = new Set<Socket>();
  const current = new WeakMap<Socket, { complete: boolean }>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let allowedHosts = new Set<string>();
  let closing = false;
  app.addHook('onRequest', async (req, reply) => {
    current.set(req.raw.socket, req.raw);
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase()))
      return reply.code(403).send({ error: 'this server does not answer to that host name' });
    if (closing) return reply.code(503).send({ error: 'the server is shutting down' });
    // Refused before a byte of the body is read. Fastify does this for the bodies it parses; a
    // multipart body is read by the route, which also counts what arrives without a length.
    if (Number(req.headers['content-length']) > maxBody) return reply.code(413).send({ error: `the request is over ${maxBody} bytes` });
  });
  app.addHook('onResponse', async (req) => {
    const raw = req.raw;
    if (current.get(raw.socket) === raw) current.delete(raw.socket);
    if (raw.complete) return;
    // Answered before its body was all read (over the limit, a bad part, a refused Host): what
    // still arrives is dropped for a moment, then the connection is cut, so the rest of a huge
    // body is never read. Not at once: closing a socket the client is still writing to resets
    // it, and a client busy sending would lose the answer with it (as nginx's lingering close).
    raw.unpipe();
    raw.resume();
    setTimeout(() => raw.complete || raw.socket.destroy(), LINGER_MS).unref();
  });
  app.addHook('onResponse', async (req, reply) => {
    const params = req.params as { name?: string; target?: string } | undefined;
    const model = params?.name ?? params?.target?.replace(/:predict$/, '');
    if (model && served.has(model)) {
      requests.inc({ model, status: String(reply.statusCode) });
      latency.observe({ model }, reply.elapsedTime / 1000);
    }
  });

  const get = (name: string) => {
    const s = served.get(name);
    if (!s) throw new HttpError(404, `no model ${JSON.stringify(name)} (serving: ${[...served.keys()].join(', ')})`);
    return s;
  };

  app.get('/healthz', async () => ({ status: 'ok', models: [...served.keys()] }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/openapi.json', async () => openApi([...served.keys()]));
  app.get<{ Params: { name: string } }>('/v1/models/:name', async (req) => {
    const { model } = get(req.params.name);
    return {
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
      name: model.name,
      kind: model.kind,
      labels: model.labels,
      ...model.metadata,
      graft: GRAFT_VERSION,
    };
  });
  // TF Serving's path puts the verb after a colon in the last segment: NAME:predict.
  app.post<{ Params: { target: string } }>('/v1/models/:target', async (req, reply: FastifyReply) => {
    const m = /^(.+):predict$/.exec(req.params.target);
    if (!m) throw new HttpError(404, `POST /v1/models/NAME:predict (got ${req.params.target})`);
    const { model, batcher } = get(m[1]);
    let instances: Instance[];
    const type = req.headers['content-type'] ?? '';
    if (!req.isMultipart() && !/^(image|audio)\//.test(type) && !type.startsWith('application/json'))
      throw new HttpError(
        415,
        `unsupported media type ${type || '(none)'}: send application/json, image/*, audio/*, or multipart/form-data`,
      );
    if (req.isMultipart()) {
      instances = [];
      // @fastify/multipart limits each file and the number of files, not their sum: counted here,
      // so a body of many parts each under the limit is refused as soon as the sum passes it.
      let total = 0;
      for await (const part of req.files()) {
        if (!isImageType(part.mimetype, part.filename) && !part.mimetype.startsWith('audio/'))
          throw new HttpError(415, `${part.filename}: ${part.mimetype} is not an image or a recording`);
        const chunks: Buffer[] = [];
        for await (const chunk of part.file as AsyncIterable<Buffer>) {
          total += chunk.length;
          if (total > maxBody) throw new HttpError(413, `the request's files are over ${maxBody} bytes together`);
          chunks.push(chunk);
        }
        if (part.file.truncated) throw new HttpError(413, `${part.filename}: over ${maxBody} bytes`);
        instances.push({ kind: 'file', bytes: Buffer.concat(chunks) });
      }
    } else if (type.startsWith('image/') || type.startsWith('audio/')) instances = [{ kind: 'file', bytes: req.body as Buffer }];
    else {
      const body = req.body as { instances?: unknown } | null;
      if (!body || !Array.isArray(body.instances)) throw new HttpError(400, 'expected {"instances": [...]}');
      instances = body.instances.map(toInstance);
    }
    if (instances.length === 0) throw new HttpError(400, 'no instances');
    if (instances.length > 1024) throw new HttpError(413, `${instances.length} instances in one request; at most 1024`);
    // Each instance decoded and checked on its own before any joins a batch: a bad one is this
    // request's 400 (named by its index).
    const settled = await Promise.allSettled(instances.map((x) => model.prepare(x)));
    const failed = settled.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const e = (settled[failed] as PromiseRejectedResult).reason as unknown;
      throw e instanceof BadInput && instances.length > 1 ? new BadInput(`instances[${failed}]: ${e.message}`) : e;
    }
    const out = await batcher.submit(settled.map((r) => (r as PromiseFulfilledResult<unknown>).value));
    return reply.send({ predictions: out, labels: model.labels });
  });

  // Once closing, answers in flight end their connection: a kept-alive socket would otherwise
  // hold the server open for Fastify's keep-alive timeout (72 s) after the last answer.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  await app.listen({ host, port: o.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 0);
  allowedHosts = allowedHostValues(host, port, o.allowedHosts ?? []);
  return {
    url: `http://${bracketed(host)}:${port}/`,
    app,
    close: async () => {
      closing = true;
      // app.close() stops accepting and closes idle connections (Node's server.close); it then
      // waits for every open request. One still arriving after the grace (a slow or stalled
      // upload, headers never finished) is cut; an answer being computed is waited for.
      const grace = setTimeout(() => {
        for (const socket of sockets) if (!current.get(socket)?.complete) socket.destroy();
      }, closeGrace);
      try {
        await app.close();
      } finally {
        clearTimeout(grace);
      }
      for (const { model } of served.values()) await model.close();
    },
  };
}

function openApi(models: string[]): Record<string, unknown> {
  const error = { type: 'object', properties: { error: { type: 'string' } } };
  return {
    openapi: '3.0.3',
    info: {
      title: 'graft serve',
      version: GRAFT_VERSION,
      description: `TF Serving's REST API for graft's trained models: ${models.join(', ')}`,
    },
    paths: {
      '/v1/models/{name}:predict': {
        post: {
          summary: 'class probabilities for each instance',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', enum: models } }],
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['instances'],
                  properties: {
                    instances: {
                      type: 'array',
                      items: { oneOf: [{ type: 'string' }, { type: 'object', properties: { b64: { type: 'string', format: 'byte' } } }] },
                    },
                  },
                },
              },
              'image/*': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': { schema: { type: 'object', additionalProperties: { type: 'string', format: 'binary' } } },
            },
          },
          responses: {
            200: {
              description: 'one row of probabilities per instance, in the order of labels',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      predictions: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
                      labels: { type: 'array', items: { type: 'string' } },
                    },
                  },
                },
              },
            },
            400: {
              description: 'malformed JSON, a corrupt image, a wrong kind of instance',
              content: { 'application/json': { schema: error } },
            },
            403: { description: 'a Host header that does not name this server', content: { 'application/json': { schema: error } } },
            404: { description: 'unknown model', content: { 'application/json': { schema: error } } },
            408: { description: 'the request did not arrive in time', content: { 'application/json': { schema: error } } },
            413: { description: 'body too large', content: { 'application/json': { schema: error } } },
            415: { description: 'unsupported media type', content: { 'application/json': { schema: error } } },
          },
        },
      },
      '/v1/models/{name}': {
        get: {
          summary: 'status, labels, input and preprocessing',
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: { description: 'model metadata' } },
        },
      },
      '/healthz': { get: { summary: 'liveness', responses: { 200: { description: 'ok' } } } },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics: requests by status, latency histogram, batch sizes',
          responses: { 200: { description: 'text/plain' } },
        },
      },
    },
  };
}

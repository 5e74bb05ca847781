// `graft serve`: trained models behind TF Serving's REST API (so its clients work), with dynamic
// batching, Prometheus metrics (prom-client) and an OpenAPI document. A request never takes the
// server down: every bad input is a 4xx with a one-line reason, and a failure inside a batch is
// that batch's requests' 500.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import { Counter, Histogram, Registry } from 'prom-client';
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
  /** Request body limit (default 16 MB). */
  maxBodyBytes?: number;
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

export async function startServer(o: ServeOptions): Promise<Server> {
  const maxBatch = o.maxBatch ?? 32;
  const maxDelayMs = o.maxDelayMs ?? 5;
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

  const app = Fastify({ bodyLimit: o.maxBodyBytes ?? 16 * 2 ** 20 });
  await app.register(multipart, { limits: { fileSize: o.maxBodyBytes ?? 16 * 2 ** 20, files: maxBatch * 4 } });
  // Raw image bodies (Content-Type image/*) arrive as bytes.
  app.addContentTypeParser(/^(image|audio)\//, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err instanceof HttpError ? err.status : err instanceof BadInput ? 400 : (err.statusCode ?? 500);
    const message =
      err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'unsupported media type: send application/json, image/*, or multipart/form-data'
        : err.message.split('\n')[0];
    return reply.code(status >= 400 && status < 600 ? status : 500).send({ error: message });
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
      for await (const part of req.files()) {
        if (!isImageType(part.mimetype, part.filename) && !part.mimetype.startsWith('audio/'))
          throw new HttpError(415, `${part.filename}: ${part.mimetype} is not an image or a recording`);
        instances.push({ kind: 'file', bytes: await part.toBuffer() });
      }
    } else if (type.startsWith('image/') || type.startsWith('audio/')) instances = [{ kind: 'file', bytes: req.body as Buffer }];
    else {
      const body = req.body as { instances?: unknown } | null;
      if (!body || !Array.isArray(body.instances)) throw new HttpError(400, 'expected {"instances": [...]}');
      instances = body.instances.map(toInstance);
    }
    if (instances.length === 0) throw new HttpError(400, 'no instances');
    if (instances.length > 1024) throw new HttpError(413, `${instances.length} instances in one request; at most 1024`);
    const prepared = await Promise.all(instances.map((x) => model.prepare(x)));
    const out = await batcher.submit(prepared);
    return reply.send({ predictions: out, labels: model.labels });
  });

  // Once closing, answers in flight end their connection: a kept-alive socket would otherwise
  // hold the server open for Fastify's keep-alive timeout (72 s) after the last answer.
  let closing = false;
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (o.port ?? 0);
  const host = o.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    app,
    close: async () => {
      closing = true;
      await app.close();
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
            404: { description: 'unknown model', content: { 'application/json': { schema: error } } },
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

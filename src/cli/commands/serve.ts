// `graft serve`: trained models behind TF Serving's REST API on 127.0.0.1 (another --host with a
// warning), with dynamic batching; SIGTERM or Ctrl-C stops accepting, finishes what is in flight
// and exits 0.
import { Command } from 'commander';
import { basename, resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import { parseHostList } from '../../io/hosts.js';
import { startServer } from '../../serve/server.js';
import { hostArg, intArg, log, portArg, prepare, warn, type GlobalOptions } from '../shared.js';

type Flags = GlobalOptions & {
  model: string[];
  port: number;
  host: string;
  allowedHosts: string[];
  maxBatch: number;
  maxDelayMs: number;
};

/** `--model DIR` (named after the folder) or `--model NAME=DIR`. */
function models(specs: string[]): Record<string, string> {
  if (!specs.length) throw usageError('graft serve needs --model DIR (or NAME=DIR), once per model');
  // No prototype: a model named __proto__ or constructor is a model like any other.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const [name, dir] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [basename(resolve(spec)), spec];
    if (!/^[\w.-]+$/.test(name)) throw usageError(`model name ${JSON.stringify(name)}: use letters, digits, ., _ and -`);
    if (Object.hasOwn(out, name)) throw usageError(`two models named ${name}: give one a name with --model NAME=DIR`);
    out[name] = dir;
  }
  return out;
}

// --max-delay-ms: a timer holds at most 2^31 - 1 ms (Node makes a longer one 1 ms, with a
// warning); a minute is already longer than any batch is worth waiting for.
export function serveCommand(): Command {
  return new Command('serve')
    .description("serve trained models over HTTP (TF Serving's REST API: POST /v1/models/NAME:predict), with dynamic batching")
    .option(
      '--model <[name=]dir>',
      'a trained model directory, optionally named (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--port <n>', 'port (0: any free one)', portArg, 8501)
    .option('--host <address>', 'address to listen on', hostArg, '127.0.0.1')
    .option(
      '--allowed-hosts <names>',
      'more Host header names to answer, comma-separated NAME (with or without the port) or NAME:PORT (a proxy, a LAN name; repeatable); any other gets 403',
      (v: string, all: string[]) => [...all, ...parseHostList(v)],
      [],
    )
    .option('--max-batch <n>', 'instances run together at most (1: no batching)', intArg('--max-batch', 1), 32)
    .option('--max-delay-ms <ms>', 'how long a batch waits to fill (at most 60000)', intArg('--max-delay-ms', 0, 60_000), 5)
    .action(async (flags: Flags) => {
      const named = models(flags.model);
      await prepare(flags);
      if (!['127.0.0.1', 'localhost', '::1'].includes(flags.host))
        warn(`listening on ${flags.host}: anyone who can reach it can use these models`);
      const server = await startServer({
        models: named,
        host: flags.host,
        port: flags.port,
        allowedHosts: flags.allowedHosts,
        maxBatch: flags.maxBatch,
        maxDelayMs: flags.maxDelayMs,
      });
      for (const name of Object.keys(named)) log(`serving ${name} at ${server.url}v1/models/${name}:predict`);
      await new Promise<void>((done) => {
        const stop = () => void server.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

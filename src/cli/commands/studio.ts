// `graft studio`: the browser studio for people who do not write code. Starts the server on
// 127.0.0.1 (another --host is allowed, with a warning), prints the URL with its session token,
// opens the browser unless --no-open, and stops cleanly on Ctrl-C or SIGTERM.
import { Command } from 'commander';
import { resolve } from 'node:path';
import { loadImageBase } from '../../bases/index.js';
import { parseHostList } from '../../io/hosts.js';
import { startStudio } from '../../studio/server.js';
import { checkOutputs, hostArg, log, portArg, prepare, warn, type GlobalOptions } from '../shared.js';

type Flags = GlobalOptions & { dir: string; port: number; host: string; allowedHosts: string[]; open: boolean; base: string[] };

const collect = (v: string, all: string[]) => [...all, v];

export function studioCommand(): Command {
  return new Command('studio')
    .description('transfer learning in the browser: projects, samples, training, the model report, trying it and export')
    .option('--dir <workspace>', 'the workspace folder: one folder per project', 'graft-studio')
    .option('--port <n>', 'port (0: any free one)', portArg, 7860)
    .option('--host <address>', 'address to listen on', hostArg, '127.0.0.1')
    .option(
      '--allowed-hosts <names>',
      'more Host header names to answer, comma-separated NAME (with or without the port) or NAME:PORT (a proxy, a LAN name; repeatable); any other gets 403',
      (v: string, all: string[]) => [...all, ...parseHostList(v)],
      [],
    )
    .option('--no-open', 'do not open the browser')
    .option('--base <spec>', 'another image base to offer (path or URL to a TF.js model.json, or onnx:PATH); repeatable', collect, [])
    .action(async (flags: Flags) => {
      // The workspace is made (and written into) when the server starts.
      checkOutputs({ into: [{ path: flags.dir, flag: '--dir' }] });
      await prepare(flags);
      if (!['127.0.0.1', 'localhost', '::1'].includes(flags.host))
        warn(`listening on ${flags.host}: anyone who can reach it and has the token can use the studio and its files`);
      // Loaded once now, so a wrong path is an error at start, not at the first Train.
      for (const b of flags.base) await loadImageBase(b);
      const studio = await startStudio({
        dir: resolve(flags.dir),
        host: flags.host,
        port: flags.port,
        bases: flags.base,
        allowedHosts: flags.allowedHosts,
      });
      log(`graft studio on ${studio.url} (workspace ${resolve(flags.dir)})`);
      log(`open ${studio.openUrl}`);
      if (flags.open) {
        // No browser (a server, CI) is not an error: the URL is printed.
        const { default: open } = await import('open');
        await open(studio.openUrl).catch(() => undefined);
      }
      await new Promise<void>((done) => {
        const stop = () => void studio.close().then(done);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

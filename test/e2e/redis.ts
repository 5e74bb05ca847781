// A real redis-server for the queue tests (Debian's; .ci/run installs it): on a free loopback
// port, its data in the test's temp dir, append-only so a restart on the same port keeps the queue.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const REDIS = spawnSync('sh', ['-c', 'command -v redis-server']).stdout?.toString().trim();
/** A suite's `skip`: false, or why there is no Redis to test against. */
export const redisSkip = REDIS ? false : 'no redis-server (apt-get install -y redis-server; .ci/run installs it)';

const freePort = () =>
  new Promise<number>((done, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
    s.on('error', fail);
  });

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, ok: () => boolean, seconds = 60): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export class RedisServer {
  port = 0;
  private process?: ChildProcess;

  constructor(private readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Started (the first time on a free port, again on the same one), and answering. */
  async start(): Promise<void> {
    this.port ||= await freePort();
    mkdirSync(join(this.dir, 'redis'), { recursive: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', join(this.dir, 'redis')];
    this.process = spawn(REDIS!, [...args, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
    await until(
      'redis-server to answer',
      () =>
        spawnSync('redis-cli', ['-p', String(this.port), 'ping'])
          .stdout?.toString()
          .trim() === 'PONG',
      20,
    );
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    const r = this.process;
    if (!r || r.exitCode !== null || r.signalCode !== null) return;
    const exited = new Promise((done) => r.once('exit', done));
    r.kill(signal);
    await exited;
  }
}

// `npm run build` (and `prepare`, so `npm ci` in a checkout and `npm pack` build too): dist/ from
// src/ with tsc (tsconfig.build.json: ESM JavaScript, .d.ts declarations, source maps), plus the
// studio's static page, which tsc does not copy. dist/ is removed first so that a module deleted
// from src/ does not live on in the package.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
cpSync(new URL('../src/studio/app', import.meta.url), new URL('../dist/studio/app', import.meta.url), { recursive: true });

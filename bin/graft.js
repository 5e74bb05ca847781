#!/usr/bin/env node
// The graft command. Which program it runs:
// - dist/cli/main.js, the build (`npm run build`; `prepare` runs it, so `npm ci` in a checkout and
//   an installed package have it): plain JavaScript, the fast start;
// - src/cli/main.ts through tsx's loader when GRAFT_SOURCE=1, or when there is no dist/ (a checkout
//   whose build has not run). The tests set GRAFT_SOURCE=1 (test/helpers.ts, inherited by every
//   process they spawn), so they always run the source as it is now, never a stale dist/;
//   a developer trying an edit without rebuilding does the same: `GRAFT_SOURCE=1 graft …`.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
// An installed package has no src/: it always runs dist/.
const fromSource = existsSync(source) && (process.env.GRAFT_SOURCE === '1' || !existsSync(dist));
// A reader that stops early (`graft … | head`) closes the pipe: the rest of the output has nowhere
// to go, which is not a failure of graft's.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
let main;
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(dist.href));
}
process.exitCode = await main(process.argv.slice(2));

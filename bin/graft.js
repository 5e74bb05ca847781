#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader: no build step, so the source is the program.
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`graft … | head`) closes the pipe: the rest of the output has nowhere
// to go, which is not a failure of graft's.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

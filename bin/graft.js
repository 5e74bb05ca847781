#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader: no build step, so the source is the program.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

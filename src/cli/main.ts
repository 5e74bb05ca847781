// The graft command line: a thin layer over the library. Every failure becomes one line on stderr
// starting with "error:" (exit 2 for usage, 1 for failures), with the stack only under --verbose.
import { Command, CommanderError } from 'commander';
import { GraftError } from '../core/errors.js';
import { GRAFT_VERSION } from '../core/version.js';
import { adaptCommand } from './commands/adapt/index.js';
import { cacheCommand } from './commands/cache.js';
import { evalCommand } from './commands/eval.js';
import { experimentCommand } from './commands/experiment.js';
import { exportCommand } from './commands/export.js';
import { inspectCommand } from './commands/inspect.js';
import { predictCommand } from './commands/predict.js';
import { pretrainCommand } from './commands/pretrain.js';
import { rankCommand } from './commands/rank.js';
import { serveCommand } from './commands/serve.js';
import { studioCommand } from './commands/studio.js';
import { trainCommand } from './commands/train/index.js';
import { expandConfig } from './config.js';
import { withCommon } from './shared.js';

const COMMANDS = [
  trainCommand,
  evalCommand,
  predictCommand,
  inspectCommand,
  rankCommand,
  adaptCommand,
  experimentCommand,
  pretrainCommand,
  exportCommand,
  cacheCommand,
  studioCommand,
  serveCommand,
];

function program(): Command {
  const p = new Command('graft')
    .description('Transfer learning for TypeScript: a pre-trained base, a new head, fine-tuned on your data.')
    .version(GRAFT_VERSION)
    .exitOverride()
    // Suggestions ("Did you mean …?") would be a second line; errors are one line.
    .showSuggestionAfterError(false);
  for (const make of COMMANDS) p.addCommand(withCommon(make()).exitOverride().showSuggestionAfterError(false));
  return p;
}

export async function main(argv: string[]): Promise<number> {
  let verbose = argv.includes('--verbose');
  try {
    const p = program();
    const expanded = await expandConfig(argv, p);
    verbose = expanded.includes('--verbose');
    await p.parseAsync(expanded, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its "error: …" line; help and version exit 0.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    const err = e as Error;
    const code = e instanceof GraftError ? e.exitCode : 1;
    process.stderr.write(`error: ${firstLine(err.message)}\n`);
    if (verbose && err.stack) process.stderr.write(err.stack + '\n');
    return code;
  }
}

const firstLine = (s: string) => s.split('\n')[0].trim() || 'unknown failure';

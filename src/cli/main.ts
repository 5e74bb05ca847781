// The graft command line: a thin layer over the library. Every failure becomes one line on stderr
// starting with "error:" (exit 2 for usage, 1 for failures), with the stack only under --verbose.
//
// A fast start: a command's module (and the libraries it pulls in: TF.js, ONNX Runtime, sharp…)
// is imported only when that command runs. Every other command is registered from the table
// below by its name, arguments and description alone, which is all `graft --help` shows;
// `graft CMD --help` and `graft help CMD` load CMD itself, so its help is complete.
// test/cli.test.ts checks that the table says what each command's own module says.
import { Command, CommanderError } from 'commander';
import { GraftError } from '../core/errors.js';
import { GRAFT_VERSION } from '../core/version.js';
import { expandConfig } from './config.js';

export interface CommandEntry {
  name: string;
  /** Its arguments as `graft --help` lists them after "[options]". */
  args: string;
  description: string;
  load: () => Promise<() => Command>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: 'train',
    args: '',
    description: 'graft a new head on a base and fine-tune it on your data',
    load: async () => (await import('./commands/train/index.js')).trainCommand,
  },
  {
    name: 'eval',
    args: '',
    description: "evaluate a trained model on a data set (by default its test split, the same as train's with the same --seed)",
    load: async () => (await import('./commands/eval.js')).evalCommand,
  },
  {
    name: 'predict',
    args: '<inputs...>',
    description: 'classify image files (or, with a text model, texts), or find objects in them, with a trained model',
    load: async () => (await import('./commands/predict.js')).predictCommand,
  },
  {
    name: 'inspect',
    args: '<base>',
    description: 'show a base layer by layer (shapes, parameters, blocks, where it can be cut), or what a trained model directory holds',
    load: async () => (await import('./commands/inspect.js')).inspectCommand,
  },
  {
    name: 'rank',
    args: '',
    description: 'score every candidate cut of one or more bases on your data (LogME, H-score, LEEP, linear probe), before any fine-tuning',
    load: async () => (await import('./commands/rank.js')).rankCommand,
  },
  {
    name: 'adapt',
    args: '',
    description: 'domain adaptation: train on a labelled source domain so the model works on a target domain with few or no labels',
    load: async () => (await import('./commands/adapt/index.js')).adaptCommand,
  },
  {
    name: 'experiment',
    args: '<name>',
    description:
      'reproduce a reference table offline (digits-transfer, transfer-layers, mnist-mnistm, spam-curve, spam-shift, digits-in-scenes, pennfudan, fsdd-transfer, fsdd-accents, espeak-accents)',
    load: async () => (await import('./commands/experiment.js')).experimentCommand,
  },
  {
    name: 'sweep',
    args: '[spec]',
    description:
      'run a grid of trials of a graft command (axes: lr, cut, seed, per-class, base…), locally or on a BullMQ queue; the table of trials, the best model kept',
    load: async () => (await import('./commands/sweep.js')).sweepCommand,
  },
  {
    name: 'extract',
    args: '',
    description:
      "compute a base's frozen features for a data set into the feature cache, in shards run by local worker processes or a BullMQ queue",
    load: async () => (await import('./commands/extract.js')).extractCommand,
  },
  {
    name: 'worker',
    args: '',
    description: "take sweeps' trials from a BullMQ queue on Redis and run them (each trial its own process), until SIGTERM",
    load: async () => (await import('./commands/worker.js')).workerCommand,
  },
  {
    name: 'pretrain',
    args: '<name>',
    description:
      'reproduce an embedded base: "digits" trains digits-cnn (Keras mnist_transfer_cnn) trained on MNIST digits 0-4; "speech" trains speech-cnn (a keyword-spotting CNN) trained on 35 English words, not digits, spoken by eSpeak NG in American voices',
    load: async () => (await import('./commands/pretrain.js')).pretrainCommand,
  },
  {
    name: 'export',
    args: '',
    description: 'export a trained model to another format (ONNX: one file any ONNX runtime loads, plus FILE.json)',
    load: async () => (await import('./commands/export.js')).exportCommand,
  },
  {
    name: 'cache',
    args: '',
    description: 'the on-disk cache of frozen-trunk features that makes repeated training on the same data fast',
    load: async () => (await import('./commands/cache.js')).cacheCommand,
  },
  {
    name: 'studio',
    args: '',
    description: 'transfer learning in the browser: projects, samples, training, the model report, trying it and export',
    load: async () => (await import('./commands/studio.js')).studioCommand,
  },
  {
    name: 'serve',
    args: '',
    description: "serve trained models over HTTP (TF Serving's REST API: POST /v1/models/NAME:predict), with dynamic batching",
    load: async () => (await import('./commands/serve.js')).serveCommand,
  },
];

/** The command `argv` runs (`graft CMD …`, `graft help CMD`), if any. */
function named(argv: string[]): CommandEntry | undefined {
  // `--config FILE` may come before the command (config.ts moves it after).
  const at = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  const rest = at < 0 ? argv : [...argv.slice(0, at), ...argv.slice(at + (argv[at].includes('=') ? 1 : 2))];
  const name = rest[0] === 'help' ? rest[1] : rest[0];
  return COMMANDS.find((c) => c.name === name);
}

/** A command as `graft --help` lists it, without loading it (every command has options, --verbose among them). */
function stub(c: CommandEntry): Command {
  const cmd = new Command(c.name).description(c.description).option('--verbose', 'show stack traces on errors', false);
  return c.args ? cmd.arguments(c.args) : cmd;
}

async function program(argv: string[]): Promise<Command> {
  const p = new Command('graft')
    .description('Transfer learning for TypeScript: a pre-trained base, a new head, fine-tuned on your data.')
    .version(GRAFT_VERSION)
    .exitOverride()
    // Suggestions ("Did you mean …?") would be a second line; errors are one line.
    .showSuggestionAfterError(false);
  const run = named(argv);
  for (const c of COMMANDS) {
    const cmd = c === run ? await loadCommand(c) : stub(c);
    p.addCommand(cmd.exitOverride().showSuggestionAfterError(false));
  }
  return p;
}

/** A command in full: its module's own definition, with the options every command shares. */
export async function loadCommand(c: CommandEntry): Promise<Command> {
  const [make, { withCommon }] = await Promise.all([c.load(), import('./shared.js')]);
  return withCommon(make());
}

export async function main(argv: string[]): Promise<number> {
  let verbose = argv.includes('--verbose');
  try {
    const p = await program(argv);
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

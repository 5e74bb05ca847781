import { Command } from 'commander';
import { usageError } from '../../core/errors.js';
import { FeatureCache, formatBytes } from '../../engine/feature-cache.js';
import { log, printJson, type GlobalOptions } from '../shared.js';

type Flags = GlobalOptions & { cacheDir?: string };

// The common options (--json, --verbose…) belong to `cache`, the parent: optsWithGlobals sees them
// wherever they are written. Subcommands need their own exitOverride to keep errors at one line.
function sub(name: string, description: string, run: (cache: FeatureCache, flags: Flags) => Promise<void>): Command {
  return new Command(name)
    .description(description)
    .option(
      '--cache-dir <dir>',
      'cache directory (default: GRAFT_CACHE_DIR, else XDG_CACHE_HOME/graft/features, else ~/.cache/graft/features)',
    )
    .exitOverride()
    .showSuggestionAfterError(false)
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<Flags>();
      await run(new FeatureCache({ dir: flags.cacheDir }), flags);
    });
}

export function cacheCommand(): Command {
  return (
    new Command('cache')
      .description('the on-disk cache of frozen-trunk features that makes repeated training on the same data fast')
      // Without a known subcommand this runs: a one-line usage error instead of commander's help.
      .allowExcessArguments()
      .action((_opts: unknown, cmd: Command) => {
        const name = cmd.args[0];
        throw usageError(name ? `unknown cache command '${name}' (info or clear)` : 'missing cache command (info or clear)');
      })
      .addCommand(
        sub('info', 'show where the cache is, its entries, size and size limit', async (cache, flags) => {
          const i = await cache.info();
          log(`${i.dir}: ${i.entries.toLocaleString('en')} entries, ${formatBytes(i.bytes)} (limit ${formatBytes(i.maxBytes)})`);
          if (flags.json) printJson(i);
        }),
      )
      .addCommand(
        sub('clear', 'remove every cached feature', async (cache, flags) => {
          const r = await cache.clear();
          log(`${cache.dir}: removed ${r.entries.toLocaleString('en')} entries, ${formatBytes(r.bytes)}`);
          if (flags.json) printJson({ dir: cache.dir, ...r });
        }),
      )
  );
}

// Models from the Hugging Face Hub, in the ONNX layout transformers.js uses, fetched into the Hub's
// own cache (@huggingface/hub: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub; files
// land as .incomplete and are renamed, so an interrupted download starts over cleanly). The library
// checks nothing it downloads, so graft compares each file's size with what the Hub says. Offline
// (`offline`, or HF_HUB_OFFLINE=1) reads the cache only. Nothing is fetched unless a user names an
// `hf:` base.
import { existsSync } from 'node:fs';
import { readFile, realpath, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadFileToCacheDir, fileDownloadInfo, getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { GraftError, usageError } from '../../core/errors.js';
import { writeFileAtomically } from '../../io/atomic.js';

export interface HubOptions {
  /** Read the cache only (default: HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** The Hub's address (default: HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** The cache folder (default: the Hub's usual one). */
  cacheDir?: string;
}

export interface HfSpec {
  repo: string;
  revision: string;
}

/** `hf:ORG/NAME[@REVISION]`. */
export function parseHfSpec(spec: string): HfSpec {
  const m = /^hf:([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(spec);
  if (!m) throw usageError(`${spec}: a Hub base is hf:ORG/NAME or hf:ORG/NAME@REVISION`);
  return { repo: m[1], revision: m[2] ?? 'main' };
}

const offlineByDefault = () => ['1', 'true', 'yes'].includes((process.env.HF_HUB_OFFLINE ?? '').toLowerCase());

/** Where the Hub's cache keeps this repository's files at `revision` (a branch through refs/, or a commit). */
async function cachedSnapshot(cacheDir: string, s: HfSpec): Promise<string | undefined> {
  const repoDir = join(cacheDir, getRepoFolderName({ type: 'model', name: s.repo }));
  const ref = join(repoDir, 'refs', s.revision);
  const commit = /^[0-9a-f]{40}$/.test(s.revision) ? s.revision : existsSync(ref) ? (await readFile(ref, 'utf8')).trim() : undefined;
  return commit && join(repoDir, 'snapshots', commit);
}

/**
 * The local paths of `files` (paths in the repository) of a Hub model, downloading what the cache
 * lacks. `alternatives`: for a file that may have several names (onnx/model.onnx or a quantised
 * variant), the first one the repository has. With `optional`, a file the repository (or offline,
 * the cache) lacks is left out instead of failing.
 */
export async function hubFiles(
  spec: HfSpec,
  files: readonly (string | readonly string[])[],
  o: HubOptions & { optional?: boolean } = {},
): Promise<Record<string, string>> {
  const cacheDir = o.cacheDir ?? process.env.HF_HUB_CACHE ?? getHFHubCachePath();
  const hubUrl = o.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co';
  const offline = o.offline ?? offlineByDefault();
  const out: Record<string, string> = {};
  for (const wanted of files) {
    const names = typeof wanted === 'string' ? [wanted] : wanted;
    if (offline) {
      const snapshot = await cachedSnapshot(cacheDir, spec);
      const found = names.find((n) => snapshot && existsSync(join(snapshot, n)));
      if (!found && o.optional) continue;
      if (!found)
        throw new GraftError(
          `offline: ${names.join(' or ')} of ${spec.repo}@${spec.revision} is not in the cache (${cacheDir}); run once online to download it`,
        );
      out[names[0]] = join(snapshot!, found);
      continue;
    }
    let got: string | undefined;
    const errors: string[] = [];
    for (const name of names) {
      const repo = { type: 'model' as const, name: spec.repo };
      let info;
      try {
        info = await fileDownloadInfo({ repo, path: name, revision: spec.revision, hubUrl });
      } catch (e) {
        errors.push(`${name}: ${(e as Error).message.split('\n')[0]}`);
        continue;
      }
      if (!info) {
        errors.push(`${name}: not in the repository`);
        continue;
      }
      let path: string;
      try {
        path = await downloadFileToCacheDir({ repo, path: name, revision: spec.revision, hubUrl, cacheDir });
      } catch (e) {
        // The part fetched stays a .incomplete file, which the next download replaces.
        throw new GraftError(`${spec.repo}/${name}: download failed (${(e as Error).message.split('\n')[0]}); run again to start it over`);
      }
      const size = (await stat(path)).size;
      if (size !== info.size) {
        // A truncated blob would be found again next time: it goes, with the link to it.
        await rm(await realpath(path), { force: true });
        await rm(path, { force: true });
        throw new GraftError(
          `${spec.repo}/${name}: downloaded ${size} bytes, the Hub says ${info.size}; removed it, run again to fetch it whole`,
        );
      }
      // The library does not record which commit a branch pointed at; Python's huggingface_hub
      // does (refs/BRANCH), and offline use needs it, so graft writes it the same way.
      const commit = /snapshots[/\\]([0-9a-f]{40})[/\\]/.exec(path)?.[1];
      if (commit && commit !== spec.revision)
        await writeFileAtomically(join(cacheDir, getRepoFolderName(repo), 'refs', spec.revision), commit);
      got = path;
      break;
    }
    if (!got && o.optional) continue;
    if (!got) throw new GraftError(`${spec.repo}@${spec.revision} (${hubUrl}): ${errors.join('; ')}`);
    out[names[0]] = got;
  }
  return out;
}

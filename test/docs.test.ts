// Links between README.md, DESIGN.md and the guides in docs/: every relative Markdown link and image points to a file that
// exists, and every #anchor to a heading of its target (GitHub's slugs). Cheap: reads a dozen files, no network.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { root } from './helpers.js';

const documents = [
  'README.md',
  'DESIGN.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** Markdown without its fenced code blocks and inline code spans, where `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, … */
function slugs(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link and image target in a document, as written. */
function targets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

describe('docs links', () => {
  it('computes GitHub heading anchors', () => {
    const s = slugs(
      "# Texts: `use-lite`, and TF-IDF\n## The demo: Keras's mnist_transfer_cnn, measured\n## MNIST → MNIST-M\n## Data\n## Data\n",
    );
    assert.deepEqual(
      [...s],
      ['texts-use-lite-and-tf-idf', 'the-demo-kerass-mnist_transfer_cnn-measured', 'mnist--mnist-m', 'data', 'data-1'],
    );
  });

  it('every relative link and image in README.md, DESIGN.md and docs/*.md resolves, #anchors included', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const doc of documents) {
      const text = readFileSync(join(root, doc), 'utf8');
      for (const target of targets(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
        checked++;
        const [path, anchor] = target.split('#', 2);
        const file = path === '' ? join(root, doc) : normalize(join(root, dirname(doc), decodeURIComponent(path)));
        if (!file.startsWith(root) || !existsSync(file)) {
          problems.push(`${doc}: ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && file.endsWith('.md') && statSync(file).isFile()) {
          if (!slugs(readFileSync(file, 'utf8')).has(decodeURIComponent(anchor))) problems.push(`${doc}: ${target}: no such heading`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked >= 30, `checked ${checked} links`);
  });
});

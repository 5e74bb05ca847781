// The TypeScript examples of README.md and the guides in docs/, type-checked against the library as it is: a renamed
// or removed function, or an option that no longer exists, fails here instead of in a user's editor.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { root } from './helpers.js';

const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

describe('README and docs/', () => {
  it('every ```ts example type-checks against src/index.ts', () => {
    const examples = documents.flatMap((doc) =>
      [...readFileSync(join(root, doc), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m, i) => ({ doc, i, code: m[1] })),
    );
    assert.ok(examples.filter((e) => e.doc === 'README.md').length >= 1, 'README.md has a ts example');
    assert.ok(examples.length >= 4, `found ${examples.length} examples`);
    const dir = mkdtempSync(join(tmpdir(), 'graft-readme-'));
    const files = examples.map(({ doc, i, code }) => {
      const file = join(dir, `${doc.replace(/[/.]/g, '-')}-example-${i + 1}.mts`);
      // `export {}` makes each example a module (top-level await), as a user's file would be.
      writeFileSync(file, code.replaceAll("from 'graft'", `from '${join(root, 'src/index.ts')}'`) + '\nexport {};\n');
      return file;
    });
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      typeRoots: [join(root, 'node_modules/@types')],
      types: ['node'],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.includes(d.file.fileName))
      .map((d) => `${d.file!.fileName.split('/').pop()}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    assert.deepEqual(problems, []);
  });
});

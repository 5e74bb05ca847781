// The README's TypeScript examples, type-checked against the library as it is: a renamed or
// removed function, or an option that no longer exists, fails here instead of in a user's editor.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { root } from './helpers.js';

describe('README', () => {
  it('every ```ts example type-checks against src/index.ts', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(examples.length >= 3, `found ${examples.length} examples`);
    const dir = mkdtempSync(join(tmpdir(), 'graft-readme-'));
    const files = examples.map((code, i) => {
      const file = join(dir, `example-${i + 1}.mts`);
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

// Target-domain images for adaptation: unlabelled folders and manifests, or labelled data whose
// classes line up with the source's.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GraftError } from '../src/core/errors.js';
import { loadTarget, UNLABELLED } from '../src/data/target.js';
import { makeImageFolder } from './fixtures.js';
import { tempDir } from './helpers.js';

const size = { height: 8, width: 8, channels: 3 as const };

describe('loadTarget', () => {
  it('reads a folder of images without class folders, and a manifest without labels, as unlabelled', async () => {
    const dir = tempDir();
    const labelled = await makeImageFolder(join(dir, 'labelled'), { classes: ['blue', 'red'], perClass: 3, size: 12 });
    const flat = join(dir, 'flat');
    mkdirSync(flat);
    const files = Object.values(labelled.files).flat();
    files.forEach((f, i) => copyFileSync(f, join(flat, `${i}.png`)));
    writeFileSync(join(flat, 'notes.txt'), 'not an image');
    const a = await loadTarget(flat, { size });
    assert.equal(a.labelled, false);
    assert.equal(a.set.labels.length, 6);
    assert.ok(a.set.labels.every((y) => y === UNLABELLED));
    const manifest = join(dir, 'target.csv');
    writeFileSync(manifest, ['path', ...files].join('\n'));
    const b = await loadTarget(manifest, { size });
    assert.equal(b.labelled, false);
    assert.equal(b.set.labels.length, 6);
  });

  it("reads labelled data with the source's class order", async () => {
    const dir = tempDir();
    const labelled = await makeImageFolder(join(dir, 'labelled'), { classes: ['blue', 'red'], perClass: 2, size: 12 });
    const t = await loadTarget(labelled.root, { size, classes: ['red', 'blue'] });
    assert.equal(t.labelled, true);
    assert.deepEqual(t.set.classes, ['red', 'blue']);
    // Each image labelled by its folder, in the source's order.
    t.set.ids.forEach((id, i) => assert.equal(t.set.classes[t.set.labels[i]], id.includes('/red/') ? 'red' : 'blue', id));
    await assert.rejects(
      loadTarget(join(dir, 'nope'), { size }),
      (e: unknown) => e instanceof GraftError && e.exitCode === 2 && /not found/.test(e.message),
    );
  });
});

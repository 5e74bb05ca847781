// The accent experiments' table: per-domain accuracy, the mean, and the share of the source-only →
// oracle gap each method closed; and the experiment command's check of a variant's name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gapClosed, gridJson, gridTable, type GridRow } from '../src/experiments/adaptation-grid.js';
import { graft } from './helpers.js';

const row = (method: GridRow['method'], a: number, b: number): GridRow => ({ method, perDomain: { a, b }, mean: (a + b) / 2 });
const rows = [row('none', 0.4, 0.6), row('adabn', 0.6, 0.8), row('dann', 0.3, 0.5), row('target-oracle', 0.8, 1)];

describe('adaptation grid', () => {
  it('measures the gap closed on the mean: (method − none) / (oracle − none)', () => {
    const closed = gapClosed(rows);
    assert.ok(Math.abs(closed(0.65) - 0.375) < 1e-12);
    assert.ok(Math.abs(closed(0.4) - -0.25) < 1e-12, 'a method below source-only closes a negative share');
    assert.ok(Number.isNaN(gapClosed([row('none', 0.5, 0.5), row('target-oracle', 0.5, 0.5)])(0.6)), 'no gap, no share');
    const json = gridJson(rows);
    assert.ok(Math.abs(json.gapClosed.adabn - 0.5) < 1e-12);
    assert.equal(json.rows[3].target.accuracy, 0.9);
  });

  it('tabulates each domain, the mean and the share, blank for the two reference rows', () => {
    const lines = gridTable(rows, ['a', 'b']).split('\n');
    assert.match(lines[0], /\| method +\| a +\| b +\| mean +\| gap closed \|/);
    assert.match(
      lines.find((l) => l.startsWith('| adabn'))!,
      /60\.0% +\| 80\.0% +\| 70\.0% +\| 50% +\|/,
    );
    assert.match(
      lines.find((l) => l.startsWith('| none'))!,
      /\| 50\.0% +\| +\|$/,
    );
  });

  it('graft experiment names the variants an experiment has', () => {
    const r = graft('experiment', 'fsdd-accents', '--variant', 'thawed');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: fsdd-accents has variants frozen, trainable; got thawed$/m);
  });
});

// studio-load: what the studio's page costs a browser on loopback: the bytes it loads (its own
// script and style, TF.js and uPlot from the package, no build step) and the time from
// navigation to the load event in Debian's Chromium, a fresh browser context each run (nothing
// cached), median over runs. Needs /usr/bin/chromium; skipped with a message when it is absent.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startStudio } from '../../src/studio/server.js';
import { tempDir } from '../../test/helpers.js';
import { type BenchOptions, median, round, type Workload, type WorkloadResult } from '../lib.js';

const CHROMIUM = '/usr/bin/chromium';

export const studioLoad: Workload = {
  name: 'studio-load',
  metric: 'seconds',
  describe: "graft studio's page on loopback: bytes loaded (own files, TF.js, uPlot) and seconds to the load event in Chromium, no cache",
  async run({ quick, log }: BenchOptions): Promise<WorkloadResult> {
    if (!existsSync(CHROMIUM)) {
      const why = `skipped: no ${CHROMIUM}`;
      log(`studio-load: ${why}`);
      return { name: 'studio-load', metric: 'seconds', graft: {}, cpu: null, pytorch: null, ratio: {}, notes: [why] };
    }
    const studio = await startStudio({ dir: tempDir('graft-bench-studio-'), port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const runs: number[] = [];
    let bytes: Record<string, number> = {};
    try {
      for (let r = 0; r < (quick ? 3 : 7); r++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        const sizes: Record<string, number> = {};
        page.on('response', async (res) => {
          const body = await res.body().catch(() => undefined);
          if (body) sizes[new URL(res.url()).pathname] = body.length;
        });
        await page.goto(studio.openUrl, { waitUntil: 'load' });
        // The start page's project list is drawn once the page has asked the API.
        await page.waitForSelector('#new-name');
        const seconds = await page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
          return nav.loadEventEnd / 1000;
        });
        runs.push(seconds);
        bytes = sizes;
        log(`  run ${r + 1}: ${round(seconds)} s to the load event`);
        await context.close();
      }
    } finally {
      await browser.close();
      await studio.close();
    }
    const total = Object.values(bytes).reduce((a, b) => a + b, 0);
    const own = Object.entries(bytes)
      .filter(([p]) => p === '/' || p.startsWith('/app/'))
      .reduce((a, [, b]) => a + b, 0);
    return {
      name: 'studio-load',
      metric: 'seconds',
      graft: { seconds: round(median(runs)), runs: runs.map((v) => round(v)), bytes: total, ownBytes: own, files: bytes },
      cpu: null,
      pytorch: null,
      ratio: {},
      notes: [
        `${Object.keys(bytes).length} files, ${round(total / 1e6)} MB in all, ${round(own / 1e3)} kB of them the studio's own (page, script, style); served uncompressed`,
      ],
    };
  },
};

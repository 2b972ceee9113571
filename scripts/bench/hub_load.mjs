// Time from navigation to the Hub's dashboard showing live data (components listed and the
// change feed connected), in Debian's Chromium; prints one JSON line of milliseconds per run.
//   node scripts/bench/hub_load.mjs URL RUNS [CHROMIUM]
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(fileURLToPath(new URL('../../tests/browser/package.json', import.meta.url)));
const { chromium } = require('playwright-core');
const [url, runs = '10', executablePath = '/usr/bin/chromium'] = process.argv.slice(2);

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const times = [];
try {
  for (let run = 0; run < Number(runs); run++) {
    // A fresh context each run: nothing cached, as on a first visit.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(
      () => document.querySelector('#components tbody tr') && document.querySelector('#feed[data-state="live"]'),
      null,
      { timeout: 20_000, polling: 'raf' },
    );
    times.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(times));

// `meshbook report` opened in a real headless browser (Debian's chromium; .ci/run installs it,
// and this file fails, not skips, without it): every request but the report's own file is
// blocked and none may be attempted, and the HTML references nothing to load (no http(s) src
// or href). The DOM has a matrix cell per step x host and a verifier chart with one bar per
// bucket; a failed cell opens its commands and output in one click. Sizes and render times at
// 30 hosts (a run through the runner, and a synthetic ledger with canary steps) and at 200.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CANARY, ledgerRun } from './helpers/ledger-run.ts';
import { syntheticLedger, CANARY_STEPS } from './helpers/synthetic-ledger.ts';
import { writeReport } from '../scripts/commands/report.ts';
import { registerSecret } from '../scripts/engine/redact.ts';

const CHROMIUM = '/usr/bin/chromium';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-report-'));
const SYNTH_SECRET = `canary-${Math.random().toString(36).slice(2, 10)}-synthetic`;
let browser: Browser;

test.before(async () => {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it); the report is checked in it`,
    );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
});
test.after.always(async () => {
  await browser?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Open a report with every other request blocked; the requests attempted and the time to load. */
async function open(file: string): Promise<{ page: Page; attempted: string[]; ms: number }> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
  const attempted: string[] = [];
  const own = `file://${file}`;
  await page.route('**/*', (r) => {
    if (r.request().url() === own) return r.continue();
    attempted.push(r.request().url());
    return r.abort();
  });
  const t0 = performance.now();
  await page.goto(own, { waitUntil: 'load' });
  await page.evaluate(() => new Promise((res) => requestAnimationFrame(() => res(null))));
  return { page, attempted, ms: Math.round(performance.now() - t0) };
}

/** Nothing to load from the network: no http(s) in a src, href, url() or @import. */
const externalRefs = (html: string) =>
  html.match(/(?:\b(?:src|href|action|poster)\s*=\s*["']?\s*|url\(\s*["']?|@import\s+["']?)(?:https?:)?\/\//gi) ?? [];

test.serial('a run through the runner: the report in chromium, no request leaves, no secret', async (t) => {
  const dir = path.join(tmp, 'real');
  const { ledger } = await ledgerRun(dir);
  const out = await writeReport(ledger.id, { runsDir: path.dirname(ledger.file) });
  t.is(fs.statSync(out).mode & 0o777, 0o600);
  const html = fs.readFileSync(out, 'utf8');
  t.false(html.includes(CANARY), 'the canary secret is not in the report');
  t.deepEqual(externalRefs(html), []);
  const { page, attempted } = await open(out);
  t.deepEqual(attempted, [], 'the page asked for nothing');
  t.is(await page.locator('table.matrix td.cell[data-host]').count(), 3 * 1, 'a cell per step x host');
  t.is(await page.locator('#panel.on').count(), 0);
  await page.locator('td.s-failed[data-host="cluster"]').click();
  const panel = await page.locator('#panel.on').innerText();
  t.regex(panel, /check · exit 3/);
  t.regex(panel, /stderr says \*\*\*/);
  t.false(panel.includes(CANARY));
  const png = path.join(tmp, 'real.png');
  await page.screenshot({ path: png, fullPage: true });
  t.true(fs.statSync(png).size > 10_000);
  t.deepEqual(attempted, []);
  await page.close();
});

test.serial('30 hosts with a verifier result and canary steps: charts, grid, size, render time', async (t) => {
  registerSecret(SYNTH_SECRET);
  const file = syntheticLedger(path.join(tmp, 's30'), {
    hosts: 30,
    steps: 14,
    failEvery: 7,
    canary: true,
    secret: SYNTH_SECRET,
  });
  t.false(fs.readFileSync(file, 'utf8').includes(SYNTH_SECRET), 'masked on the way into the ledger');
  const out = await writeReport(file, {});
  const html = fs.readFileSync(out, 'utf8');
  t.false(html.includes(SYNTH_SECRET));
  t.deepEqual(externalRefs(html), []);
  const { page, attempted, ms } = await open(out);
  t.deepEqual(attempted, []);
  t.is(await page.locator('table.matrix td.cell[data-host]').count(), 14 * 30);
  t.is(await page.locator('figure.verifier svg .observed_marks path').count(), 3, 'one bar per bucket');
  t.is(await page.locator('figure.verifier svg .expected_marks path').count(), 3);
  t.is(await page.locator('figure.latency svg').count(), 1);
  const weights = CANARY_STEPS.flatMap((c) => Object.values(c.weights).filter((w) => w > 0)).length;
  t.is(await page.locator('figure.canary svg .weights_marks path').count(), weights);
  t.deepEqual(
    await page.locator('figure.canary svg .verdicts_marks text').allTextContents(),
    CANARY_STEPS.map((c) => c.verdict),
  );
  // the 25 hosts that went the same way are one folded group; the failed ones are open
  t.true(await page.locator('tbody.grp[data-open="0"] tr.host').first().isHidden());
  t.true(await page.locator('td.s-failed[data-host]').first().isVisible());
  await page.screenshot({ path: path.join(tmp, 's30.png'), fullPage: true });
  t.log(`30 hosts x 14 steps: ${Math.round(fs.statSync(out).size / 1024)} KB, loaded and painted in ${ms} ms`);
  t.true(fs.statSync(out).size < 2 * 1024 * 1024);
  t.true(ms < 2000, `render ${ms} ms`);
  await page.close();
});

test.serial('200 hosts: under 2 MB, renders under 2 s, a cell per step x host', async (t) => {
  const file = syntheticLedger(path.join(tmp, 's200'), { hosts: 200, steps: 14, failEvery: 9 });
  const t0 = performance.now();
  const out = await writeReport(file, {});
  const gen = Math.round(performance.now() - t0);
  const size = fs.statSync(out).size;
  const { page, attempted, ms } = await open(out);
  t.deepEqual(attempted, []);
  t.is(await page.locator('table.matrix td.cell[data-host]').count(), 14 * 200);
  t.log(
    `200 hosts x 14 steps: ${Math.round(size / 1024)} KB (ledger ${Math.round(fs.statSync(file).size / 1024)} KB), written in ${gen} ms, loaded and painted in ${ms} ms`,
  );
  t.true(size < 2 * 1024 * 1024, `${size} bytes`);
  t.true(ms < 2000, `render ${ms} ms`);
  await page.close();
});

test.serial('--last 2: both runs in one page, an index linking each', async (t) => {
  const dir = path.join(tmp, 'last');
  syntheticLedger(dir, { hosts: 3, steps: 6 });
  syntheticLedger(dir, { hosts: 5, steps: 6, failEvery: 2 }); // fails at step 5
  const out = await writeReport(undefined, { last: 2, runsDir: dir });
  const { page, attempted } = await open(out);
  t.deepEqual(attempted, []);
  t.is(await page.locator('section.run').count(), 2);
  t.is(await page.locator('a[href="#run0"], a[href="#run1"]').count(), 2);
  t.is(await page.locator('table.matrix td.cell[data-host]').count(), 6 * 3 + 6 * 5);
  await page.locator('table.matrix[data-run="1"] td.s-failed[data-host]').first().click();
  t.regex(await page.locator('#panel.on').innerText(), /check · exit 3/);
  await page.close();
});

// The run ledger on a whole lab, through the CLI (3 VMs and the cluster, no Docker daemons):
// a cold rebuild (--json) and a warm one (text) leave ledgers whose events parse and say what
// the terminal said, step x host, with step 14's verifier result in full; `verify traffic`
// leaves its own ledger with the result it printed; a rebuild killed with -9 leaves every
// event readable and the next run marks it ended abnormally; the report of the rebuild is
// measured (size, and load time in headless chromium). MLG_VMS=30 builds 30 VMs instead.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { $ } from 'zx';
import { chromium } from 'playwright-core';
import { readEvents, type LedgerEvent } from '../scripts/ledger/read.ts';

const VMS = Number(process.env.MLG_VMS || 3);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ledger-lab-'));
const prefix = `mlg${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const runsDir = path.join(tmp, 'runs');
const labArgs = ['--prefix', prefix, '--dir', dir, '--lab-env', envFile, '--inventory', path.join(tmp, 'inv.yaml')];
const ENV = {
  ...process.env,
  MESHBOOK_STATE_DIR: path.join(tmp, 'state'),
  MESHBOOK_RUNS_DIR: runsDir,
  FORCE_COLOR: '0',
  NO_COLOR: '1',
};
const meshbook = (...args: string[]) => $({ nothrow: true, quiet: true, env: ENV })`node bin/meshbook.js ${args}`;
const ledgers = () =>
  fs
    .readdirSync(runsDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
const newest = () => path.join(runsDir, ledgers().at(-1)!);
const ends = (events: LedgerEvent[]) =>
  Object.fromEntries(events.filter((e) => e.type === 'step-end').map((e) => [`${e.step} ${e.host}`, e.status]));

test.before(async () => {
  const up = await meshbook('lab', 'up', '--vms', String(VMS), '--docker-vms', '0', ...labArgs);
  if (up.exitCode !== 0) throw new Error(`lab up failed: ${up.stderr}`);
});
test.after.always(async () => {
  await meshbook('lab', 'down', ...labArgs);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('cold rebuild (--json) and warm rebuild (text): the ledgers say what was printed', async (t) => {
  t.timeout(600_000);
  const t0 = performance.now();
  const cold = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes', '--json');
  t.log(`cold rebuild of ${VMS} VMs: ${Math.round(performance.now() - t0)} ms`);
  t.is(cold.exitCode, 0, cold.stderr);
  const rep = JSON.parse(cold.stdout) as { steps: { id: string; hosts: Record<string, { status: string }> }[] };
  const { events, bad } = readEvents(newest());
  t.is(bad, 0);
  t.like(events[0], { type: 'run-start', command: 'rebuild' });
  t.like(events.at(-1), { type: 'run-end', code: 0 });
  const printed = Object.fromEntries(
    rep.steps.flatMap((s) => Object.entries(s.hosts).map(([h, r]) => [`${s.id} ${h}`, r.status])),
  );
  t.deepEqual(ends(events), printed);
  const verify = events.find((e) => e.type === 'verify-result') as { result: { verdict: string } } | undefined;
  t.is(verify?.result.verdict, 'PASS', 'step 14 verifier result in full');
  t.is(ledgers().length, 1, "the verifier run by step 14 is the rebuild's, not a run of its own");
  const sent = events.filter((e) => e.type === 'step-end' && e.status === 'changed').flatMap((e) => e.sent as object[]);
  t.true(sent.length > 0 && sent.every((s) => 'cmd' in s && 'code' in s));

  const t1 = performance.now();
  const warm = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes');
  t.log(`warm rebuild: ${Math.round(performance.now() - t1)} ms`);
  t.is(warm.exitCode, 0, warm.stdout);
  const fromTerminal: Record<string, string> = {};
  let step = '';
  for (const l of warm.stdout.split('\n')) {
    const s = /^▶ (\S+):/.exec(l);
    if (s) step = s[1];
    // a host's line (`  vm1  ok`, or `[vm1] ok` for a fleet), not a fleet's counts (`  30 ok`)
    const h = /^(?: {2}|\[)(?!\d+ )(\S+?)\]?\s+(ok|changed|unchanged|skipped|not in lab|failed)\b/.exec(l);
    if (h && step) fromTerminal[`${step} ${h[1]}`] = h[2];
  }
  const warmEvents = readEvents(newest()).events;
  // every step x host the terminal printed, and nothing it did not
  t.deepEqual(ends(warmEvents), fromTerminal);
  t.true(Object.keys(fromTerminal).length >= 14);
  t.regex(warm.stderr, /run ledger: .*\.jsonl \(meshbook report /);
});

test.serial('verify traffic: its own ledger with the result it printed', async (t) => {
  const v = await meshbook('verify', 'traffic', '--env', envFile, '--json', '--no-progress');
  t.true([0, 2].includes(v.exitCode ?? -1), v.stderr);
  const events = readEvents(newest()).events;
  t.like(events[0], { type: 'run-start', command: 'verify traffic' });
  t.deepEqual(events.find((e) => e.type === 'verify-result')?.result, JSON.parse(v.stdout));
  t.like(events.at(-1), { type: 'run-end', code: v.exitCode });
});

test.serial('kill -9 mid-rebuild: every event readable; the next run marks it ended abnormally', async (t) => {
  t.timeout(300_000);
  const p = spawn('node', ['bin/meshbook.js', 'rebuild', 'traffic-shift', '--env', envFile, '--yes'], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  await new Promise<void>((res) =>
    p.stdout.on('data', (d) => (out += d) && out.includes('▶ traffic-shift/06') && res()),
  );
  const file = newest();
  p.kill('SIGKILL');
  await new Promise((res) => p.once('exit', res));
  const { events, bad } = readEvents(file);
  t.is(bad, 0);
  t.true(events.some((e) => e.type === 'step-end' && String(e.step).endsWith('05-hello2-on-vms')));
  t.falsy(events.find((e) => e.type === 'run-end'));
  const listed = JSON.parse((await meshbook('runs', '--json')).stdout) as { runs: { file: string; result: string }[] };
  t.is(listed.runs.find((r) => r.file === file)?.result, 'ended abnormally');
  const next = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes', '--only', '01');
  t.is(next.exitCode, 0, next.stderr);
  t.like(readEvents(file).events.at(-1), { type: 'run-end', abnormal: true, code: null });
});

test.serial("the cold rebuild's report: size, and load time in headless chromium", async (t) => {
  const first = path.join(runsDir, ledgers()[0]);
  const out = path.join(tmp, 'cold.html');
  const r = await meshbook('report', first, '-o', out);
  t.is(r.exitCode, 0, r.stderr);
  const size = fs.statSync(out).size;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
    const t0 = performance.now();
    await page.goto(`file://${out}`, { waitUntil: 'load' });
    const ms = Math.round(performance.now() - t0);
    t.is(await page.locator('table.matrix td.cell[data-host]').count(), 14 * (VMS + 1));
    t.is(await page.locator('figure.verifier svg .observed_marks path').count(), 3);
    if (process.env.MLG_SHOT) await page.screenshot({ path: process.env.MLG_SHOT });
    const ledgerKB = Math.round(fs.statSync(first).size / 1024);
    t.log(
      `report of the ${VMS}-VM cold rebuild: ${Math.round(size / 1024)} KB (ledger ${ledgerKB} KB), loaded in ${ms} ms`,
    );
    t.true(size < 2 * 1024 * 1024);
    t.true(ms < 2000);
  } finally {
    await browser.close();
  }
});

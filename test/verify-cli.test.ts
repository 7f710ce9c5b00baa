// `meshbook verify traffic` as a subprocess (scripts/verify/main.ts): exit codes, the text
// report, the -n 100 warning, --json, --env, --help, bad arguments and Ctrl-C. Traffic goes
// only to the loopback test server; every run is bounded by -n and --max-time.

import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSplitServer } from './fixtures/verify/split-server.ts';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'scripts', 'verify', 'main.ts');
const HELLO = 'v1=^Hello,v2=^Bonjour,v3=^Hola';
let server: Awaited<ReturnType<typeof spawnSplitServer>>;

test.before(async () => {
  server = await spawnSplitServer();
});
test.after.always(async () => {
  await server?.close();
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { onSpawn?: (kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'verify', 'traffic', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    opts.onSpawn?.((s) => child.kill(s));
  });
}

const target = (path: string) => ['--url', `${server.url}${path}`, '--max-time', '20'];
const split = ['--expect', 'v1=30,v2=60,v3=10', '--classify', HELLO];

test('PASS: exit 0, the table with bars, statistics, latency and the verdict last', async (t) => {
  const r = await cli([...target('/random/11/30-60-10'), ...split]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, ''); // no progress bar when stderr is not a terminal, no warning at auto N
  const out = r.stdout;
  for (const col of ['bucket', 'weight', 'expected', 'observed', 'observed %', '95 % interval', 'deviation']) {
    t.true(out.includes(col), col);
  }
  t.regex(out, /│ v2 +│ +60 │ +60\.0 % │ +[\d,]+ │ +\d+\.\d % │ +\d+\.\d-\d+\.\d % │ +[+-]\d+\.\d pts │ ░+ 60\.0/);
  t.regex(out, /█+[▏▎▍▌▋▊▉]? \d+\.\d/);
  t.regex(out, /chi-square +\d+\.\d{3} +df 2 +p \d\.\d{4}/);
  t.regex(out, /run +N 2,027 \(auto\) +\d+\.\d\d s +[\d,]+ req\/s +\d+ connections? used/);
  t.regex(
    out,
    /a correct 30\/60\/10 split PASSes 99\.0 %; a split off by 5 points \(worst: 35\/55\/10\) PASSes 1\.1 %/,
  );
  t.regex(out, /denominator .* 2,027 classified answers/);
  t.regex(out, /latency \(ms\)[\s\S]*p50[\s\S]*p90[\s\S]*p99/);
  t.regex(out.trimEnd().split('\n').slice(-2).join('\n'), /VERDICT PASS \(exit 0\)/);
});

test('FAIL: exit 1 for a 38/52/10 target', async (t) => {
  const r = await cli([...target('/random/12/38-52-10'), ...split]);
  t.is(r.code, 1, r.stdout + r.stderr);
  t.regex(r.stdout, /VERDICT FAIL \(exit 1\)\n {2}- chi-square rejects the split/);
});

test('-n 100 warns what it can and cannot detect, and ends INCONCLUSIVE (exit 2)', async (t) => {
  const r = await cli([...target('/random/13/30-60-10'), ...split, '-n', '100']);
  t.is(r.code, 2, r.stdout + r.stderr);
  t.regex(r.stderr, /^warning: -n 100 is below the 2,027 requests -n auto sends for 30\/60\/10 \+- 5 points\./);
  t.regex(r.stderr, /a correct split PASSes 0\.0 % of the time \(expect INCONCLUSIVE\)/);
  t.regex(r.stderr, /a split off by 5 points \(35\/55\/10\) is caught \(FAIL\) only 1\d % of the time/);
  t.regex(r.stderr, /it catches \(80 %\) shifts of about \d+(\.\d)? points or more \(v2 -> v1\)/);
  t.false(r.stdout.includes('warning'), 'warnings go to stderr');
  t.regex(r.stdout, /VERDICT INCONCLUSIVE \(exit 2\)/);
  t.regex(r.stdout, /-n auto would be 2,027/);
});

test('error: a target that never answers exits 3', async (t) => {
  const port = await closedPort();
  const r = await cli(['--url', `http://127.0.0.1:${port}/hello/eric`, ...split, '--max-time', '1']);
  t.is(r.code, 3);
  t.regex(r.stdout, /VERDICT ERROR \(exit 3\)\n {2}- target never answered: .*connection refused/);
});

test('bad arguments exit 3 with one line naming the argument', async (t) => {
  const bad = await cli([...target('/random/1/30-60-10'), '--expect', 'v1=30,v2=sixty,v3=10', '--classify', HELLO]);
  t.is(bad.code, 3);
  t.is(bad.stdout, '');
  t.is(bad.stderr.trimEnd().split('\n').length, 1);
  t.regex(bad.stderr, /^meshbook verify traffic: --expect: weight "sixty" for v2 is not a number/);
  const unknown = await cli([...target('/random/1/30-60-10'), ...split, '--frobnicate']);
  t.is(unknown.code, 3);
  t.is(unknown.stderr.trimEnd().split('\n').length, 1);
  t.regex(unknown.stderr, /unknown option '--frobnicate'/);
  const missing = await cli(['--expect', 'v1=1', '--classify', 'v1=x']);
  t.is(missing.code, 3);
  t.regex(missing.stderr, /--url: missing/);
  const json = await cli([...split, '--json', '-c', 'many', '--url', 'http://127.0.0.1:1/']);
  t.is(json.code, 3);
  const obj = JSON.parse(json.stdout);
  t.like(obj, { verdict: 'ERROR', exitCode: 3, argument: '-c' });
});

test('--json prints exactly one object with the whole result', async (t) => {
  const r = await cli([...target('/mixed/2'), ...split, '--json', '-n', '3000', '-c', '8']);
  t.is(r.code, 2); // 20 % not classified: cannot PASS
  const lines = r.stdout.trimEnd().split('\n');
  t.is(lines.length, 1);
  const j = JSON.parse(lines[0]);
  t.like(j, {
    tool: 'meshbook verify traffic',
    schemaVersion: 1,
    verdict: 'INCONCLUSIVE',
    exitCode: 2,
    error: null,
    mode: 'random',
    target: { method: 'GET', classifyBy: 'body', maxBodyBytes: 4096 },
    settings: { n: 3000, nAuto: false, connections: 8, alpha: 0.05, minEffectPts: 5, warmup: 5 },
    sizing: { autoN: 2027, warning: null, exact: true },
    totals: { counted: 3000, classified: 2400, unclassified: 300, non2xx: 300, transportErrors: 0, warmup: 6 },
  });
  t.is(j.target.url, `${server.url}/mixed/2`);
  t.true(j.sizing.passIfCorrectPct > 99.5);
  t.is(j.sizing.offByMinEffect.split, '35/55/10');
  t.deepEqual(Object.keys(j.sizing.atAutoN), ['passIfCorrectPct', 'offByMinEffect']);
  t.is(j.reasons.length > 0, true);
  t.is(j.buckets.length, 3);
  for (const b of j.buckets) {
    t.deepEqual(Object.keys(b).sort(), [
      'ci95Pct',
      'deviationPts',
      'expectedCount',
      'expectedPct',
      'latencyMs',
      'name',
      'observed',
      'observedPct',
      'ok',
      'pattern',
      'weight',
    ]);
    t.is(b.ci95Pct.length, 2);
    t.true(b.ci95Pct[0] <= b.observedPct && b.observedPct <= b.ci95Pct[1]);
    t.is(typeof b.latencyMs.p50, 'number');
    t.true(
      b.latencyMs.p50 <= b.latencyMs.p90 && b.latencyMs.p90 <= b.latencyMs.p99 && b.latencyMs.p99 <= b.latencyMs.max,
    );
  }
  t.deepEqual(
    j.buckets.map((b: { name: string }) => b.name),
    ['v1', 'v2', 'v3'],
  );
  t.is(
    j.buckets.reduce((a: number, b: { observed: number }) => a + b.observed, 0),
    2400,
  );
  t.deepEqual(
    j.other.map((o: { kind: string; label: string; count: number }) => [o.kind, o.label, o.count]),
    [
      ['unclassified', 'unclassified', 300],
      ['http-status', 'HTTP 503', 300],
    ],
  );
  t.is(j.chiSquare.df, 2);
  t.true(j.chiSquare.p >= 0 && j.chiSquare.p <= 1);
  t.true(j.run.durationS > 0 && j.run.reqPerSec > 0);
  t.true(j.run.connectionsUsed >= 1 && j.run.connectionsUsed <= 8);
  t.true(j.run.peakRssMB > 0);
  t.is(j.run.interrupted, null);
  t.false(Number.isNaN(Date.parse(j.run.startedAt)));
});

test('--env FILE needs nothing else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshbook-verify-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = join(dir, 'traffic-shift.env');
  writeFileSync(
    env,
    `WEIGHTS=v1=30,v2=60,v3=10\nINGRESS_HOST=127.0.0.1\nINGRESS_PORT=${server.port}\nVERIFY_PATH=/chain/14/30-60-10\n`,
  );
  const r = await cli(['--env', env, '--max-time', '20']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, new RegExp(`GET http://127\\.0\\.0\\.1:${server.port}/chain/14/30-60-10`));
  t.regex(r.stdout, /VERDICT PASS/);
});

test('--deterministic against a weighted round-robin target', async (t) => {
  const r = await cli([...target('/wrr/cli/3-6-1'), ...split, '--deterministic', '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const j = JSON.parse(r.stdout);
  t.is(j.mode, 'deterministic');
  t.deepEqual(
    j.buckets.map((b: { observed: number }) => b.observed),
    [60, 120, 20],
  );
  t.is(j.settings.slack, 4);
});

test('--help describes the command, the verdict rules and the exit codes', async (t) => {
  const r = await cli(['--help']);
  t.is(r.code, 0);
  for (const s of [
    '--url',
    '--env',
    '--expect',
    '--classify',
    '--header',
    '--by-header',
    '-n, --requests',
    '--connections',
    '--qps',
    '--warmup',
    '--alpha',
    '--min-effect',
    '--deterministic',
    '--new-connection-per-request',
    '--timeout',
    '--json',
    'INCONCLUSIVE',
    'Exit codes: 0 PASS, 1 FAIL, 2 INCONCLUSIVE, 3 error',
  ]) {
    t.true(r.stdout.includes(s), s);
  }
});

test('Ctrl-C stops sending and prints the verdict on what was counted', async (t) => {
  // round-robin answers: whatever was counted at the interrupt is close to 30/60/10, so the
  // verdict on those few requests is INCONCLUSIVE (not a chance FAIL)
  const path = '/slowwrr/20/sigint/3-6-1';
  let kill: (s: NodeJS.Signals) => void = () => undefined;
  const running = cli([...target(path), ...split, '-n', '100000', '-c', '4'], { onSpawn: (k) => (kill = k) });
  // wait until the counted requests are flowing, then interrupt
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000) {
    const hits = Number(await (await fetch(`${server.url}/hits${path}`)).text());
    if (hits > 20) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const sent = Date.now();
  kill('SIGINT');
  const r = await running;
  t.true(Date.now() - sent < 3000);
  t.is(r.signal, null);
  t.is(r.code, 2, r.stdout + r.stderr);
  t.regex(r.stderr, /interrupted: stopping/);
  t.regex(r.stdout, /stopped early \(Ctrl-C\)/);
  t.regex(r.stdout, /VERDICT INCONCLUSIVE \(exit 2\)\n {2}- interrupted: stopped after [\d,]+ of 100,000 requests/);
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

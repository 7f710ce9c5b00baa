// verifyTraffic end to end over real HTTP, against a loopback-only test server in a child
// process (test/fixtures/verify/split-server.ts). All traffic goes to 127.0.0.1; every run is
// bounded in count (-n) and time (--max-time).

import test from 'ava';
import { createServer } from 'node:net';
import { verifyTraffic, type VerifyResult, type VerifyTrafficOptions } from '../scripts/verify/cli.ts';
import { spawnSplitServer } from './fixtures/verify/split-server.ts';

const HELLO = 'v1=^Hello,v2=^Bonjour,v3=^Hola';
let server: Awaited<ReturnType<typeof spawnSplitServer>>;

test.before(async () => {
  server = await spawnSplitServer();
});
test.after.always(async () => {
  await server?.close();
});

const quiet = () => undefined;
function run(path: string, opts: VerifyTrafficOptions = {}): Promise<VerifyResult> {
  return verifyTraffic({
    url: `${server.url}${path}`,
    expect: 'v1=30,v2=60,v3=10',
    classify: HELLO,
    maxTime: 20,
    warn: quiet,
    ...opts,
  });
}

/** Run `jobs` with at most `limit` at a time, results in order. */
async function pool<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

test('20 seeds: a random 30/60/10 target PASSes at auto N in >= 19, a 38/52/10 target FAILs in all', async (t) => {
  const correct = await pool(
    SEEDS.map((seed) => () => run(`/random/${seed}/30-60-10`)),
    4,
  );
  const off = await pool(
    SEEDS.map((seed) => () => run(`/random/${seed}/38-52-10`)),
    4,
  );
  for (const r of [...correct, ...off]) {
    t.is(r.settings.n, 2027);
    t.true(r.settings.nAuto);
    t.is(r.totals.counted, 2027);
    t.is(r.totals.classified, 2027);
    t.is(r.run.interrupted, null);
  }
  const passes = correct.filter((r) => r.verdict === 'PASS').length;
  t.log(`30/60/10: ${passes}/20 PASS; 38/52/10: ${off.filter((r) => r.verdict === 'FAIL').length}/20 FAIL`);
  t.true(passes >= 19, `only ${passes}/20 PASS`);
  t.true(correct.every((r) => r.verdict !== 'FAIL'));
  for (const r of off) {
    t.is(r.verdict, 'FAIL', JSON.stringify(r.buckets.map((b) => b.observedPct)));
    t.is(r.exitCode, 1);
    t.true(r.chiSquare!.p < 0.05);
  }
  // the observed shares really follow the target (not a constant verdict)
  const v1Off = off.reduce((a, r) => a + r.buckets[0].observedPct, 0) / off.length;
  t.true(v1Off > 36 && v1Off < 40, String(v1Off));
});

test('a zero-weight bucket that gets one hit FAILs', async (t) => {
  // warm-up takes requests 1-6; request 50 answers Hola, all others alternate Hello/Bonjour
  const r = await run('/onehit/a/50', { expect: 'v1=50,v2=50,v3=0', n: 300 });
  t.is(r.buckets[2].observed, 1);
  t.is(r.verdict, 'FAIL');
  t.is(r.exitCode, 1);
  t.regex(r.reasons.join('\n'), /v3 has weight 0 but got 1 answer/);
  // the same target before request 50 comes: no hit, no FAIL
  const clean = await run('/onehit/b/5000', { expect: 'v1=50,v2=50,v3=0', n: 300 });
  t.is(clean.buckets[2].observed, 0);
  t.not(clean.verdict, 'FAIL');
});

test('weighted round-robin target: --deterministic PASSes on exact counts, wrong weights FAIL', async (t) => {
  const r = await run('/wrr/a/3-6-1', { deterministic: true });
  t.is(r.mode, 'deterministic');
  t.is(r.settings.n, 200);
  t.deepEqual(
    r.buckets.map((b) => b.observed),
    [60, 120, 20],
  );
  t.is(r.verdict, 'PASS');
  const wrong = await run('/wrr/b/4-5-1', { deterministic: true });
  t.is(wrong.verdict, 'FAIL');
  t.regex(wrong.reasons.join('\n'), /v1 got 80 answers, expected 60 \+- 4/);
  // a random target is not a round-robin: its counts wander beyond the slack
  const random = await run('/random/77/30-60-10', { deterministic: true, n: 1000 });
  t.is(random.verdict, 'FAIL');
});

test('5xx answers and unclassified bodies are rows of their own, with the denominator stated', async (t) => {
  const r = await run('/mixed/1', { n: 500 });
  t.is(r.totals.counted, 500);
  t.is(r.totals.non2xx, 50);
  t.is(r.totals.unclassified, 50);
  t.is(r.totals.classified, 400);
  t.is(r.totals.classified + r.totals.unclassified + r.totals.non2xx + r.totals.transportErrors, r.totals.counted);
  t.is(r.totals.denominator, 'classified answers');
  const rows = Object.fromEntries(r.other.map((o) => [o.label, o]));
  t.is(rows['unclassified'].count, 50);
  t.is(rows['unclassified'].kind, 'unclassified');
  t.is(rows['HTTP 503'].count, 50);
  t.is(rows['HTTP 503'].status, 503);
  t.is(rows['HTTP 503'].pctOfCounted, 10);
  // shares are over the classified answers
  t.is(
    r.buckets.reduce((a, b) => a + b.observed, 0),
    400,
  );
  // 20 % not classified can never PASS, and the report says so
  t.not(r.verdict, 'PASS');
  t.regex(r.reasons.join('\n'), /20\.0 % of the counted requests were not classified/);
});

test('a target that only answers 503: counted as HTTP 503, nothing classified -> INCONCLUSIVE', async (t) => {
  const r = await run('/status/503', { n: 40, warmup: 0 });
  t.is(r.totals.non2xx, 40);
  t.is(r.other[0].label, 'HTTP 503');
  t.is(r.totals.classified, 0);
  t.is(r.verdict, 'INCONCLUSIVE');
  t.is(r.exitCode, 2);
});

test('--by-header classifies on a response header; a missing header is unclassified', async (t) => {
  const r = await run('/header/3/30-60-10', { byHeader: 'X-Version', classify: 'v1=^v1$,v2=^v2$,v3=^v3$' });
  t.is(r.target.classifyBy, 'header:x-version');
  t.is(r.totals.classified, r.settings.n);
  t.is(r.verdict, 'PASS');
  const missing = await run('/header/3/30-60-10', { byHeader: 'x-other', classify: 'v1=^v1$,v2=^v2$,v3=^v3$', n: 20 });
  t.is(missing.totals.unclassified, 20);
});

test('--header is sent with every request (Bookinfo-style end-user: jason routing)', async (t) => {
  const jason = await run('/by-user', {
    header: ['end-user: jason'],
    expect: 'v1=0,v2=100',
    classify: 'v1=^Hello,v2=^Bonjour',
  });
  t.is(jason.settings.n, 73);
  t.is(jason.buckets[1].observed, 73);
  t.is(jason.verdict, 'PASS');
  t.deepEqual(jason.target.headers, { 'end-user': 'jason' });
  const anon = await run('/by-user', { expect: 'v1=0,v2=100', classify: 'v1=^Hello,v2=^Bonjour', n: 50 });
  t.is(anon.verdict, 'FAIL');
});

test('patterns are tried in --classify order: a catch-all can go last', async (t) => {
  // /big/10 bodies start with Hello and end with Bonjour: "v2=Bonjour" must win over the catch-all v1
  const r = await run('/big/10', { expect: 'v1=100,v2=0', classify: 'v2=Bonjour,v1=.', n: 30 });
  t.deepEqual(
    r.buckets.map((b) => [b.name, b.observed]),
    [
      ['v1', 0],
      ['v2', 30],
    ],
  );
  t.is(r.verdict, 'FAIL');
  const swapped = await run('/big/10', { expect: 'v1=100,v2=0', classify: 'v1=.,v2=Bonjour', n: 30 });
  t.is(swapped.buckets[0].observed, 30);
});

test('body classification reads only the first --max-body bytes', async (t) => {
  // body: "Hello" + 10,000 dots + "Bonjour"; v1 matches only if the whole body is read
  const opts = { expect: 'v1=0,v2=100', classify: 'v1=Bonjour,v2=^Hello', n: 80 };
  const capped = await run('/big/10000', opts);
  t.is(capped.buckets[1].observed, 80);
  t.is(capped.verdict, 'PASS');
  const whole = await run('/big/10000', { ...opts, maxBody: 20_000 });
  t.is(whole.buckets[0].observed, 80);
  t.is(whole.verdict, 'FAIL');
});

test('timeouts are transport errors; a target that never answers is an ERROR (exit 3)', async (t) => {
  const r = await run('/slow/1000/1/30-60-10', { n: 4, warmup: 0, timeout: 100, connections: 4 });
  t.is(r.totals.transportErrors, 4);
  t.deepEqual(
    r.other.map((o) => [o.kind, o.label, o.count]),
    [['transport-error', 'error: timeout', 4]],
  );
  t.is(r.verdict, 'ERROR');
  t.is(r.exitCode, 3);
  t.regex(r.error!, /target never answered: all 4 requests failed \(4 timeout\)/);
  // warm-up on a closed port: gives up within --max-time
  const port = await closedPort();
  const t0 = Date.now();
  const closed = await verifyTraffic({
    url: `http://127.0.0.1:${port}/hello/eric`,
    expect: 'v1=30,v2=60,v3=10',
    classify: HELLO,
    maxTime: 1,
    warn: quiet,
  });
  t.true(Date.now() - t0 < 5000);
  t.is(closed.verdict, 'ERROR');
  t.regex(closed.error!, /target never answered: no 2xx answer in \d+ warm-up requests? \(last: connection refused\)/);
  t.is(closed.totals.counted, 0);
});

test('keep-alive reuses -c connections; --new-connection-per-request opens one per request', async (t) => {
  const keep = await run('/random/5/30-60-10', { n: 200, connections: 4 });
  t.true(keep.run.connectionsUsed <= 4, String(keep.run.connectionsUsed));
  const fresh = await run('/random/6/30-60-10', { n: 60, connections: 4, newConnectionPerRequest: true, warmup: 0 });
  t.true(fresh.run.connectionsUsed >= 60, String(fresh.run.connectionsUsed));
  t.is(fresh.totals.classified, 60);
});

test('--qps limits the rate', async (t) => {
  const r = await run('/random/7/30-60-10', { n: 30, qps: 100, connections: 5, warmup: 0 });
  t.is(r.totals.counted, 30);
  // 30 requests at 100/s: the last one leaves 290 ms after the first
  t.true(r.run.durationS >= 0.28, String(r.run.durationS));
  t.true(r.run.reqPerSec <= 110, String(r.run.reqPerSec));
});

test('an abort (Ctrl-C) stops sending and the verdict covers what was counted', async (t) => {
  // round-robin answers, so the few counted requests are near 30/60/10: INCONCLUSIVE, not a chance FAIL
  const path = '/slowwrr/20/abort/3-6-1';
  const ac = new AbortController();
  const running = run(path, { n: 100_000, connections: 4, signal: ac.signal });
  const t0 = Date.now();
  while (Date.now() - t0 < 15_000) {
    if (Number(await (await fetch(`${server.url}/hits${path}`)).text()) > 30) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const stoppedAt = Date.now();
  ac.abort();
  const r = await running;
  t.true(Date.now() - stoppedAt < 2000);
  t.is(r.run.interrupted, 'signal');
  t.true(r.totals.counted >= 20 && r.totals.counted < 100_000, String(r.totals.counted));
  t.is(r.totals.classified, r.totals.counted);
  t.is(r.verdict, 'INCONCLUSIVE');
  t.regex(r.reasons[0], /interrupted: stopped after [\d,]+ of 100,000 requests/);
});

test('--max-time bounds the run', async (t) => {
  const t0 = Date.now();
  const r = await run('/slow/10/9/30-60-10', { n: 1_000_000, connections: 2, warmup: 1, maxTime: 1.5 });
  // 1.5 s, at most 1 s of grace for requests in flight, and room for a busy CI machine
  t.true(Date.now() - t0 < 5000, String(Date.now() - t0));
  t.is(r.run.interrupted, 'max-time');
  t.true(r.totals.counted > 0 && r.totals.counted < 1_000_000);
  t.regex(r.reasons[0], /--max-time reached after [\d,]+ of 1,000,000 requests/);
});

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// `--extend-once`, the two-stage design meshbook runs when it calls the verifier itself
// (traffic-shift step 14, the demo): the error rates it states (computed exactly in stats.ts)
// recomputed by a seeded simulation, and the option end to end against a loopback target whose
// first N answers are INCONCLUSIVE and the next 2 N a correct split.

import test from 'ava';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { autoN, sequentialDesign, simulateTwoStage } from '../scripts/verify/stats.ts';
import { interpretVerdict } from '../scripts/traffic-shift/14-verify-traffic.ts';

const { jStat } = createRequire(import.meta.url)('jstat') as {
  jStat: { beta: { inv(p: number, a: number, b: number): number } };
};
const SPLIT = [0.3, 0.6, 0.1];
const OFF = [0.35, 0.55, 0.1];

/** One-sided 95 % Clopper-Pearson upper bound for k events in n runs. */
const upper95 = (k: number, n: number) => (k >= n ? 1 : jStat.beta.inv(0.95, k + 1, n - k));

test('the design figures (exact) for 30/60/10 at 5 points, as in scripts/verify/README.md', (t) => {
  const n1 = autoN(SPLIT, 0.05).n;
  t.is(n1, 2027);
  const d = sequentialDesign(SPLIT, 0.05, 0.05, n1);
  t.is(d.n2, 4054);
  t.true(d.exact);
  t.true(d.correctNotPass < 1e-4, `P(correct split does not PASS) <= ${d.correctNotPass}`);
  t.is(d.correctNotPass.toExponential(1), '5.1e-6');
  t.is((d.singleStageCorrectNotPass * 100).toFixed(2), '0.97');
  t.is(d.offByMinEffect!.split, '35/55/10');
  t.is((d.offByMinEffect!.pass * 100).toFixed(1), '2.3');
  t.is((d.offByMinEffect!.singleStagePass * 100).toFixed(1), '1.1');
  t.true(d.offByMinEffect!.fail >= 0.8, `P(FAIL | 35/55/10) = ${d.offByMinEffect!.fail}`);
  t.true(d.offByMinEffect!.fail > d.offByMinEffect!.singleStageFail);
  // the other README rows: a correct split misses a PASS < 1e-4 in each
  for (const [shares, m, n] of [
    [[0.5, 0.5], 0.05, 2067],
    [[0.9, 0.1], 0.05, 821],
    [[1, 0, 0], 0.05, 73],
  ] as const) {
    const x = sequentialDesign(shares, m, 0.05, n);
    t.true(x.correctNotPass < 1e-4, `${shares.join('/')}: ${x.correctNotPass}`);
  }
});

test(
  'simulation (seedrandom, fixed seed) agrees: a correct split ' +
    'fails to PASS < 1e-4, a split off by 5 points FAILs >= 80 %',
  (t) => {
    const rand = seedrandom('meshbook --extend-once');
    const d = sequentialDesign(SPLIT, 0.05, 0.05, 2027);
    const runs = 500_000;
    const ok = simulateTwoStage(SPLIT, SPLIT, 2027, 4054, 0.05, 0.05, runs, rand);
    const notPass = Math.round((1 - ok.overall.pass) * runs);
    t.log(
      `correct 30/60/10, ${runs} simulated two-stage runs: stage 1 ` +
        `INCONCLUSIVE ${(ok.stage1.inconclusive * 100).toFixed(3)} %, ` +
        (`not PASS in the end ${notPass} (95 % upper bound ${upper95(notPass, runs).toExponential(1)}; ` +
          `exact bound ${d.correctNotPass.toExponential(1)})`),
    );
    t.true(upper95(notPass, runs) < 1e-4);
    // stage 1 alone matches the exact single-stage figure (0.97 %) within simulation error
    const se1 = Math.sqrt((d.singleStageCorrectNotPass * (1 - d.singleStageCorrectNotPass)) / runs);
    t.true(Math.abs(1 - ok.stage1.pass - d.singleStageCorrectNotPass) < 4 * se1);

    const offRuns = 40_000;
    const off = simulateTwoStage(SPLIT, OFF, 2027, 4054, 0.05, 0.05, offRuns, rand);
    const o = d.offByMinEffect!;
    t.log(
      `35/55/10, ${offRuns} runs: PASS ${(off.overall.pass * 100).toFixed(2)} ` +
        `% (exact bound ${(o.pass * 100).toFixed(2)} %), ` +
        `FAIL ${(off.overall.fail * 100).toFixed(1)} % (one stage ${(off.stage1.fail * 100).toFixed(1)} %)`,
    );
    const se = (p: number) => Math.sqrt((p * (1 - p)) / offRuns);
    t.true(off.overall.pass <= o.pass + 4 * se(o.pass), 'simulated P(PASS) within the exact bound');
    t.true(Math.abs(off.stage1.pass - o.singleStagePass) < 4 * se(o.singleStagePass), 'stage 1 P(PASS) = exact');
    t.true(off.overall.fail >= 0.8);
    t.true(Math.abs(off.overall.fail - o.fail) < 4 * se(o.fail) + 4 * Math.sqrt((o.fail * (1 - o.fail)) / d.sims));
  },
);

// ---- end to end -----------------------------------------------------------------------------

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'scripts', 'verify', 'main.ts');
const HELLO = 'v1=^Hello,v2=^Bonjour,v3=^Hola';
const G = ['Hello', 'Bonjour', 'Hola'];

/** NGINX smooth weighted round-robin over `w`. */
function wrr(w: number[]) {
  const cur = w.map(() => 0);
  const total = w.reduce((a, b) => a + b, 0);
  return () => {
    let best = 0;
    for (let i = 0; i < w.length; i++) {
      cur[i] += w[i];
      if (cur[i] > cur[best]) best = i;
    }
    cur[best] -= total;
    return best;
  };
}

/** Per path `/<first>/<w1-w2-w3>/<then w1-w2-w3>`: the first `first` answers by one WRR, the rest by the other. */
async function phasedServer() {
  const state = new Map<string, { n: number; a: () => number; b: () => number }>();
  const server = http.createServer((req, res) => {
    const [, first, wa, wb] = (req.url ?? '').split('/');
    let s = state.get(req.url!);
    if (!s) state.set(req.url!, (s = { n: 0, a: wrr(wa.split('-').map(Number)), b: wrr(wb.split('-').map(Number)) }));
    const i = s.n++ < Number(first) ? s.a() : s.b();
    res.end(`${G[i]} eric(127.0.0.1)`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', MAIN, 'verify', 'traffic', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d));
    c.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test(
  '--extend-once: INCONCLUSIVE at N, then a fresh 2 N ' + 'decides PASS; without it the same target is INCONCLUSIVE',
  async (t) => {
    const srv = await phasedServer();
    try {
      // 33/57/10 for the warm-up (6) and the 2,027 counted: chi-square rejects, nothing off by 5 points ->
      // INCONCLUSIVE;
      // then exactly 30/60/10
      const args = (p: string) => [
        '--url',
        `${srv.url}${p}`,
        '--expect',
        'v1=30,v2=60,v3=10',
        '--classify',
        HELLO,
        '-c',
        '1',
        '--max-time',
        '50',
        '--json',
      ];
      const r = await cli([...args('/2033/33-57-10/30-60-10'), '--extend-once']);
      t.is(r.code, 0, r.stdout + r.stderr);
      const j = JSON.parse(r.stdout);
      t.is(j.verdict, 'PASS');
      t.like(j.sequential, {
        extendOnce: true,
        extended: true,
        decidedBy: 2,
        notExtended: null,
        totalCounted: 2027 + 4054,
      });
      t.is(j.sequential.stages[0].verdict, 'INCONCLUSIVE');
      t.deepEqual(j.sequential.stages[0].counts, { v1: 669, v2: 1156, v3: 202 });
      t.is(j.sequential.stages[1].verdict, 'PASS');
      t.is(j.totals.counted, 4054);
      t.is(j.settings.n, 4054);
      t.regex(j.reasons[0], /^stage 1 \(2,027 requests\) was INCONCLUSIVE; --extend-once sent a fresh sample of 4,054/);
      t.true(j.sequential.design.correctNotPassProb < 1e-4);
      // step 14 reads it: ok, and says the run was extended
      const step = interpretVerdict(r.stdout);
      t.true(step.ok);
      t.regex(step.lines[0], /^verdict PASS: 4054 requests to /);
      t.regex(
        step.lines[1],
        /^extended once: stage 1 \(2027 requests\) INCONCLUSIVE, stage 2 \(a fresh 4054\) PASS decides$/,
      );

      // off by default: plain `verify traffic` keeps its single-stage contract
      const plain = await cli(args('/2033/33-57-10/30-60-10/plain'));
      t.is(plain.code, 2);
      t.is(JSON.parse(plain.stdout).sequential, null);

      // a PASS at stage 1 is final (no second sample)
      const first = await cli([...args('/0/30-60-10/30-60-10'), '--extend-once']);
      t.is(first.code, 0);
      t.like(JSON.parse(first.stdout).sequential, { extended: false, decidedBy: 1, totalCounted: 2027 });

      // the text report says what happened and states the design's error rates
      const text = await cli([...args('/2033/33-57-10/30-60-10/text').filter((a) => a !== '--json'), '--extend-once']);
      t.is(text.code, 0);
      t.regex(
        text.stdout,
        /sequential +--extend-once: stage 1 N 2,027 INCONCLUSIVE -> stage 2: a fresh N 4,054 decided PASS \(6,081 requests in all\)/,
      );
      t.regex(
        text.stdout,
        /design at N 2,027 \+ 4,054: a correct 30\/60\/10 split fails to PASS <= 5\.1e-6 \(one stage: 1\.0 %\)/,
      );
      t.regex(
        text.stdout,
        /a split off by 5 points \(worst: 35\/55\/10\) PASSes <= 2\.3 % \(one stage: 1\.1 %\) and FAILs 8\d\.\d %/,
      );
    } finally {
      await srv.close();
    }
  },
);

test(
  '--extend-once does not extend when more requests ' + 'cannot help: too many answers outside the buckets',
  async (t) => {
    // every 5th answer is unclassifiable ("Ciao" has no bucket): 20 % > 5 points -> INCONCLUSIVE, not extended
    let k = 0;
    const next = wrr([3, 6, 1]);
    const server = http.createServer((_req, res) => res.end(k++ % 5 === 4 ? 'Ciao eric' : `${G[next()]} eric`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      const r = await cli([
        '--url',
        url,
        '--expect',
        'v1=30,v2=60,v3=10',
        '--classify',
        HELLO,
        '--max-time',
        '50',
        '--json',
        '--extend-once',
      ]);
      t.is(r.code, 2, r.stdout + r.stderr);
      const j = JSON.parse(r.stdout);
      t.like(j.sequential, { extended: false, decidedBy: 1, totalCounted: 2027 });
      t.regex(j.sequential.notExtended, /too many requests outside the buckets/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  },
);

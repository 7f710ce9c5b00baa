// Statistics of the traffic-split verifier: reference values, the verdict rules one by one,
// -n auto, and simulations that check the stated PASS probabilities really hold.

import test from 'ava';
import {
  autoN,
  chiSquareGof,
  decide,
  detection,
  seeded,
  passProbability,
  passRange,
  quickVerdict,
  sampleMultinomial,
  chiSquareCritical,
  wilson,
  type VerdictInput,
} from '../scripts/verify/stats.ts';
import { LogHistogram } from '../scripts/verify/histogram.ts';

const S = [0.3, 0.6, 0.1];
const NAMES = ['v1', 'v2', 'v3'];

const input = (counts: number[], over: Partial<VerdictInput> = {}): VerdictInput => ({
  names: NAMES,
  shares: S,
  counts,
  unaccounted: 0,
  alpha: 0.05,
  minEffect: 0.05,
  mode: 'random',
  ...over,
});

test('wilson: reference values and edge cases', (t) => {
  // 60 of 100: 0.5020 - 0.6906 (Wilson 1927; e.g. Newcombe 1998 method 3)
  const [lo, hi] = wilson(60, 100);
  t.true(Math.abs(lo - 0.502) < 5e-4, String(lo));
  t.true(Math.abs(hi - 0.6906) < 5e-4, String(hi));
  // 0 of 10: upper bound z^2/(n+z^2)
  const [lo0, hi0] = wilson(0, 10);
  t.is(lo0, 0);
  t.true(Math.abs(hi0 - 3.8415 / 13.8415) < 1e-4);
  t.deepEqual(wilson(0, 0), [0, 1]);
  // half-width of the 60 % bucket: +-9.6 points at 100, +-3.0 at 1000 (REFERENCE.md section 7)
  const half = (n: number) => (wilson(0.6 * n, n)[1] - wilson(0.6 * n, n)[0]) / 2;
  t.is(Math.round(half(100) * 1000) / 10, 9.4); // Wilson is a bit narrower than Wald's 9.6
  t.is(Math.round(half(1000) * 1000) / 10, 3.0);
});

test('chi-square: statistic and p-value from jStat', (t) => {
  const c = chiSquareGof([35, 55, 10], S)!;
  t.true(Math.abs(c.statistic - 1.25) < 1e-9);
  t.is(c.df, 2);
  // df = 2: p = exp(-x/2)
  t.true(Math.abs(c.p - Math.exp(-1.25 / 2)) < 1e-9);
  // df = 1 reference: 3.841 -> p 0.05
  const c1 = chiSquareGof([50 + 9.8, 50 - 9.8], [0.5, 0.5])!;
  t.true(Math.abs(c1.statistic - 3.8416) < 1e-3);
  t.true(Math.abs(c1.p - 0.05) < 1e-3);
  // zero-weight buckets do not take part; one weighted bucket: no test
  t.is(chiSquareGof([10, 0, 0], [1, 0, 0]), null);
  t.is(chiSquareGof([6, 4, 1], [0.5, 0.5, 0])!.df, 1);
});

test('verdict: a zero-weight bucket with one hit FAILs', (t) => {
  const r = decide(input([500, 499, 1], { shares: [0.5, 0.5, 0] }));
  t.is(r.verdict, 'FAIL');
  t.regex(r.reasons.join(' '), /v3 has weight 0 but got 1 answer/);
  t.is(decide(input([100, 100, 0], { shares: [0.5, 0.5, 0] })).verdict, 'INCONCLUSIVE');
  t.is(decide(input([2000, 2000, 0], { shares: [0.5, 0.5, 0] })).verdict, 'PASS');
});

test('verdict: FAIL needs both chi-square rejection and a deviation above min-effect', (t) => {
  // off by 8 points at N = 2000: rejects, deviation 8 > 5
  const fail = decide(input([760, 1040, 200]));
  t.is(fail.verdict, 'FAIL');
  t.regex(fail.reasons[0], /chi-square rejects.*v1 is off by 8\.0 points \(38\.0 % observed, 30 % expected/);
  // off by 1 point at N = 100,000: chi-square rejects hard, but 1 < 5 points and the intervals are narrow -> PASS
  const small = decide(input([31_000, 59_000, 10_000]));
  t.true(small.chiSquare!.p < 1e-10);
  t.is(small.verdict, 'PASS');
  // off by 6 points at N = 100: does not reject -> not FAIL; intervals wide -> INCONCLUSIVE
  const few = decide(input([36, 54, 10]));
  t.true(few.chiSquare!.p > 0.05);
  t.is(few.verdict, 'INCONCLUSIVE');
  t.regex(few.reasons.join(' '), /95 % interval .* reaches outside/);
});

test('verdict: PASS needs every interval within expected +- min-effect', (t) => {
  const r = decide(input([600, 1200, 200]));
  t.is(r.verdict, 'PASS');
  t.true(r.buckets.every((b) => b.ok));
  // the same shares at N = 300 are too few
  t.is(decide(input([90, 180, 30])).verdict, 'INCONCLUSIVE');
  // min-effect 10 points makes N = 300 enough
  t.is(decide(input([90, 180, 30], { minEffect: 0.1 })).verdict, 'PASS');
});

test('verdict: too many unclassified/non-2xx/errors turn a PASS into INCONCLUSIVE', (t) => {
  const ok = decide(input([600, 1200, 200], { unaccounted: 50 }));
  t.is(ok.verdict, 'PASS'); // 2.4 % <= 5 points
  const r = decide(input([600, 1200, 200], { unaccounted: 300 }));
  t.is(r.verdict, 'INCONCLUSIVE');
  t.regex(r.reasons[0], /13\.0 % of the counted requests were not classified/);
  // a FAIL stays a FAIL
  t.is(decide(input([760, 1040, 200], { unaccounted: 300 })).verdict, 'FAIL');
});

test('verdict: deterministic mode checks counts within the slack', (t) => {
  const det = (counts: number[], slack?: number) => decide(input(counts, { mode: 'deterministic', slack }));
  t.is(det([60, 120, 20]).verdict, 'PASS');
  t.is(det([62, 118, 20]).verdict, 'PASS'); // within default slack 4
  const r = det([70, 110, 20]);
  t.is(r.verdict, 'FAIL');
  t.regex(r.reasons.join(' '), /v1 got 70 answers, expected 60 \+- 4/);
  t.is(det([61, 119, 20], 0).verdict, 'FAIL');
  t.is(decide(input([100, 100, 1], { mode: 'deterministic', shares: [0.5, 0.5, 0] })).verdict, 'FAIL');
  t.is(det([0, 0, 0]).verdict, 'INCONCLUSIVE');
});

test('quickVerdict (used by simulations) agrees with decide', (t) => {
  const rand = seeded(7);
  const crit = chiSquareCritical(0.05, 2);
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++) {
    const n = 50 + Math.floor(rand() * 3000);
    const alt = [0.3 + (rand() - 0.5) * 0.2, 0, 0.1];
    alt[1] = 1 - alt[0] - alt[2];
    sampleMultinomial(n, alt, rand, counts);
    const a = quickVerdict(counts, S, 0.05, crit);
    const b = decide(input(counts.slice())).verdict;
    if (a !== b) return t.fail(`n=${n} counts=${counts}: ${a} vs ${b}`);
  }
  t.pass();
});

test('passRange matches the PASS rule of decide exactly', (t) => {
  for (const n of [100, 777, 2027]) {
    for (const share of S) {
      const [lo, hi] = passRange(share, n, 0.05);
      for (let x = Math.max(0, lo - 3); x <= Math.min(n, hi + 3); x++) {
        const [l, h] = wilson(x, n);
        const inside = l >= share - 0.05 - 1e-9 && h <= share + 0.05 + 1e-9;
        t.is(inside, x >= lo && x <= hi, `n=${n} share=${share} x=${x}`);
      }
    }
  }
});

test('-n auto for 30/60/10 at 5 points: 2,027 requests, PASS >= 99 %, a 5-point shift PASSes rarely', (t) => {
  const s = autoN(S, 0.05);
  t.is(s.n, 2027);
  t.true(s.passProbability >= 0.99);
  // one fewer request no longer reaches 99 % (it is the smallest such N in its neighbourhood)
  t.true(passProbability(S, S, 2026, 0.05) < 0.99);
  t.truthy(s.alternative);
  t.is(s.alternative!.label, '35/55/10');
  t.true(s.alternative!.passProbability < 0.025, String(s.alternative!.passProbability));
});

test('-n auto figures hold up in simulation (20,000 simulated runs)', (t) => {
  const s = autoN(S, 0.05);
  const crit = chiSquareCritical(0.05, 2);
  const rand = seeded(2024);
  const counts = [0, 0, 0];
  const rate = (shares: number[], verdict: string, runs: number) => {
    let hits = 0;
    for (let i = 0; i < runs; i++) {
      sampleMultinomial(s.n, shares, rand, counts);
      if (quickVerdict(counts, S, 0.05, crit) === verdict) hits++;
    }
    return hits / runs;
  };
  const passCorrect = rate(S, 'PASS', 10_000);
  t.true(passCorrect >= 0.985, `P(PASS | 30/60/10) = ${passCorrect}`);
  const passOff = rate([0.35, 0.55, 0.1], 'PASS', 5000);
  t.true(passOff <= 0.03, `P(PASS | 35/55/10) = ${passOff}`);
  // a 38/52/10 split is FAILed nearly always at auto N
  const failFar = rate([0.38, 0.52, 0.1], 'FAIL', 5000);
  t.true(failFar >= 0.98, `P(FAIL | 38/52/10) = ${failFar}`);
});

test('exact P(PASS) agrees with simulation at small N too', (t) => {
  const rand = seeded(99);
  const crit = chiSquareCritical(0.05, 2);
  const counts = [0, 0, 0];
  for (const n of [600, 1200]) {
    const exact = passProbability(S, S, n, 0.05);
    let hits = 0;
    const runs = 8000;
    for (let i = 0; i < runs; i++) {
      sampleMultinomial(n, S, rand, counts);
      if (quickVerdict(counts, S, 0.05, crit) === 'PASS') hits++;
    }
    // binomial standard error of the simulated rate is at most 0.0056
    t.true(Math.abs(hits / runs - exact) < 0.025, `n=${n} exact=${exact} sim=${hits / runs}`);
  }
});

test('100 requests: a correct split never PASSes and a 35/55/10 split is caught ~17 % of the time', (t) => {
  const d = detection(NAMES, S, 100, 0.05, 0.05)!;
  t.is(d.passIfCorrect, 0);
  t.is(d.atMinEffect, '35/55/10');
  t.true(d.failAtMinEffect > 0.12 && d.failAtMinEffect < 0.23, String(d.failAtMinEffect));
  t.truthy(d.shift80);
  t.true(d.shift80! >= 0.1 && d.shift80! <= 0.2, String(d.shift80));
});

test('auto N for other shapes: one weighted bucket, two buckets', (t) => {
  // v1 gets all: PASS once the Wilson lower bound of 100 % passes 95 %
  const one = autoN([1, 0, 0], 0.05);
  t.is(one.n, 73);
  t.is(wilson(73, 73)[0] >= 0.95, true);
  t.is(wilson(72, 72)[0] >= 0.95, false);
  const two = autoN([0.5, 0.5], 0.05);
  t.true(two.n > 1500 && two.n < 2500, String(two.n));
  t.true(two.alternative!.passProbability < 0.05);
});

test('histogram: fixed memory and percentiles within 2 %', (t) => {
  const h = new LogHistogram();
  const before = h.counts.length;
  const rand = seeded(5);
  const samples: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    // log-normal latencies around 1 ms, a few slow ones
    const v = Math.exp((rand() + rand() + rand() - 1.5) * 1.5) * (rand() < 0.01 ? 50 : 1);
    samples.push(v);
    h.record(v);
  }
  t.is(h.counts.length, before);
  t.is(h.count, 200_000);
  samples.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = samples[Math.ceil(q * samples.length) - 1];
    const got = h.percentile(q);
    t.true(Math.abs(got - exact) / exact < 0.02, `q=${q} exact=${exact} got=${got}`);
  }
  t.is(h.summary().max, samples[samples.length - 1]);
  const empty = new LogHistogram().summary();
  t.true(Number.isNaN(empty.p50));
});

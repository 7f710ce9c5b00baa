// `--extend-once`: a two-stage sequential design (what meshbook runs when it calls the verifier
// itself: traffic-shift step 14, the demo).
//
// Stage 1 is the ordinary run of N1 requests. PASS or FAIL there is final. INCONCLUSIVE (and
// only the statistical kind: not an interrupted run, not one where unclassified / non-2xx /
// failed requests exceed min-effect) starts stage 2: a FRESH sample of N2 = 2 * N1 requests,
// judged on its own by the same rules; its verdict is final.
//
// Why stage 2 alone, not the combined N1 + N2: given the true split the two stages are
// independent, so every error rate of the design is a product of single-stage figures that the
// exact multinomial code above already computes (no approximation of a conditional, no
// simulation needed for the PASS side); and the unlucky stage-1 sample that made it
// INCONCLUSIVE does not weigh on the decision. Why N2 = 2 * N1: with N2 = N1 the chance that a
// correct split does not PASS is about (1 - 0.990)^2 = 1e-4 at auto N, right at the limit; at
// 2 * N1 stage 2 alone misses a PASS about 1e-5 of the time, so the product is far below 1e-4.
//
// The figures (upper bounds, exact unless a normal-approximation bound is flagged):
//   P(correct split does not PASS) = P(FAIL1) + P(INC1) * (1 - P(PASS2))
//                                  <= B1 + (1 - P(PASS1)) * (1 - P(PASS2))
//     with B1 = sum over weighted buckets of the exact binomial tails P(|X_i/N1 - s_i| > m),
//     a bound on P(FAIL1) (FAIL needs some bucket off by more than min-effect m).
//   P(split off by m PASSes)       = P(PASS1) + P(INC1) * P(PASS2)
//                                  <= P(PASS1) + (1 - P(PASS1)) * P(PASS2), the worst such split.
//   P(split off by m FAILs)        = P(FAIL1) + P(INC1) * P(FAIL2): by the seeded simulation
//     (sampleMultinomial + quickVerdict, as `detection` does), both stages simulated.

import { createRequire } from 'node:module';
import { EPS, chiSquareCritical } from './tests.ts';
import { quickVerdict } from './verdict.ts';
import { passProbabilityInfo, shiftedSplits, splitLabel } from './sizing.ts';
import { seeded, sampleMultinomial } from './simulation.ts';

/** Stage 2's size as a multiple of stage 1's. */
export const EXTEND_FACTOR = 2;

interface JStatBeta {
  ibeta(x: number, a: number, b: number): number;
}
const jStatBeta = (createRequire(import.meta.url)('jstat') as { jStat: JStatBeta }).jStat;

/** P(X <= k) for X ~ Binomial(n, q), from jStat's regularised incomplete beta (accurate in the tails). */
export function binomialCdf(k: number, n: number, q: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (q <= 0) return 1;
  if (q >= 1) return 0;
  return jStatBeta.ibeta(1 - q, n - k, k + 1);
}

/** P(X >= k) for X ~ Binomial(n, q). */
export function binomialSf(k: number, n: number, q: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (q <= 0) return 0;
  if (q >= 1) return 1;
  return jStatBeta.ibeta(q, k, n - k + 1);
}

/**
 * Upper bound on P(FAIL) for a correct split at n: FAIL needs some weighted bucket observed off
 * its share by more than minEffect, so P(FAIL) <= sum_i P(|X_i / n - s_i| > minEffect), exact
 * binomial tails. (A zero-weight bucket of a correct split gets no traffic.)
 */
export function failBoundIfCorrect(shares: readonly number[], n: number, minEffect: number): number {
  let sum = 0;
  for (const s of shares) {
    if (s <= 0) continue;
    // observed x fails the band when x / n < s - m - EPS or x / n > s + m + EPS
    const below = Math.ceil(n * (s - minEffect - EPS)) - 1; // largest x strictly below
    const above = Math.floor(n * (s + minEffect + EPS)) + 1; // smallest x strictly above
    sum += binomialCdf(below, n, s) + binomialSf(above, n, s);
  }
  return Math.min(1, sum);
}

export interface StageOutcome {
  pass: number;
  fail: number;
  inconclusive: number;
}

/**
 * Simulated two-stage outcome rates under `trueShares` (seeded; `rand` may be given, e.g. a
 * seedrandom generator in the tests). Stage 2 runs only after an INCONCLUSIVE stage 1.
 */
export function simulateTwoStage(
  shares: readonly number[],
  trueShares: readonly number[],
  n1: number,
  n2: number,
  minEffect: number,
  alpha: number,
  sims: number,
  rand: () => number,
): { overall: StageOutcome; stage1: StageOutcome } {
  const weighted = shares.filter((s) => s > 0).length;
  const crit = weighted >= 2 ? chiSquareCritical(alpha, weighted - 1) : null;
  const counts: number[] = new Array(shares.length).fill(0);
  const o = { pass: 0, fail: 0, inconclusive: 0 };
  const s1 = { pass: 0, fail: 0, inconclusive: 0 };
  const key = { PASS: 'pass', FAIL: 'fail', INCONCLUSIVE: 'inconclusive' } as const;
  for (let s = 0; s < sims; s++) {
    sampleMultinomial(n1, trueShares, rand, counts);
    let v = quickVerdict(counts, shares, minEffect, crit);
    s1[key[v]]++;
    if (v === 'INCONCLUSIVE') {
      sampleMultinomial(n2, trueShares, rand, counts);
      v = quickVerdict(counts, shares, minEffect, crit);
    }
    o[key[v]]++;
  }
  const rate = (x: StageOutcome): StageOutcome => ({
    pass: x.pass / sims,
    fail: x.fail / sims,
    inconclusive: x.inconclusive / sims,
  });
  return { overall: rate(o), stage1: rate(s1) };
}

export interface SequentialDesign {
  n1: number;
  n2: number;
  /** Upper bound on P(a correct split does not PASS) with the extension (exact figures). */
  correctNotPass: number;
  /** Without the extension: 1 - P(PASS1). */
  singleStageCorrectNotPass: number;
  /** The worst split off by exactly min-effect (highest P(PASS)), or null if none can be formed. */
  offByMinEffect: {
    split: string;
    /** Upper bound on P(PASS) with the extension (exact figures). */
    pass: number;
    /** Without the extension: P(PASS1). */
    singleStagePass: number;
    /** P(FAIL) with the extension, simulated. */
    fail: number;
    /** P(FAIL) without it, simulated (same runs' stage 1). */
    singleStageFail: number;
  } | null;
  /** false: some P(PASS) figure is a normal-approximation bound (very large N). */
  exact: boolean;
  /** simulated runs behind the FAIL figures */
  sims: number;
}

const designCache = new Map<string, SequentialDesign>();

/** The error rates of `--extend-once` at stage-1 size n1 (see the comment above). */
export function sequentialDesign(
  shares: readonly number[],
  minEffect: number,
  alpha: number,
  n1: number,
  sims = 10_000,
): SequentialDesign {
  const key = `${shares.join(',')}|${minEffect}|${alpha}|${n1}|${sims}`;
  const hit = designCache.get(key);
  if (hit) return hit;
  const n2 = EXTEND_FACTOR * n1;
  const own1 = passProbabilityInfo(shares, shares, n1, minEffect);
  const own2 = passProbabilityInfo(shares, shares, n2, minEffect);
  let exact = own1.exact && own2.exact;
  const b1 = failBoundIfCorrect(shares, n1, minEffect);
  const correctNotPass = Math.min(1, b1 + (1 - own1.p) * (1 - own2.p));
  let worst: { alt: number[]; pass: number; pass1: number } | null = null;
  for (const alt of shiftedSplits(shares, minEffect)) {
    const p1 = passProbabilityInfo(shares, alt, n1, minEffect);
    const p2 = passProbabilityInfo(shares, alt, n2, minEffect);
    exact &&= p1.exact && p2.exact;
    const pass = Math.min(1, p1.p + (1 - p1.p) * p2.p);
    if (!worst || pass > worst.pass) worst = { alt, pass, pass1: p1.p };
  }
  let offByMinEffect: SequentialDesign['offByMinEffect'] = null;
  if (worst) {
    const sim = simulateTwoStage(shares, worst.alt, n1, n2, minEffect, alpha, sims, seeded(0x5e9 + n1));
    offByMinEffect = {
      split: splitLabel(worst.alt),
      pass: worst.pass,
      singleStagePass: worst.pass1,
      fail: sim.overall.fail,
      singleStageFail: sim.stage1.fail,
    };
  }
  const design: SequentialDesign = {
    n1,
    n2,
    correctNotPass,
    singleStageCorrectNotPass: 1 - own1.p,
    offByMinEffect,
    exact,
    sims,
  };
  designCache.set(key, design);
  return design;
}

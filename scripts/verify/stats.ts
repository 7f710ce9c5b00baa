// Statistics for the traffic-split verdict: Pearson chi-square goodness of fit (p-value from
// jStat), Wilson score intervals, the PASS / FAIL / INCONCLUSIVE rules, and the sample size
// (`-n auto`) at which a correct split PASSes with 99 % probability.
//
// Shares are fractions (0..1) inside this module; the report turns them into percent/points.

import { createRequire } from 'node:module';

interface JStat {
  chisquare: { cdf(x: number, df: number): number; inv(p: number, df: number): number };
  normal: { cdf(x: number, mean: number, sd: number): number };
}
// jstat ships CommonJS without type declarations: load it through require with a local type.
const { jStat } = createRequire(import.meta.url)('jstat') as { jStat: JStat };

/** Two-sided 95 % normal quantile. */
export const Z95 = 1.959963984540054;
/** Target probability that a correct split PASSes at `-n auto`. */
export const AUTO_N_TARGET = 0.99;
/** Tolerance for comparing shares that are equal on paper. */
const EPS = 1e-9;

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'ERROR';
export type Mode = 'random' | 'deterministic';

/** 95 % (by default) Wilson score interval for x successes out of n, as fractions. */
export function wilson(x: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = x / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface ChiSquare {
  statistic: number;
  df: number;
  p: number;
}

/**
 * Pearson chi-square goodness of fit of `observed` counts to `shares` (only buckets with a
 * positive share take part; shares are renormalised over them). Null when fewer than two
 * such buckets or no observations.
 */
export function chiSquareGof(observed: readonly number[], shares: readonly number[]): ChiSquare | null {
  let n = 0;
  let total = 0;
  let k = 0;
  for (let i = 0; i < shares.length; i++) {
    if (shares[i] > 0) {
      n += observed[i];
      total += shares[i];
      k++;
    }
  }
  if (k < 2 || n <= 0) return null;
  let statistic = 0;
  for (let i = 0; i < shares.length; i++) {
    if (!(shares[i] > 0)) continue;
    const e = (n * shares[i]) / total;
    const d = observed[i] - e;
    statistic += (d * d) / e;
  }
  const df = k - 1;
  const p = Math.min(1, Math.max(0, 1 - jStat.chisquare.cdf(statistic, df)));
  return { statistic, df, p };
}

/** Critical chi-square value at `alpha` for `df` degrees of freedom. */
export function chiSquareCritical(alpha: number, df: number): number {
  return jStat.chisquare.inv(1 - alpha, df);
}

// ---------------------------------------------------------------------------------------------
// Verdict

export interface VerdictInput {
  /** Bucket names in the user's order. */
  names: readonly string[];
  /** Expected shares (fractions summing to 1; zero for zero-weight buckets). */
  shares: readonly number[];
  /** Classified answers per bucket. */
  counts: readonly number[];
  /** Counted requests that are not in any bucket (unclassified + non-2xx + transport errors). */
  unaccounted: number;
  alpha: number;
  /** Fraction, e.g. 0.05 for 5 points. */
  minEffect: number;
  mode: Mode;
  /** Deterministic mode: allowed |observed - expected| per bucket, in requests. */
  slack?: number;
}

export interface BucketVerdict {
  name: string;
  share: number;
  expectedCount: number;
  observed: number;
  observedShare: number;
  ci95: [number, number];
  deviation: number;
  /** Random mode: interval within share +- minEffect. Deterministic: count within slack. */
  ok: boolean;
}

export interface VerdictResult {
  verdict: Exclude<Verdict, 'ERROR'>;
  reasons: string[];
  classified: number;
  chiSquare: ChiSquare | null;
  buckets: BucketVerdict[];
  /** Deterministic mode: the slack used. */
  slack?: number;
}

const pct = (f: number, digits = 1) => `${(f * 100).toFixed(digits)} %`;
const pts = (f: number, digits = 1) => `${(f * 100).toFixed(digits)} points`;

/** Default slack for `--deterministic`: 4 requests or 0.5 % of N, whichever is larger. */
export function defaultSlack(n: number): number {
  return Math.max(4, Math.ceil(n / 200));
}

/** Apply the verdict rules (see README.md) to the counted answers. */
export function decide(input: VerdictInput): VerdictResult {
  const { names, shares, counts, alpha, minEffect, mode } = input;
  const classified = counts.reduce((a, b) => a + b, 0);
  const buckets: BucketVerdict[] = names.map((name, i) => {
    const observed = counts[i];
    const observedShare = classified > 0 ? observed / classified : 0;
    return {
      name,
      share: shares[i],
      expectedCount: classified * shares[i],
      observed,
      observedShare,
      ci95: wilson(observed, classified),
      deviation: classified > 0 ? observedShare - shares[i] : 0,
      ok: false,
    };
  });
  const chiSquare = chiSquareGof(counts, shares);
  const reasons: string[] = [];
  const slack = mode === 'deterministic' ? (input.slack ?? defaultSlack(classified)) : undefined;
  const out = (verdict: VerdictResult['verdict']): VerdictResult => ({
    verdict,
    reasons,
    classified,
    chiSquare,
    buckets,
    ...(slack !== undefined ? { slack } : {}),
  });

  if (classified === 0) {
    reasons.push('no answer was classified into any bucket: nothing to judge');
    return out('INCONCLUSIVE');
  }

  let fail = false;
  for (const b of buckets) {
    if (b.share === 0 && b.observed > 0) {
      fail = true;
      reasons.push(`${b.name} has weight 0 but got ${b.observed} answer${b.observed === 1 ? '' : 's'}`);
    }
  }

  if (mode === 'deterministic') {
    for (const b of buckets) {
      if (b.share === 0) {
        b.ok = b.observed === 0;
        continue;
      }
      const diff = b.observed - b.expectedCount;
      b.ok = Math.abs(diff) <= slack! + EPS;
      if (!b.ok) {
        fail = true;
        reasons.push(
          `${b.name} got ${b.observed} answers, expected ${fmtCount(b.expectedCount)} +- ${slack} (weighted round-robin)`,
        );
      }
    }
    if (fail) return out('FAIL');
    reasons.push(`every bucket's count is within +- ${slack} of its exact weighted round-robin share`);
    return guardUnaccounted(out('PASS'), input, classified);
  }

  // Random mode.
  let worst: BucketVerdict | undefined;
  for (const b of buckets) {
    if (b.share === 0) continue;
    if (!worst || Math.abs(b.deviation) > Math.abs(worst.deviation)) worst = b;
  }
  if (chiSquare && chiSquare.p < alpha && worst && Math.abs(worst.deviation) > minEffect + EPS) {
    fail = true;
    reasons.push(
      `chi-square rejects the split (p = ${fmtP(chiSquare.p)} < ${alpha}) and ${worst.name} is off by ` +
        `${pts(Math.abs(worst.deviation))} (${pct(worst.observedShare)} observed, ${pct(worst.share, 0)} expected; ` +
        `more than the ${pts(minEffect, 0)} min-effect)`,
    );
  }
  let allOk = true;
  for (const b of buckets) {
    if (b.share === 0) {
      b.ok = b.observed === 0;
      continue;
    }
    b.ok = b.ci95[0] >= b.share - minEffect - EPS && b.ci95[1] <= b.share + minEffect + EPS;
    if (!b.ok) allOk = false;
  }
  if (fail) return out('FAIL');
  if (allOk) {
    reasons.push(`every bucket's 95 % interval lies within its expected share +- ${pts(minEffect, 0)}`);
    return guardUnaccounted(out('PASS'), input, classified);
  }
  const wide = buckets.filter((b) => b.share > 0 && !b.ok);
  for (const b of wide) {
    reasons.push(
      `${b.name}: 95 % interval ${pct(b.ci95[0])}-${pct(b.ci95[1])} reaches outside ` +
        `${pct(b.share, 0)} +- ${pts(minEffect, 0)}`,
    );
  }
  if (chiSquare && chiSquare.p < alpha) {
    reasons.push(
      `chi-square rejects (p = ${fmtP(chiSquare.p)}) but no bucket is off by more than ${pts(minEffect, 0)} yet: ` +
        'more requests are needed to tell',
    );
  } else {
    reasons.push('too few requests to tell: run more (see -n auto)');
  }
  const note = unaccountedNote(input, classified);
  if (note) reasons.push(note);
  return out('INCONCLUSIVE');
}

function unaccountedNote(input: VerdictInput, classified: number): string | null {
  const total = classified + input.unaccounted;
  if (input.unaccounted > 0 && total > 0 && input.unaccounted / total > input.minEffect + EPS) {
    return (
      `${pct(input.unaccounted / total)} of the counted requests were not classified into a bucket ` +
      `(unclassified, non-2xx or transport errors): more than the ${pts(input.minEffect, 0)} min-effect, ` +
      'so the split of the whole traffic cannot be vouched for'
    );
  }
  return null;
}

/**
 * A PASS vouches for the whole traffic only when the requests left out of the shares
 * (unclassified, non-2xx, transport errors) are themselves no more than min-effect of it.
 */
function guardUnaccounted(r: VerdictResult, input: VerdictInput, classified: number): VerdictResult {
  const note = unaccountedNote(input, classified);
  return note ? { ...r, verdict: 'INCONCLUSIVE', reasons: [note, ...r.reasons] } : r;
}

function fmtCount(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

export function fmtP(p: number): string {
  if (p === 0) return '< 1e-15';
  if (p < 0.0001) return p.toExponential(1);
  return p.toFixed(4);
}

/**
 * The bare random-mode verdict from counts (no messages), for simulations. Same rules as
 * `decide` without the unaccounted guard: zero-weight hit or (chi-square rejects and some
 * bucket off by more than minEffect) -> FAIL; all intervals within +- minEffect -> PASS.
 */
export function quickVerdict(
  counts: readonly number[],
  shares: readonly number[],
  minEffect: number,
  chiCritical: number | null,
): 'PASS' | 'FAIL' | 'INCONCLUSIVE' {
  let n = 0;
  for (let i = 0; i < counts.length; i++) n += counts[i];
  if (n === 0) return 'INCONCLUSIVE';
  let stat = 0;
  let nw = 0;
  let wsum = 0;
  let maxDev = 0;
  let allOk = true;
  for (let i = 0; i < counts.length; i++) {
    if (shares[i] === 0) {
      if (counts[i] > 0) return 'FAIL';
      continue;
    }
    nw += counts[i];
    wsum += shares[i];
  }
  for (let i = 0; i < counts.length; i++) {
    const s = shares[i];
    if (s === 0) continue;
    const e = (nw * s) / wsum;
    if (e > 0) stat += ((counts[i] - e) * (counts[i] - e)) / e;
    const dev = Math.abs(counts[i] / n - s);
    if (dev > maxDev) maxDev = dev;
    const [lo, hi] = wilson(counts[i], n);
    if (lo < s - minEffect - EPS || hi > s + minEffect + EPS) allOk = false;
  }
  if (chiCritical !== null && stat >= chiCritical && maxDev > minEffect + EPS) return 'FAIL';
  return allOk ? 'PASS' : 'INCONCLUSIVE';
}

// ---------------------------------------------------------------------------------------------
// Sample size: exact probability of PASS under a multinomial split.

let logFact = new Float64Array([0, 0]);
function ensureLogFact(n: number): void {
  if (logFact.length > n) return;
  const next = new Float64Array(Math.max(n + 1, logFact.length * 2));
  next.set(logFact);
  for (let i = logFact.length; i < next.length; i++) next[i] = next[i - 1] + Math.log(i);
  logFact = next;
}

function binomPmf(x: number, n: number, q: number): number {
  if (q <= 0) return x === 0 ? 1 : 0;
  if (q >= 1) return x === n ? 1 : 0;
  return Math.exp(logFact[n] - logFact[x] - logFact[n - x] + x * Math.log(q) + (n - x) * Math.log1p(-q));
}

/**
 * The counts x (out of n) for which a bucket expecting `share` is "within band" at PASS:
 * Wilson interval inside share +- minEffect. Both Wilson bounds grow with x, so it is a range
 * [lo, hi] (empty when lo > hi). Zero-share buckets: exactly [0, 0].
 */
export function passRange(share: number, n: number, minEffect: number): [number, number] {
  if (share === 0) return [0, 0];
  // smallest x with wilsonLo >= share - minEffect
  let a = 0;
  let b = n + 1;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (wilson(mid, n)[0] >= share - minEffect - EPS) b = mid;
    else a = mid + 1;
  }
  const lo = a;
  // largest x with wilsonHi <= share + minEffect
  a = -1;
  b = n;
  while (a < b) {
    const mid = (a + b + 1) >> 1;
    if (wilson(mid, n)[1] <= share + minEffect + EPS) a = mid;
    else b = mid - 1;
  }
  return [lo, a];
}

/** Work limit (binomial terms) for the exact computation; beyond it, normal-approximation bounds. */
const EXACT_BUDGET = 4_000_000;
/** Binomial mass beyond 12 standard deviations is negligible (< 1e-30). */
const SIGMAS = 12;

export interface PassProbability {
  p: number;
  /** false: large N, `p` is a normal-approximation bound (a lower bound for the expected split's
   * own P(PASS), an upper bound for any other split's). */
  exact: boolean;
}

/**
 * Probability that a run of n classified answers PASSes (random mode) when the target really
 * splits by `trueShares` and the expected split is `shares`. PASS = every weighted bucket's
 * Wilson interval within share +- minEffect and no hit on a zero-weight bucket (which also
 * rules out FAIL, as FAIL needs a bucket off by more than minEffect). Exact multinomial
 * computation while affordable; for very large n, bounds from the binomial marginals.
 */
export function passProbabilityInfo(
  shares: readonly number[],
  trueShares: readonly number[],
  n: number,
  minEffect: number,
): PassProbability {
  const k = shares.length;
  const ranges = shares.map((s) => passRange(s, n, minEffect));
  for (const [lo, hi] of ranges) if (lo > hi) return { p: 0, exact: true };
  // Work estimate: product of the loop widths of all but the last bucket.
  let work = 1;
  for (let j = 0; j < k - 1; j++) {
    const sd = Math.sqrt(n * trueShares[j] * (1 - trueShares[j]));
    work *= Math.min(ranges[j][1] - ranges[j][0] + 1, 2 * SIGMAS * sd + 1);
  }
  if (work > EXACT_BUDGET) return { p: marginalBound(shares, trueShares, ranges, n), exact: false };

  ensureLogFact(n);
  // Sequential (conditional binomial) decomposition of the multinomial:
  // f(j, r) = sum over x in range_j of Bin(x; r, q_j / rest_j) * f(j + 1, r - x).
  const rest: number[] = new Array(k + 1).fill(0);
  for (let j = k - 1; j >= 0; j--) rest[j] = rest[j + 1] + trueShares[j];
  const memo: Map<number, number>[] = Array.from({ length: k }, () => new Map());
  const f = (j: number, r: number): number => {
    const [lo, hi] = ranges[j];
    if (j === k - 1) return r >= lo && r <= hi ? 1 : 0;
    const cached = memo[j].get(r);
    if (cached !== undefined) return cached;
    let q = rest[j] > 0 ? trueShares[j] / rest[j] : 0;
    if (q > 1) q = 1;
    const sd = Math.sqrt(r * q * (1 - q));
    const from = Math.max(lo, Math.floor(r * q - SIGMAS * sd - 1));
    const to = Math.min(hi, r, Math.ceil(r * q + SIGMAS * sd + 1));
    let sum = 0;
    for (let x = from; x <= to; x++) {
      const p = binomPmf(x, r, q);
      if (p < 1e-300) continue;
      sum += p * f(j + 1, r - x);
    }
    memo[j].set(r, sum);
    return sum;
  };
  return { p: Math.min(1, f(0, n)), exact: true };
}

export function passProbability(
  shares: readonly number[],
  trueShares: readonly number[],
  n: number,
  minEffect: number,
): number {
  return passProbabilityInfo(shares, trueShares, n, minEffect).p;
}

function normalCdf(z: number): number {
  return jStat.normal.cdf(z, 0, 1);
}

/** P(range) of each bucket's Binomial(n, q) marginal, by normal approximation. */
function marginalIn(q: number, n: number, lo: number, hi: number): number {
  if (q <= 0) return lo <= 0 ? 1 : 0;
  if (q >= 1) return hi >= n ? 1 : 0;
  const mean = n * q;
  const sd = Math.sqrt(n * q * (1 - q));
  return Math.max(0, normalCdf((hi + 0.5 - mean) / sd) - normalCdf((lo - 0.5 - mean) / sd));
}

/**
 * Large n: for the expected split itself, the Bonferroni lower bound 1 - sum P(bucket outside);
 * for any other split, the upper bound min P(bucket inside).
 */
function marginalBound(
  shares: readonly number[],
  trueShares: readonly number[],
  ranges: [number, number][],
  n: number,
): number {
  const same = shares.every((s, i) => Math.abs(s - trueShares[i]) < EPS);
  const inside = ranges.map(([lo, hi], i) => marginalIn(trueShares[i], n, lo, hi));
  if (same) return Math.max(0, 1 - inside.reduce((a, p) => a + (1 - p), 0));
  return Math.min(...inside);
}

export interface Alternative {
  /** The shifted split, fractions. */
  shares: number[];
  /** E.g. "35/55/10". */
  label: string;
  passProbability: number;
}

export interface Sizing {
  n: number;
  /** P(PASS) at n when the split is correct. */
  passProbability: number;
  /** The worst split off by exactly minEffect (highest P(PASS)), or null if none can be formed. */
  alternative: Alternative | null;
}

/** "30/60/10" style label for shares (percent, up to 1 decimal). */
export function splitLabel(shares: readonly number[]): string {
  return shares.map((s) => String(Math.round(s * 1000) / 10)).join('/');
}

/** Every split made by moving minEffect from one weighted bucket to another bucket. */
export function shiftedSplits(shares: readonly number[], minEffect: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < shares.length; i++) {
    if (shares[i] + EPS < minEffect || shares[i] === 0) continue;
    for (let j = 0; j < shares.length; j++) {
      if (j === i) continue;
      const alt = shares.slice();
      alt[i] = Math.max(0, alt[i] - minEffect);
      alt[j] = alt[j] + minEffect;
      out.push(alt);
    }
  }
  return out;
}

const sizingCache = new Map<string, Sizing>();

/**
 * `-n auto`: the smallest n at which a correct split PASSes with probability >= target
 * (exact multinomial computation, then a scan past lattice wiggles), together with the
 * P(PASS) of the worst split off by exactly minEffect.
 */
export function autoN(shares: readonly number[], minEffect: number, target = AUTO_N_TARGET): Sizing {
  const key = `${shares.join(',')}|${minEffect}|${target}`;
  const hit = sizingCache.get(key);
  if (hit) return hit;
  const P = (n: number) => passProbability(shares, shares, n, minEffect);
  let hi = 16;
  while (P(hi) < target) {
    hi *= 2;
    if (hi > 50_000_000) throw new Error('min-effect too small: auto N would exceed 50,000,000');
  }
  let lo = Math.max(1, hi >> 1);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (P(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  // P(PASS) is not perfectly monotone in n (counts are integers): make sure n is past the
  // last dip below target in a window of 3 % above it.
  let n = lo;
  const window = Math.max(20, Math.ceil(n * 0.03));
  for (let m = n + 1; m <= n + window; m++) {
    if (P(m) < target) n = m + 1;
  }
  const passP = P(n);
  let alternative: Alternative | null = null;
  for (const alt of shiftedSplits(shares, minEffect)) {
    const p = passProbability(shares, alt, n, minEffect);
    if (!alternative || p > alternative.passProbability) {
      alternative = { shares: alt, label: splitLabel(alt), passProbability: p };
    }
  }
  const sizing: Sizing = { n, passProbability: passP, alternative };
  sizingCache.set(key, sizing);
  return sizing;
}

/** `-n auto` for `--deterministic`: at least 200 requests, whole weighted round-robin cycles. */
export function autoNDeterministic(weights: readonly number[]): number {
  const ints = weights.every((w) => Number.isInteger(w));
  if (!ints) return 200;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = weights.filter((w) => w > 0).reduce((a, b) => gcd(a, b));
  const cycle = weights.reduce((a, b) => a + b, 0) / g;
  return cycle * Math.max(1, Math.ceil(200 / cycle));
}

// ---------------------------------------------------------------------------------------------
// Simulation (for the small-N warning: what a given N can and cannot detect)

/** Small fast seeded PRNG (mulberry32); simulations must be reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  let u = 0;
  while (u === 0) u = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Binomial(n, q) draw: exact inversion when the smaller tail is small, normal otherwise. */
export function sampleBinomial(n: number, q: number, rand: () => number): number {
  if (n <= 0 || q <= 0) return 0;
  if (q >= 1) return n;
  const flip = q > 0.5;
  const p = flip ? 1 - q : q;
  let x: number;
  if (n * p < 30) {
    // inversion by the pmf recurrence from 0
    const u = rand();
    let pmf = Math.pow(1 - p, n);
    let cdf = pmf;
    x = 0;
    const ratio = p / (1 - p);
    while (u > cdf && x < n) {
      pmf *= ((n - x) / (x + 1)) * ratio;
      x++;
      cdf += pmf;
    }
  } else {
    x = Math.round(n * p + Math.sqrt(n * p * (1 - p)) * gaussian(rand));
    if (x < 0) x = 0;
    if (x > n) x = n;
  }
  return flip ? n - x : x;
}

export function sampleMultinomial(n: number, shares: readonly number[], rand: () => number, out: number[]): number[] {
  let r = n;
  let rest = 1;
  for (let j = 0; j < shares.length; j++) {
    if (j === shares.length - 1) {
      out[j] = r;
      break;
    }
    const q = rest > 0 ? Math.min(1, shares[j] / rest) : 0;
    const x = sampleBinomial(r, q, rand);
    out[j] = x;
    r -= x;
    rest -= shares[j];
  }
  return out;
}

export interface Detection {
  /** P(PASS) at n for a correct split (exact). */
  passIfCorrect: number;
  /** The direction of shifts examined, e.g. "v2 -> v1". */
  direction: string;
  /** The split off by minEffect in that direction, e.g. "35/55/10". */
  atMinEffect: string;
  /** Estimated P(FAIL) at n for that split. */
  failAtMinEffect: number;
  /** Smallest shift (fraction, 0.5-point steps) FAILed with >= 80 % probability, or null. */
  shift80: number | null;
}

/**
 * What n requests can and cannot detect: the shift from the largest weighted bucket to the
 * next (or to a zero-weight bucket when only one is weighted), by simulation (seeded).
 */
export function detection(
  names: readonly string[],
  shares: readonly number[],
  n: number,
  minEffect: number,
  alpha: number,
  sims = 2000,
): Detection | null {
  const order = shares.map((_, i) => i).sort((a, b) => shares[b] - shares[a]);
  const from = order[0];
  const to = order.length > 1 ? order[1] : -1;
  if (to < 0 || shares[from] <= 0) return null;
  const weightedCount = shares.filter((s) => s > 0).length;
  const crit = weightedCount >= 2 ? chiSquareCritical(alpha, weightedCount - 1) : null;
  const shifted = (d: number) => {
    const alt = shares.slice();
    alt[from] -= d;
    alt[to] += d;
    return alt;
  };
  const counts: number[] = new Array(shares.length).fill(0);
  const failRate = (d: number): number => {
    const alt = shifted(d);
    const rand = mulberry32(0x5eed + Math.round(d * 1e4));
    let fails = 0;
    for (let s = 0; s < sims; s++) {
      sampleMultinomial(n, alt, rand, counts);
      if (quickVerdict(counts, shares, minEffect, crit) === 'FAIL') fails++;
    }
    return fails / sims;
  };
  const maxShift = shares[from];
  const failAtMinEffect = minEffect <= maxShift ? failRate(minEffect) : 0;
  let shift80: number | null = null;
  // 0.5-point grid between minEffect and the largest possible shift; P(FAIL) grows with the shift.
  const step = 0.005;
  let lo = Math.ceil(minEffect / step);
  let hi = Math.floor(maxShift / step + EPS);
  if (hi >= lo && failRate(hi * step) >= 0.8) {
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (failRate(mid * step) >= 0.8) hi = mid;
      else lo = mid + 1;
    }
    shift80 = lo * step;
  }
  return {
    passIfCorrect: passProbability(shares, shares, n, minEffect),
    direction: `${names[from]} -> ${names[to]}`,
    atMinEffect: splitLabel(shifted(Math.min(minEffect, maxShift))),
    failAtMinEffect,
    shift80,
  };
}

// ---------------------------------------------------------------------------------------------
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
  const rate = (x: StageOutcome): StageOutcome => ({ pass: x.pass / sims, fail: x.fail / sims, inconclusive: x.inconclusive / sims });
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
    const sim = simulateTwoStage(shares, worst.alt, n1, n2, minEffect, alpha, sims, mulberry32(0x5e9 + n1));
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

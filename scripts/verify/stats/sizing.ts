// Sample size: the exact probability that a split PASSes at N (multinomial), and the N
// (`-n auto`) at which a correct split PASSes with 99 % probability.

import { AUTO_N_TARGET, EPS, jStat, wilson } from './tests.ts';

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

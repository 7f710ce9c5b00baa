// Simulation (for the small-N warning: what a given N can and cannot detect).

import seedrandom from 'seedrandom';
import { EPS, chiSquareCritical } from './tests.ts';
import { quickVerdict } from './verdict.ts';
import { passProbability, splitLabel } from './sizing.ts';

/** A seeded generator (seedrandom's Alea: fast, and the same library the tests use); simulations must be
 *  reproducible. */
export function seeded(seed: number): () => number {
  return seedrandom.alea(String(seed));
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
    const rand = seeded(0x5eed + Math.round(d * 1e4));
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

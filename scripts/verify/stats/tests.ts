// The two tests behind a traffic-split verdict: Pearson chi-square goodness of fit (p-value
// from jStat) and Wilson score intervals. Shares are fractions (0..1) here.

import { createRequire } from 'node:module';

interface JStat {
  chisquare: { cdf(x: number, df: number): number; inv(p: number, df: number): number };
  normal: { cdf(x: number, mean: number, sd: number): number };
}
// jstat ships CommonJS without type declarations: load it through require with a local type.
export const { jStat } = createRequire(import.meta.url)('jstat') as { jStat: JStat };

/** Two-sided 95 % normal quantile. */
export const Z95 = 1.959963984540054;
/** Target probability that a correct split PASSes at `-n auto`. */
export const AUTO_N_TARGET = 0.99;
/** Tolerance for comparing shares that are equal on paper. */
/** Tolerance for comparisons of shares and probabilities. */
export const EPS = 1e-9;

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

// The verdict: PASS / FAIL / INCONCLUSIVE from counts, expected shares and the min-effect.

import { ChiSquare, EPS, Mode, Verdict, chiSquareGof, wilson } from './tests.ts';

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

/** Per bucket: expected and observed count and share, its 95 % interval and deviation (ok decided later). */
function bucketsOf(input: VerdictInput, classified: number): BucketVerdict[] {
  const { names, shares, counts } = input;
  return names.map((name, i) => {
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
}

/** Zero-weight buckets that got answers (a reason each); true when there is one. */
function zeroWeightHits(buckets: BucketVerdict[], reasons: string[]): boolean {
  let hit = false;
  for (const b of buckets) {
    if (b.share === 0 && b.observed > 0) {
      hit = true;
      reasons.push(`${b.name} has weight 0 but got ${b.observed} answer${b.observed === 1 ? '' : 's'}`);
    }
  }
  return hit;
}

/** Deterministic mode: every bucket's count within `slack` of its exact share, else FAIL. */
function judgeDeterministic(buckets: BucketVerdict[], slack: number, reasons: string[], fail: boolean) {
  for (const b of buckets) {
    if (b.share === 0) {
      b.ok = b.observed === 0;
      continue;
    }
    const diff = b.observed - b.expectedCount;
    b.ok = Math.abs(diff) <= slack + EPS;
    if (!b.ok) {
      fail = true;
      reasons.push(
        `${b.name} got ${b.observed} answers, ` +
          `expected ${fmtCount(b.expectedCount)} +- ${slack} (weighted round-robin)`,
      );
    }
  }
  if (fail) return 'FAIL';
  reasons.push(`every bucket's count is within +- ${slack} of its exact weighted round-robin share`);
  return 'PASS';
}

/** Random mode, FAIL: chi-square rejects the split and the worst bucket is off by more than min-effect. */
function offByMoreThanMinEffect(
  buckets: BucketVerdict[],
  chiSquare: ChiSquare | null,
  input: VerdictInput,
  reasons: string[],
): boolean {
  const { alpha, minEffect } = input;
  let worst: BucketVerdict | undefined;
  for (const b of buckets) {
    if (b.share === 0) continue;
    if (!worst || Math.abs(b.deviation) > Math.abs(worst.deviation)) worst = b;
  }
  if (!(chiSquare && chiSquare.p < alpha && worst && Math.abs(worst.deviation) > minEffect + EPS)) return false;
  reasons.push(
    `chi-square rejects the split (p = ${fmtP(chiSquare.p)} < ${alpha}) and ${worst.name} is off by ` +
      `${pts(Math.abs(worst.deviation))} (${pct(worst.observedShare)} observed, ${pct(worst.share, 0)} expected; ` +
      `more than the ${pts(minEffect, 0)} min-effect)`,
  );
  return true;
}

/** Random mode: mark each bucket ok when its interval lies within share +- min-effect; true when all do. */
function intervalsWithinMinEffect(buckets: BucketVerdict[], minEffect: number): boolean {
  let allOk = true;
  for (const b of buckets) {
    if (b.share === 0) {
      b.ok = b.observed === 0;
      continue;
    }
    b.ok = b.ci95[0] >= b.share - minEffect - EPS && b.ci95[1] <= b.share + minEffect + EPS;
    if (!b.ok) allOk = false;
  }
  return allOk;
}

/** Random mode, INCONCLUSIVE: which intervals are too wide, and whether more requests would tell. */
function inconclusiveReasons(
  buckets: BucketVerdict[],
  chiSquare: ChiSquare | null,
  input: VerdictInput,
  classified: number,
  reasons: string[],
): void {
  const { alpha, minEffect } = input;
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
}

/** Random mode: FAIL, PASS (every interval within +- min-effect) or INCONCLUSIVE. */
function judgeRandom(
  buckets: BucketVerdict[],
  chiSquare: ChiSquare | null,
  input: VerdictInput,
  classified: number,
  reasons: string[],
  fail: boolean,
): VerdictResult['verdict'] {
  if (offByMoreThanMinEffect(buckets, chiSquare, input, reasons)) fail = true;
  const allOk = intervalsWithinMinEffect(buckets, input.minEffect);
  if (fail) return 'FAIL';
  if (allOk) {
    reasons.push(`every bucket's 95 % interval lies within its expected share +- ${pts(input.minEffect, 0)}`);
    return 'PASS';
  }
  inconclusiveReasons(buckets, chiSquare, input, classified, reasons);
  return 'INCONCLUSIVE';
}

/** Apply the verdict rules (see README.md) to the counted answers. */
export function decide(input: VerdictInput): VerdictResult {
  const { shares, counts, mode } = input;
  const classified = counts.reduce((a, b) => a + b, 0);
  const buckets = bucketsOf(input, classified);
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
  const fail = zeroWeightHits(buckets, reasons);
  const verdict =
    mode === 'deterministic'
      ? judgeDeterministic(buckets, slack!, reasons, fail)
      : judgeRandom(buckets, chiSquare, input, classified, reasons, fail);
  // a PASS vouches for the whole traffic only when little of it was left out of the shares
  return verdict === 'PASS' ? guardUnaccounted(out('PASS'), input, classified) : out(verdict);
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

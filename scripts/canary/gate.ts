// A canary step's gate: the verifier at auto N for the step's weights, and two limits on what
// the answers say about the canary version.
//
//   errors   non-2xx answers plus transport errors, over every counted request: <= --max-errors %
//   p99      the canary version's p99 latency: <= --max-p99 ms, or <= --max-p99-ratio x the
//            baseline's p99: the highest p99 of the other versions with enough answers in the
//            same sample (same moment, same load: a p99 from another step, or another minute,
//            differs by the machine's load alone). Where the sample has no baseline (the 100 %
//            step) the ratio is not checked; --max-p99 still is. Differences under --p99-floor
//            ms (50) never fail: tens of ms of tail come and go with the load.
//   verifier PASS at the step's weights (every version, a zero weight included)
//
// Decided in that order: errors and latency are about the release, the split is about the
// routing. Each sample is the verifier's -n auto for the step's weights, and at least
// --min-requests (500: at 100 % the auto N is a few dozen, too few to see a 1 % error rate;
// 500 requests miss a 1 % rate 0.7 % of the time). A verifier INCONCLUSIVE is sampled once
// more, fresh, at twice N; INCONCLUSIVE again holds the step. --bake S samples for S seconds
// instead of N requests (the verdict covers what was counted).
import { verifyTraffic, type VerifyResult } from '../verify/cli.ts';
import { HELLO2_CLASSIFY, verifyUrl } from '../traffic-shift/14-verify-traffic.ts';
import { VERSIONS, expectArg, type Version, type Weights } from '../traffic-shift/common.ts';

export interface GateLimits {
  maxErrorsPct: number;
  maxP99Ms?: number;
  maxP99Ratio: number;
  p99FloorMs: number;
  bakeS: number;
  /** at least this many requests per sample (a 100 % step's auto N is a few dozen) */
  minRequests: number;
}

export type Outcome = 'PASS' | 'FAIL' | 'INCONCLUSIVE' | 'INTERRUPTED';

export interface Figures {
  /** requests counted (the deciding sample) */
  n: number;
  verdict: string;
  p: number | null;
  errorsPct: number;
  canaryP99Ms: number | null;
  baselineP99Ms: number | null;
  resampled: boolean;
}

export interface GateResult {
  outcome: Outcome;
  /** the gate that failed */
  gate?: 'errors' | 'p99' | 'verifier';
  reason: string;
  figures: Figures;
  /** the verifier's results, in order (the deciding one last) */
  results: VerifyResult[];
}

/** Fewer answers than this in a bucket say nothing about its p99. */
export const MIN_LATENCY_SAMPLES = 20;

/** The other versions' p99 (the highest among those with enough answers), or null. */
export function baselineP99(r: VerifyResult, to: Version): number | null {
  const ps = r.buckets
    .filter((b) => b.name !== to && b.latencyMs.count >= MIN_LATENCY_SAMPLES && b.latencyMs.p99 !== null)
    .map((b) => b.latencyMs.p99!);
  return ps.length ? Math.max(...ps) : null;
}

/** The figures of one verifier result. */
export function figuresOf(r: VerifyResult, to: Version, resampled: boolean): Figures {
  const t = r.totals;
  const canary = r.buckets.find((b) => b.name === to);
  return {
    n: t.counted,
    verdict: r.verdict,
    p: r.chiSquare?.p ?? null,
    errorsPct: t.counted ? ((t.non2xx + t.transportErrors) * 100) / t.counted : 0,
    canaryP99Ms: canary && canary.latencyMs.count > 0 ? canary.latencyMs.p99 : null,
    baselineP99Ms: baselineP99(r, to),
    resampled,
  };
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

/** Which limit the figures break, if any (errors first, then latency; `ratio: false` skips the
 *  comparison with the baseline, which a rollback target does not need to beat). */
export function limitBroken(
  f: Figures,
  l: GateLimits,
  o: { ratio: boolean } = { ratio: true },
): Pick<GateResult, 'gate' | 'reason'> | undefined {
  if (f.n > 0 && f.errorsPct > l.maxErrorsPct)
    return {
      gate: 'errors',
      reason: `errors ${f.errorsPct.toFixed(2)} % of ${f.n} requests, over --max-errors ${l.maxErrorsPct} %`,
    };
  if (f.canaryP99Ms === null) return undefined;
  if (l.maxP99Ms !== undefined) {
    if (f.canaryP99Ms > l.maxP99Ms)
      return { gate: 'p99', reason: `canary p99 ${ms(f.canaryP99Ms)}, over --max-p99 ${l.maxP99Ms} ms` };
    return undefined;
  }
  if (f.baselineP99Ms === null || !o.ratio) return undefined;
  const limit = Math.max(l.maxP99Ratio * f.baselineP99Ms, f.baselineP99Ms + l.p99FloorMs);
  if (f.canaryP99Ms > limit)
    return {
      gate: 'p99',
      reason:
        `canary p99 ${ms(f.canaryP99Ms)} vs baseline p99 ${ms(f.baselineP99Ms)}: ` +
        `${(f.canaryP99Ms / f.baselineP99Ms).toFixed(1)}x, over --max-p99-ratio ${l.maxP99Ratio}`,
    };
  return undefined;
}

export interface GateRun {
  env: Record<string, string>;
  weights: Weights;
  to: Version;
  limits: GateLimits;
  signal?: AbortSignal;
  warn?: (line: string) => void;
  /** what decides: every gate (a step); the limits but not the ratio to the baseline (a rollback
   *  to a step that passed); the verifier alone (the starting weights: there is nowhere further back) */
  checks?: 'all' | 'no-ratio' | 'verifier';
}

/** The verifier's -n auto for these weights (at 5 points), or --min-requests when that is more. */
export async function requestsFor(w: Weights, minRequests: number): Promise<number> {
  const { autoN } = await import('../verify/stats.ts');
  const shares = VERSIONS.map((v) => w[v] / 100);
  return Math.max(autoN(shares, 0.05).n, minRequests); // the verifier's default --min-effect, 5 points
}

/** One verifier run at the step's weights. */
async function sample(g: GateRun, n: number, bakeS: number): Promise<VerifyResult> {
  return verifyTraffic({
    url: verifyUrl(g.env),
    expect: expectArg(g.weights),
    classify: HELLO2_CLASSIFY,
    n: bakeS > 0 ? 100_000_000 : n,
    ...(bakeS > 0 ? { maxTime: bakeS } : {}),
    signal: g.signal,
    warn: g.warn ?? (() => undefined),
  });
}

/** Measure the step and decide: PASS, FAIL (which gate), INCONCLUSIVE, or INTERRUPTED. */
export async function runGate(g: GateRun): Promise<GateResult> {
  const results: VerifyResult[] = [];
  const n = await requestsFor(g.weights, g.limits.minRequests);
  let r = await sample(g, n, g.limits.bakeS);
  results.push(r);
  let resampled = false;
  for (;;) {
    const f = figuresOf(r, g.to, resampled);
    if (r.run.interrupted === 'signal' || g.signal?.aborted)
      return { outcome: 'INTERRUPTED', reason: 'interrupted while measuring', figures: f, results };
    const checks = g.checks ?? 'all';
    const broken = checks === 'verifier' ? undefined : limitBroken(f, g.limits, { ratio: checks === 'all' });
    if (broken) return { outcome: 'FAIL', ...broken, figures: f, results };
    if (r.verdict === 'PASS')
      return {
        outcome: 'PASS',
        reason: checks === 'verifier' ? 'verifier PASS' : 'every gate passed',
        figures: f,
        results,
      };
    if (r.verdict !== 'INCONCLUSIVE' || resampled) {
      const why = r.error ?? r.reasons[0] ?? r.verdict;
      if (r.verdict === 'INCONCLUSIVE')
        return { outcome: 'INCONCLUSIVE', reason: `INCONCLUSIVE twice: ${why}`, figures: f, results };
      return { outcome: 'FAIL', gate: 'verifier', reason: `verifier ${r.verdict}: ${why}`, figures: f, results };
    }
    // INCONCLUSIVE: once more, a fresh sample of twice N
    resampled = true;
    r = await sample(g, 2 * n, 0);
    results.push(r);
  }
}

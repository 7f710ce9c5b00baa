// The verifier's result: its JSON-able shape, and how a load's tallies become one (counts,
// shares, intervals, the verdict, latencies). verifyTraffic (traffic.ts) sizes and runs.
import type { RawVerifyOptions, VerifyConfig } from './args.ts';
import type { LoadResult } from './client.ts';
import type { LatencySummary, LogHistogram } from './histogram.ts';
import { decide, type Mode, type Verdict } from './stats.ts';

export interface VerifyTrafficOptions extends RawVerifyOptions {
  /** Stop sending (like Ctrl-C): the verdict covers what was counted. */
  signal?: AbortSignal;
  /** Live progress bar on stderr (only drawn when stderr is a TTY). Default false. */
  progress?: boolean;
  /** Where warnings go (one line each). Default: stderr. */
  warn?: (line: string) => void;
}

export interface LatencyJson {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface BucketResult {
  name: string;
  weight: number;
  pattern: string;
  expectedPct: number;
  expectedCount: number;
  observed: number;
  observedPct: number;
  ci95Pct: [number, number];
  deviationPts: number;
  /** interval within expected +- min-effect (deterministic: count within slack) */
  ok: boolean;
  latencyMs: LatencyJson;
}

export interface OtherRow {
  kind: 'unclassified' | 'http-status' | 'transport-error';
  label: string;
  status?: number;
  error?: string;
  count: number;
  /** share of all counted requests */
  pctOfCounted: number;
  latencyMs?: LatencyJson;
}

export interface VerifyResult {
  tool: 'meshbook verify traffic';
  schemaVersion: 1;
  verdict: Verdict;
  exitCode: 0 | 1 | 2 | 3;
  reasons: string[];
  /** set when verdict is ERROR */
  error: string | null;
  target: {
    url: string;
    method: 'GET';
    headers: Record<string, string>;
    classifyBy: string;
    maxBodyBytes: number;
    envFile: string | null;
  };
  mode: Mode;
  settings: {
    n: number;
    nAuto: boolean;
    connections: number;
    qps: number | null;
    warmup: number;
    alpha: number;
    minEffectPts: number;
    timeoutMs: number;
    newConnectionPerRequest: boolean;
    maxTimeS: number | null;
    slack: number | null;
  };
  sizing: {
    autoN: number;
    /** P(PASS) at the N run, for a correct split (random mode) */
    passIfCorrectPct: number | null;
    /** the worst split off by exactly min-effect and its P(PASS) at the N run */
    offByMinEffect: { split: string; passPct: number } | null;
    /** at auto N (same figures, for the record) */
    atAutoN: { passIfCorrectPct: number; offByMinEffect: { split: string; passPct: number } | null } | null;
    /** explicit N below auto: what it can and cannot detect */
    warning: string | null;
    /** false: the figures at N are normal-approximation bounds (very large N) */
    exact: boolean;
  };
  buckets: BucketResult[];
  other: OtherRow[];
  totals: {
    sent: number;
    counted: number;
    classified: number;
    unclassified: number;
    non2xx: number;
    transportErrors: number;
    warmup: number;
    abandoned: number;
    /** what the shares, intervals and chi-square are computed over */
    denominator: 'classified answers';
  };
  chiSquare: { statistic: number; df: number; p: number } | null;
  run: {
    startedAt: string;
    durationS: number;
    reqPerSec: number;
    connectionsUsed: number;
    interrupted: 'signal' | 'max-time' | null;
    peakRssMB: number;
  };
  /** `--extend-once` (null without it). When stage 2 ran, everything above is stage 2's. */
  sequential: SequentialJson | null;
}

export interface StageJson {
  stage: 1 | 2;
  n: number;
  counted: number;
  classified: number;
  verdict: Verdict;
  reasons: string[];
  counts: Record<string, number>;
  chiSquare: { statistic: number; df: number; p: number } | null;
  durationS: number;
}

export interface SequentialJson {
  extendOnce: true;
  /** stage 2 ran */
  extended: boolean;
  /** the stage whose verdict is the result's */
  decidedBy: 1 | 2;
  /** why an INCONCLUSIVE stage 1 was not extended (interrupted, --max-time, requests outside the buckets,
   *  deterministic mode), else null */
  notExtended: string | null;
  stages: StageJson[];
  /** total counted requests over the stages that ran */
  totalCounted: number;
  /** the design's error rates at this N (probabilities as fractions; see scripts/verify/README.md) */
  design: {
    n1: number;
    n2: number;
    /** upper bound on P(a correct split does not PASS), exact binomial/multinomial figures */
    correctNotPassProb: number;
    /** the same for one stage alone (what plain `verify traffic` runs) */
    singleStageCorrectNotPassProb: number;
    offByMinEffect: {
      split: string;
      /** upper bound on P(PASS), exact figures */
      passProb: number;
      singleStagePassProb: number;
      /** P(FAIL), seeded simulation */
      failProb: number;
      singleStageFailProb: number;
    } | null;
    exact: boolean;
    simulatedRuns: number;
  } | null;
}

export const EXIT: Record<Verdict, 0 | 1 | 2 | 3> = { PASS: 0, FAIL: 1, INCONCLUSIVE: 2, ERROR: 3 };
export const r1 = (x: number) => Math.round(x * 10) / 10;
export const r2 = (x: number) => Math.round(x * 100) / 100;
export const r3 = (x: number) => Math.round(x * 1000) / 1000;
const finite = (x: number) => (Number.isFinite(x) ? r3(x) : null);

function latencyJson(h: LogHistogram): LatencyJson {
  const s: LatencySummary = h.summary();
  return { count: s.count, p50: finite(s.p50), p90: finite(s.p90), p99: finite(s.p99), max: finite(s.max) };
}

export function pctOf(f: number): number {
  return Math.round(f * 1e6) / 1e4;
}

export interface Plan {
  n: number;
  autoN: number;
  passIfCorrect: number | null;
  off: { split: string; pass: number } | null;
  atAuto: VerifyResult['sizing']['atAutoN'];
  warning: string | null;
  /** false when the figures at N are normal-approximation bounds (very large N) */
  exact: boolean;
}

export function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

export function stageJson(stage: 1 | 2, r: VerifyResult): StageJson {
  return {
    stage,
    n: r.settings.n,
    counted: r.totals.counted,
    classified: r.totals.classified,
    verdict: r.verdict,
    reasons: r.reasons,
    counts: Object.fromEntries(r.buckets.map((b) => [b.name, b.observed])),
    chiSquare: r.chiSquare,
    durationS: r.run.durationS,
  };
}

type Decision = ReturnType<typeof decide>;
type Tally = LoadResult['tally'];

/** The statistics' verdict, overridden by ERROR when the target never answered (or stopped
 *  answering); a run stopped early says so first. */
function judgeRun(
  load: LoadResult,
  plan: Plan,
  v: Decision,
): { verdict: Verdict; reasons: string[]; error: string | null } {
  const t = load.tally;
  let verdict: Verdict = v.verdict;
  let reasons = v.reasons;
  let error: string | null = null;
  if (load.warmupFailure !== null) {
    verdict = 'ERROR';
    error =
      load.stoppedBy === 'signal'
        ? 'interrupted during warm-up, before the target gave a 2xx answer: nothing was counted'
        : `target never answered: ${load.warmupFailure}`;
    reasons = [error];
  } else if (t.completed > 0 && t.answered === 0) {
    verdict = 'ERROR';
    const kinds = [...t.errors.entries()].map(([k, c]) => `${c} ${k}`).join(', ');
    error =
      load.warmupSent > 0
        ? `target stopped answering: it answered the warm-up, then ` +
          `all ${fmtInt(t.completed)} counted requests failed (${kinds})`
        : `target never answered: all ${fmtInt(t.completed)} requests failed (${kinds})`;
    reasons = [error];
  }
  if (load.stoppedBy && verdict !== 'ERROR') {
    reasons = [
      load.stoppedBy === 'signal'
        ? `interrupted: stopped after ${fmtInt(t.completed)} ` +
          `of ${fmtInt(plan.n)} requests; the verdict covers what was counted`
        : `--max-time reached after ${fmtInt(t.completed)} ` +
          `of ${fmtInt(plan.n)} requests; the verdict covers what was counted`,
      ...reasons,
    ];
  }
  return { verdict, reasons, error };
}

/** The answers outside the buckets: unclassified, per HTTP status, per transport error. */
function otherRows(t: Tally): OtherRow[] {
  const other: OtherRow[] = [];
  const counted = t.completed;
  const share = (c: number) => (counted > 0 ? pctOf(c / counted) : 0);
  if (t.unclassified > 0) {
    other.push({
      kind: 'unclassified',
      label: 'unclassified',
      count: t.unclassified,
      pctOfCounted: share(t.unclassified),
      latencyMs: latencyJson(t.unclassifiedLatency),
    });
  }
  for (const [status, row] of [...t.statuses.entries()].sort((a, b) => a[0] - b[0])) {
    other.push({
      kind: 'http-status',
      label: `HTTP ${status}`,
      status,
      count: row.count,
      pctOfCounted: share(row.count),
      latencyMs: latencyJson(row.latency),
    });
  }
  for (const [kind, c] of [...t.errors.entries()].sort((a, b) => b[1] - a[1])) {
    other.push({ kind: 'transport-error', label: `error: ${kind}`, error: kind, count: c, pctOfCounted: share(c) });
  }
  return other;
}

/** The settings the run used (as given or chosen: N, connections, alpha, slack ...). */
function settingsJson(cfg: VerifyConfig, plan: Plan, v: Decision): VerifyResult['settings'] {
  return {
    n: plan.n,
    nAuto: cfg.n === 'auto',
    connections: cfg.connections,
    qps: cfg.qps,
    warmup: cfg.warmup,
    alpha: cfg.alpha,
    minEffectPts: r2(cfg.minEffect * 100),
    timeoutMs: cfg.timeoutMs,
    newConnectionPerRequest: cfg.newConnectionPerRequest,
    maxTimeS: cfg.maxTimeMs === null ? null : cfg.maxTimeMs / 1000,
    slack: v.slack ?? null,
  };
}

/** One row per bucket: expected and observed share, interval, deviation, latency. */
function bucketRows(cfg: VerifyConfig, v: Decision, t: Tally): BucketResult[] {
  return v.buckets.map((b, i) => ({
    name: b.name,
    weight: cfg.buckets[i].weight,
    pattern: cfg.buckets[i].pattern.toString(),
    expectedPct: pctOf(b.share),
    expectedCount: r2(b.expectedCount),
    observed: b.observed,
    observedPct: pctOf(b.observedShare),
    ci95Pct: [pctOf(b.ci95[0]), pctOf(b.ci95[1])],
    deviationPts: pctOf(b.deviation),
    ok: b.ok,
    latencyMs: latencyJson(t.latency[i]),
  }));
}

/** A load's tallies as the verifier's result: the statistics' decision, the verdict, and every row. */
export function buildResult(cfg: VerifyConfig, plan: Plan, load: LoadResult, startedAt: Date): VerifyResult {
  const t = load.tally;
  const counts = Array.from(t.counts);
  const unaccounted = t.unclassified + t.non2xx + t.transportErrors;
  const v = decide({
    names: cfg.buckets.map((b) => b.name),
    shares: cfg.buckets.map((b) => b.share),
    counts,
    unaccounted,
    alpha: cfg.alpha,
    minEffect: cfg.minEffect,
    mode: cfg.deterministic ? 'deterministic' : 'random',
    slack: cfg.slack ?? undefined,
  });
  const { verdict, reasons, error } = judgeRun(load, plan, v);
  const other = otherRows(t);
  const counted = t.completed;
  const durationS = load.durationMs / 1000;
  const headers: Record<string, string> = {};
  for (const [k, val] of cfg.headers) headers[k] = val;
  return {
    tool: 'meshbook verify traffic',
    schemaVersion: 1,
    verdict,
    exitCode: EXIT[verdict],
    reasons,
    error,
    target: {
      url: cfg.url.href,
      method: 'GET',
      headers,
      classifyBy: cfg.byHeader ? `header:${cfg.byHeader}` : 'body',
      maxBodyBytes: cfg.maxBodyBytes,
      envFile: cfg.envFile,
    },
    mode: cfg.deterministic ? 'deterministic' : 'random',
    settings: settingsJson(cfg, plan, v),
    sizing: {
      autoN: plan.autoN,
      passIfCorrectPct: plan.passIfCorrect === null ? null : pctOf(plan.passIfCorrect),
      offByMinEffect: plan.off ? { split: plan.off.split, passPct: pctOf(plan.off.pass) } : null,
      atAutoN: plan.atAuto,
      warning: plan.warning,
      exact: plan.exact,
    },
    buckets: bucketRows(cfg, v, t),
    other,
    totals: {
      sent: t.sent,
      counted,
      classified: v.classified,
      unclassified: t.unclassified,
      non2xx: t.non2xx,
      transportErrors: t.transportErrors,
      warmup: load.warmupSent,
      abandoned: load.abandoned,
      denominator: 'classified answers',
    },
    chiSquare: v.chiSquare
      ? { statistic: Math.round(v.chiSquare.statistic * 1e4) / 1e4, df: v.chiSquare.df, p: v.chiSquare.p }
      : null,
    run: {
      startedAt: startedAt.toISOString(),
      durationS: r3(durationS),
      reqPerSec: durationS > 0 ? Math.round(counted / durationS) : 0,
      connectionsUsed: load.connectionsOpened,
      interrupted: load.stoppedBy,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    },
    sequential: null,
  };
}

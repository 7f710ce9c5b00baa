// verifyTraffic: validate -> size the run -> warm up -> send -> verdict, as one JSON-able
// result. No printing to stdout and no process.exit here: the CLI (or a runbook) decides.

import cliProgress from 'cli-progress';
import { resolveConfig, type RawVerifyOptions, type VerifyConfig } from './args.ts';
import { runLoad, type LoadResult, type Tally } from './client.ts';
import type { LatencySummary, LogHistogram } from './histogram.ts';
import {
  autoN,
  autoNDeterministic,
  decide,
  detection,
  passProbabilityInfo,
  sequentialDesign,
  shiftedSplits,
  splitLabel,
  type Mode,
  type Verdict,
} from './stats.ts';

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

const EXIT: Record<Verdict, 0 | 1 | 2 | 3> = { PASS: 0, FAIL: 1, INCONCLUSIVE: 2, ERROR: 3 };
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const finite = (x: number) => (Number.isFinite(x) ? r3(x) : null);

function latencyJson(h: LogHistogram): LatencyJson {
  const s: LatencySummary = h.summary();
  return { count: s.count, p50: finite(s.p50), p90: finite(s.p90), p99: finite(s.p99), max: finite(s.max) };
}

function pctOf(f: number): number {
  return Math.round(f * 1e6) / 1e4;
}

interface Plan {
  n: number;
  autoN: number;
  passIfCorrect: number | null;
  off: { split: string; pass: number } | null;
  atAuto: VerifyResult['sizing']['atAutoN'];
  warning: string | null;
  /** false when the figures at N are normal-approximation bounds (very large N) */
  exact: boolean;
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

/** Size the run and, for an explicit N below auto, say what it can and cannot detect. */
export function planRun(cfg: VerifyConfig): Plan {
  const shares = cfg.buckets.map((b) => b.share);
  const names = cfg.buckets.map((b) => b.name);
  const weightsLabel = cfg.buckets.map((b) => b.weight).join('/');
  const m = cfg.minEffect;
  if (cfg.deterministic) {
    const auto = autoNDeterministic(cfg.buckets.map((b) => b.weight));
    const n = cfg.n === 'auto' ? auto : cfg.n;
    const warning =
      n < auto
        ? `warning: -n ${n} is below the ${fmtInt(auto)} requests -n auto sends for a ${weightsLabel} weighted round-robin ` +
          '(whole cycles): counts of a few requests per bucket can only catch gross errors'
        : null;
    return { n, autoN: auto, passIfCorrect: null, off: null, atAuto: null, warning, exact: true };
  }
  const sizing = autoN(shares, m);
  const atAuto = {
    passIfCorrectPct: pctOf(sizing.passProbability),
    offByMinEffect: sizing.alternative
      ? { split: sizing.alternative.label, passPct: pctOf(sizing.alternative.passProbability) }
      : null,
  };
  if (cfg.n === 'auto') {
    return {
      n: sizing.n,
      autoN: sizing.n,
      passIfCorrect: sizing.passProbability,
      off: sizing.alternative ? { split: sizing.alternative.label, pass: sizing.alternative.passProbability } : null,
      atAuto,
      warning: null,
      exact: true,
    };
  }
  const n = cfg.n;
  const own = passProbabilityInfo(shares, shares, n, m);
  const passIfCorrect = own.p;
  let exact = own.exact;
  let off: Plan['off'] = null;
  for (const alt of shiftedSplits(shares, m)) {
    const p = passProbabilityInfo(shares, alt, n, m);
    exact &&= p.exact;
    if (!off || p.p > off.pass) off = { split: splitLabel(alt), pass: p.p };
  }
  let warning: string | null = null;
  if (n < sizing.n) {
    const pts = `${r1(m * 100)} points`;
    const d = detection(names, shares, n, m, cfg.alpha);
    const parts = [
      `warning: -n ${fmtInt(n)} is below the ${fmtInt(sizing.n)} requests -n auto sends for ${weightsLabel} +- ${pts}.`,
      `At ${fmtInt(n)}, a correct split PASSes ${(passIfCorrect * 100).toFixed(1)} % of the time` +
        (passIfCorrect < 0.5 ? ' (expect INCONCLUSIVE)' : ''),
    ];
    if (d) {
      parts.push(
        `a split off by ${pts} (${d.atMinEffect}) is caught (FAIL) only ${Math.round(d.failAtMinEffect * 100)} % of the time`,
      );
      parts.push(
        d.shift80 !== null
          ? `it catches (80 %) shifts of about ${r1(d.shift80 * 100)} points or more (${d.direction}) and cannot reliably detect smaller ones`
          : `it cannot reliably detect any shift (${d.direction})`,
      );
    }
    warning = parts[0] + ' ' + parts.slice(1).join('; ') + '.';
  }
  return { n, autoN: sizing.n, passIfCorrect, off, atAuto, warning, exact };
}

function progressBar(cfg: VerifyConfig, n: number) {
  if (!process.stderr.isTTY) return null;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'verify {bar} {percentage}% | {value}/{total} | {rate} req/s | {shares} | not classified {other}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(n, 0, { rate: 0, shares: '', other: 0 });
  const t0 = performance.now();
  return {
    update(t: Tally) {
      const c = t.classified;
      const shares = cfg.buckets
        .map((b, i) => `${b.name} ${c ? ((t.counts[i] / c) * 100).toFixed(1) : '-'}%`)
        .join(' ');
      const secs = (performance.now() - t0) / 1000;
      bar.update(t.completed, {
        rate: secs > 0 ? Math.round(t.completed / secs) : 0,
        shares,
        other: t.completed - c,
      });
    },
    stop() {
      bar.stop();
    },
  };
}

/**
 * The programmatic API the runbooks call: verify a traffic split and return the verdict.
 * Throws VerifyArgError (with `.arg` naming the argument) for bad arguments; network trouble
 * is a result with verdict ERROR (exit code 3), never an exception.
 */
export async function verifyTraffic(opts: VerifyTrafficOptions = {}): Promise<VerifyResult> {
  const cfg = resolveConfig(opts);
  const warn = opts.warn ?? ((line: string) => void process.stderr.write(line + '\n'));
  const plan = planRun(cfg);
  if (plan.warning) warn(plan.warning);

  const { load, startedAt, shown } = await runStage(cfg, plan.n, { warmup: cfg.warmup, maxTimeMs: cfg.maxTimeMs, signal: opts.signal, progress: !!opts.progress });
  const result = buildResult(cfg, plan, load, startedAt);
  if (!cfg.extendOnce) return result;
  return extendOnce(cfg, plan, load, result, opts, shown);
}

/** One sample of n requests (with a progress bar when asked): the load and when it began. */
async function runStage(cfg: VerifyConfig, n: number, o: { warmup: number; maxTimeMs: number | null; signal?: AbortSignal; progress: boolean }) {
  const bar = o.progress ? progressBar(cfg, n) : null;
  const startedAt = new Date();
  try {
    const load = await runLoad({
      origin: cfg.origin,
      path: cfg.path,
      headers: cfg.headers,
      patterns: cfg.buckets.map((b) => b.pattern),
      matchOrder: cfg.matchOrder,
      byHeader: cfg.byHeader,
      maxBodyBytes: cfg.maxBodyBytes,
      n,
      connections: cfg.connections,
      qps: cfg.qps,
      timeoutMs: cfg.timeoutMs,
      newConnectionPerRequest: cfg.newConnectionPerRequest,
      warmup: o.warmup,
      maxTimeMs: o.maxTimeMs,
      signal: o.signal,
      onProgress: bar ? (t) => bar.update(t) : undefined,
      progressMs: 100,
    });
    return { load, startedAt, shown: bar !== null };
  } finally {
    bar?.stop();
  }
}

/**
 * `--extend-once`: after a (statistically) INCONCLUSIVE stage 1, one fresh run of
 * EXTEND_FACTOR * N decides on its own. See stats.ts (`sequentialDesign`) for the design.
 */
async function extendOnce(
  cfg: VerifyConfig,
  plan: Plan,
  load1: LoadResult,
  r1: VerifyResult,
  opts: VerifyTrafficOptions,
  progress: boolean,
): Promise<VerifyResult> {
  const design = cfg.deterministic ? null : sequentialDesign(cfg.buckets.map((b) => b.share), cfg.minEffect, cfg.alpha, plan.n);
  const seq: SequentialJson = {
    extendOnce: true,
    extended: false,
    decidedBy: 1,
    notExtended: null,
    stages: [stageJson(1, r1)],
    totalCounted: r1.totals.counted,
    design: design && {
      n1: design.n1,
      n2: design.n2,
      correctNotPassProb: design.correctNotPass,
      singleStageCorrectNotPassProb: design.singleStageCorrectNotPass,
      offByMinEffect: design.offByMinEffect && {
        split: design.offByMinEffect.split,
        passProb: design.offByMinEffect.pass,
        singleStagePassProb: design.offByMinEffect.singleStagePass,
        failProb: design.offByMinEffect.fail,
        singleStageFailProb: design.offByMinEffect.singleStageFail,
      },
      exact: design.exact,
      simulatedRuns: design.sims,
    },
  };
  if (r1.verdict !== 'INCONCLUSIVE') return { ...r1, sequential: seq };
  const t = load1.tally;
  const unaccounted = t.unclassified + t.non2xx + t.transportErrors;
  const elapsedMs = load1.durationMs;
  const leftMs = cfg.maxTimeMs === null ? null : cfg.maxTimeMs - elapsedMs;
  seq.notExtended = !design
    ? '--deterministic: counts are exact, a second sample would not change them'
    : load1.stoppedBy === 'signal' || opts.signal?.aborted
      ? 'interrupted: not extended'
      : load1.stoppedBy === 'max-time' || (leftMs !== null && leftMs <= 0)
        ? '--max-time reached in stage 1: not extended'
        : t.completed > 0 && unaccounted / t.completed > cfg.minEffect
          ? 'too many requests outside the buckets (unclassified, non-2xx, transport errors): more requests would not help'
          : r1.totals.classified === 0
            ? 'nothing was classified: more requests would not help'
            : null;
  if (seq.notExtended) return { ...r1, sequential: seq };

  const n2 = design!.n2;
  const plan2: Plan = { ...planRun({ ...cfg, n: n2 }), warning: null };
  const { load: load2, startedAt } = await runStage(cfg, n2, { warmup: 0, maxTimeMs: leftMs, signal: opts.signal, progress });
  const r2 = buildResult({ ...cfg, n: n2, warmup: 0 }, plan2, load2, startedAt);
  seq.extended = true;
  seq.decidedBy = 2;
  seq.stages.push(stageJson(2, r2));
  seq.totalCounted += r2.totals.counted;
  return {
    ...r2,
    reasons: [
      `stage 1 (${fmtInt(r1.totals.counted)} requests) was INCONCLUSIVE; --extend-once sent a fresh sample of ` +
        `${fmtInt(n2)} and this verdict is that sample's alone`,
      ...r2.reasons,
    ],
    // settings and sizing describe stage 2's N; the below-auto warning (if any) was about stage 1's
    sizing: { ...r2.sizing, warning: r1.sizing.warning },
    sequential: seq,
  };
}

function stageJson(stage: 1 | 2, r: VerifyResult): StageJson {
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
        ? `target stopped answering: it answered the warm-up, then all ${fmtInt(t.completed)} counted requests failed (${kinds})`
        : `target never answered: all ${fmtInt(t.completed)} requests failed (${kinds})`;
    reasons = [error];
  }
  if (load.stoppedBy && verdict !== 'ERROR') {
    reasons = [
      load.stoppedBy === 'signal'
        ? `interrupted: stopped after ${fmtInt(t.completed)} of ${fmtInt(plan.n)} requests; the verdict covers what was counted`
        : `--max-time reached after ${fmtInt(t.completed)} of ${fmtInt(plan.n)} requests; the verdict covers what was counted`,
      ...reasons,
    ];
  }

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
    settings: {
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
    },
    sizing: {
      autoN: plan.autoN,
      passIfCorrectPct: plan.passIfCorrect === null ? null : pctOf(plan.passIfCorrect),
      offByMinEffect: plan.off ? { split: plan.off.split, passPct: pctOf(plan.off.pass) } : null,
      atAutoN: plan.atAuto,
      warning: plan.warning,
      exact: plan.exact,
    },
    buckets: v.buckets.map((b, i) => ({
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
    })),
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

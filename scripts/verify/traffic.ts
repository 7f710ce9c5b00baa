// verifyTraffic: validate -> size the run -> warm up -> send -> verdict, as one JSON-able
// result. No printing to stdout and no process.exit here: the CLI (or a runbook) decides.

import cliProgress from 'cli-progress';
import {
  buildResult,
  fmtInt,
  pctOf,
  r1,
  stageJson,
  type Plan,
  type SequentialJson,
  type VerifyResult,
  type VerifyTrafficOptions,
} from './result.ts';
import { resolveConfig, type VerifyConfig } from './args.ts';
import { runLoad, type LoadResult, type Tally } from './client.ts';
import {
  autoN,
  autoNDeterministic,
  detection,
  passProbabilityInfo,
  sequentialDesign,
  shiftedSplits,
  splitLabel,
} from './stats.ts';

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
        ? `warning: -n ${n} is below the ${fmtInt(auto)} requests ` +
          `-n auto sends for a ${weightsLabel} weighted round-robin ` +
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
        `a split off by ${pts} (${d.atMinEffect}) is caught (FAIL) ` +
          `only ${Math.round(d.failAtMinEffect * 100)} % of the time`,
      );
      parts.push(
        d.shift80 !== null
          ? `it catches (80 %) shifts of about ${r1(d.shift80 * 100)} points ` +
              `or more (${d.direction}) and cannot reliably detect smaller ones`
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

  const { load, startedAt, shown } = await runStage(cfg, plan.n, {
    warmup: cfg.warmup,
    maxTimeMs: cfg.maxTimeMs,
    signal: opts.signal,
    progress: !!opts.progress,
  });
  const result = buildResult(cfg, plan, load, startedAt);
  if (!cfg.extendOnce) return result;
  return extendOnce(cfg, plan, load, result, opts, shown);
}

/** One sample of n requests (with a progress bar when asked): the load and when it began. */
async function runStage(
  cfg: VerifyConfig,
  n: number,
  o: { warmup: number; maxTimeMs: number | null; signal?: AbortSignal; progress: boolean },
) {
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

type Design = ReturnType<typeof sequentialDesign>;

/** The two-stage design as the result's JSON shows it (null with --deterministic). */
function designJson(design: Design | null): SequentialJson['design'] {
  return (
    design && {
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
    }
  );
}

/** Why an INCONCLUSIVE stage 1 is not followed by a second sample, or null when it is. */
function whyNotExtended(
  cfg: VerifyConfig,
  design: Design | null,
  load1: LoadResult,
  r1: VerifyResult,
  opts: VerifyTrafficOptions,
  leftMs: number | null,
): string | null {
  const t = load1.tally;
  const unaccounted = t.unclassified + t.non2xx + t.transportErrors;
  return !design
    ? '--deterministic: counts are exact, a second sample would not change them'
    : load1.stoppedBy === 'signal' || opts.signal?.aborted
      ? 'interrupted: not extended'
      : load1.stoppedBy === 'max-time' || (leftMs !== null && leftMs <= 0)
        ? '--max-time reached in stage 1: not extended'
        : t.completed > 0 && unaccounted / t.completed > cfg.minEffect
          ? 'too many requests outside the buckets (unclassified, ' +
            'non-2xx, transport errors): more requests would not help'
          : r1.totals.classified === 0
            ? 'nothing was classified: more requests would not help'
            : null;
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
  const design = cfg.deterministic
    ? null
    : sequentialDesign(
        cfg.buckets.map((b) => b.share),
        cfg.minEffect,
        cfg.alpha,
        plan.n,
      );
  const seq: SequentialJson = {
    extendOnce: true,
    extended: false,
    decidedBy: 1,
    notExtended: null,
    stages: [stageJson(1, r1)],
    totalCounted: r1.totals.counted,
    design: designJson(design),
  };
  if (r1.verdict !== 'INCONCLUSIVE') return { ...r1, sequential: seq };
  const elapsedMs = load1.durationMs;
  const leftMs = cfg.maxTimeMs === null ? null : cfg.maxTimeMs - elapsedMs;
  seq.notExtended = whyNotExtended(cfg, design, load1, r1, opts, leftMs);
  if (seq.notExtended) return { ...r1, sequential: seq };

  const n2 = design!.n2;
  const plan2: Plan = { ...planRun({ ...cfg, n: n2 }), warning: null };
  const { load: load2, startedAt } = await runStage(cfg, n2, {
    warmup: 0,
    maxTimeMs: leftMs,
    signal: opts.signal,
    progress,
  });
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

export { buildResult } from './result.ts';
export type {
  BucketResult,
  LatencyJson,
  OtherRow,
  SequentialJson,
  StageJson,
  VerifyResult,
  VerifyTrafficOptions,
} from './result.ts';

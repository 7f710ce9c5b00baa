// `meshbook canary`: move hello2's traffic to one version in steps, each gated on what the
// traffic says, and roll back by itself.
//
//   each step  apply hello2-vs with the step's weights (virtual-service.ts), wait until the
//              data plane has them (data-plane.ts), measure and decide (gate.ts)
//   PASS       next step; after the last (100 %) the version is promoted: exit 0
//   FAIL       roll back to the last step that passed, confirm, verify; if that does not
//              verify either (the canary broke since), to the starting weights: exit 1
//   INCONCLUSIVE (twice)  hold the step as applied: exit 2, --resume or --rollback
//   Ctrl-C     the weights stay as applied and confirmed; the journal says where: exit 130
//
// Every change is journalled (state.ts) before the next one starts.
import type { ClusterProvider } from '../engine/types.ts';
import type { VerifyResult } from '../verify/cli.ts';
import { processStart } from '../engine/lock.ts';
import type { Untyped } from '../engine/untyped.ts';
import type { Version, Weights } from '../traffic-shift/common.ts';
import { confirmWeights, type DataPlane } from './data-plane.ts';
import { runGate, type GateLimits, type GateRun } from './gate.ts';
import { readState, saveState, unfinished, type CanaryState, type Entry } from './state.ts';
import { CanaryError, applyWeights, readVs, weightsOfVs } from './virtual-service.ts';
import { sameWeights, showWeights, stepWeights } from './weights.ts';
import { ns } from '../traffic-shift/common.ts';

export interface CanaryDeps {
  cluster: ClusterProvider;
  dataPlane: DataPlane;
  signal: AbortSignal;
  /** one live line (progress) */
  say: (line: string) => void;
  /** how long the data plane gets to show applied weights */
  confirmDeadlineMs: number;
  /** each timeline entry as it is made, with the verifier's results behind it (the run ledger) */
  onEntry?: (e: Entry, results: VerifyResult[]) => void;
}

export interface CanaryRequest {
  mode: 'start' | 'resume' | 'rollback';
  envFile: string;
  env: Record<string, string>;
  to?: Version;
  steps: number[];
  limits: GateLimits;
}

export type Result = 'promoted' | 'rolled-back' | 'held' | 'interrupted' | 'restored' | 'unchanged';
export const EXIT: Record<Result, number> = {
  promoted: 0,
  restored: 0,
  unchanged: 0,
  'rolled-back': 1,
  held: 2,
  interrupted: 130,
};

export interface CanaryReport {
  result: Result;
  exitCode: number;
  message: string;
  state: CanaryState;
}

interface Ctx {
  req: CanaryRequest;
  deps: CanaryDeps;
  st: CanaryState;
}

const now = () => new Date().toISOString();

/** Apply weights and wait for the data plane; journalled before and after the apply. */
async function moveTo(c: Ctx, w: Weights): Promise<{ ok: boolean; confirmMs: number; problem?: string }> {
  const live = await readVs(c.deps.cluster, c.req.env);
  c.st.pending = w;
  saveState(c.st);
  await applyWeights(c.deps.cluster, c.req.env, live, w);
  c.st.applied = w;
  c.st.confirmed = false;
  delete c.st.pending;
  saveState(c.st);
  const conf = await confirmWeights(c.deps.dataPlane, w, c.deps.confirmDeadlineMs, c.deps.signal);
  c.st.confirmed = conf.ok;
  saveState(c.st);
  return { ok: conf.ok, confirmMs: conf.afterMs, problem: conf.problem };
}

/** Move to `w`, then gate it: one timeline entry. */
async function tryWeights(
  c: Ctx,
  label: string,
  w: Weights,
  index?: number,
  checks: GateRun['checks'] = 'all',
): Promise<Entry> {
  const t0 = Date.now();
  const startedAt = now();
  const at = { label, ...(index !== undefined ? { index } : {}), weights: w, startedAt };
  if (c.deps.signal.aborted)
    return record(c, { ...at, outcome: 'INTERRUPTED', reason: 'interrupted before applying', durationMs: 0 });
  c.deps.say(`${label}: ${showWeights(w)}: applying`);
  let moved: Awaited<ReturnType<typeof moveTo>>;
  try {
    moved = await moveTo(c, w);
  } catch (e) {
    if (!(e instanceof CanaryError)) throw e;
    return record(c, { ...at, outcome: 'ERROR', gate: 'apply', reason: e.message, durationMs: Date.now() - t0 });
  }
  const base = { ...at, confirmMs: moved.confirmMs };
  if (!moved.ok && c.deps.signal.aborted)
    return record(c, { ...base, outcome: 'INTERRUPTED', reason: 'interrupted while confirming', durationMs: 0 });
  if (!moved.ok) {
    const e: Entry = {
      ...base,
      outcome: 'CONFIRM-FAILED',
      gate: 'data-plane',
      reason: moved.problem ?? 'the data plane did not take the weights',
      durationMs: Date.now() - t0,
    };
    return record(c, e);
  }
  c.deps.say(
    `${label}: data plane confirmed in ${(moved.confirmMs / 1000).toFixed(1)} s; measuring` +
      (c.req.limits.bakeS ? ` for ${c.req.limits.bakeS} s` : ''),
  );
  const g = await runGate({
    env: c.req.env,
    weights: w,
    to: c.st.to,
    limits: c.req.limits,
    signal: c.deps.signal,
    checks,
  });
  return record(
    c,
    {
      ...base,
      outcome: g.outcome,
      ...(g.gate ? { gate: g.gate } : {}),
      reason: g.reason,
      figures: g.figures,
      durationMs: Date.now() - t0,
    },
    g.results,
  );
}

function record(c: Ctx, e: Entry, results: VerifyResult[] = []): Entry {
  c.st.timeline.push(e);
  saveState(c.st);
  c.deps.onEntry?.(e, results);
  c.deps.say(`${e.label}: ${e.outcome}${e.gate && e.outcome !== 'PASS' ? ` (${e.gate})` : ''}: ${e.reason}`);
  return e;
}

const STATUS: Partial<Record<Result, CanaryState['status']>> = {
  promoted: 'promoted',
  'rolled-back': 'rolled-back',
  restored: 'rolled-back',
  held: 'held',
  interrupted: 'interrupted',
};

/** The report; the journal says how it ended (`unchanged` leaves the journal as it was). */
function finish(c: Ctx, result: Result, message: string): CanaryReport {
  const status = STATUS[result];
  if (status) {
    c.st.status = status;
    saveState(c.st);
  }
  return { result, exitCode: EXIT[result], message, state: c.st };
}

/** After a failed step: the last step that passed, else (or when that fails too) the start. */
async function rollBack(c: Ctx, failed: Entry): Promise<CanaryReport> {
  const targets: Array<[string, Weights]> = [];
  const last = c.st.passed >= 0 ? stepWeights(c.st.start, c.st.to, c.st.steps[c.st.passed]) : undefined;
  if (last && !sameWeights(last, c.st.start)) targets.push([`rollback to step ${c.st.passed + 1}`, last]);
  targets.push(['rollback to start', c.st.start]);
  const why = `${failed.label} failed on ${failed.gate ?? failed.outcome}: ${failed.reason}`;
  c.st.rollingBack = why;
  for (const [label, w] of targets) {
    // a step that passed must still keep to the limits (not to the ratio: it was the canary's
    // share that failed); the starting weights are the last resort: the verifier decides
    const e = await tryWeights(c, label, w, undefined, sameWeights(w, c.st.start) ? 'verifier' : 'no-ratio');
    if (e.outcome === 'INTERRUPTED' || c.deps.signal.aborted)
      return finish(
        c,
        'interrupted',
        `${why}; interrupted while rolling back, at ${showWeights(c.st.applied)}: --rollback restores the start`,
      );
    if (e.outcome === 'PASS')
      return finish(c, 'rolled-back', `${why}; rolled back to ${showWeights(w)}, confirmed and verified (PASS)`);
  }
  return finish(
    c,
    'rolled-back',
    `${why}; rolled back to ${showWeights(c.st.applied)}, but those weights did not verify either: ` +
      'the mesh has a problem beyond the canary (see the timeline)',
  );
}

/** Steps from `from` on; a FAIL rolls back, INCONCLUSIVE holds, Ctrl-C interrupts. */
async function runSteps(c: Ctx, from: number): Promise<CanaryReport> {
  const n = c.st.steps.length;
  for (let i = from; i < n; i++) {
    const w = stepWeights(c.st.start, c.st.to, c.st.steps[i]);
    const e = await tryWeights(c, `step ${i + 1}/${n} (${c.st.to} ${c.st.steps[i]} %)`, w, i);
    if (e.outcome === 'INTERRUPTED' || c.deps.signal.aborted)
      return finish(c, 'interrupted', `interrupted at ${e.label}; the weights stay at ${showWeights(c.st.applied)}`);
    if (e.outcome === 'INCONCLUSIVE') return finish(c, 'held', `held at ${e.label} (${showWeights(w)}): ${e.reason}`);
    if (e.outcome !== 'PASS') return rollBack(c, e);
    c.st.passed = i;
    saveState(c.st);
  }
  if (!sameWeights(c.st.applied, stepWeights(c.st.start, c.st.to, 100)))
    throw new CanaryError(`no step left, but hello2-vs is at ${showWeights(c.st.applied)}, not ${c.st.to} at 100 %`);
  return finish(c, 'promoted', `${c.st.to} promoted: ${showWeights(c.st.applied)}, every step passed`);
}

/** The live weights, checked against the data plane before anything changes. */
async function liveWeights(req: CanaryRequest, deps: CanaryDeps): Promise<{ vs: Untyped; weights: Weights }> {
  const vs = await readVs(deps.cluster, req.env);
  const weights = weightsOfVs(vs, ns(req.env));
  const conf = await confirmWeights(deps.dataPlane, weights, deps.confirmDeadlineMs, deps.signal);
  if (!conf.ok)
    throw new CanaryError(
      `hello2-vs has ${showWeights(weights)} but ${conf.problem}: the data plane is not in sync ` +
        'with the cluster; nothing was changed',
    );
  return { vs, weights };
}

function newState(req: CanaryRequest, start: Weights, steps: number[]): CanaryState {
  return {
    version: 1,
    envFile: req.envFile,
    to: req.to!,
    steps,
    start,
    startedAt: now(),
    status: 'running',
    pid: process.pid,
    pidStart: processStart(process.pid) ?? '',
    passed: -1,
    applied: start,
    confirmed: true,
    timeline: [],
    updatedAt: now(),
  };
}

/** Start a canary toward req.to. */
async function start(req: CanaryRequest, deps: CanaryDeps): Promise<CanaryReport> {
  const old = readState(req.envFile);
  if (unfinished(old))
    throw new CanaryError(
      `a canary toward ${old!.to} with this env file is ${old!.status} (weights ${showWeights(old!.applied)}); ` +
        'continue it with --resume or undo it with --rollback',
    );
  const { weights } = await liveWeights(req, deps);
  const steps = req.steps.filter((s) => s > weights[req.to!]);
  const st = newState(req, weights, steps);
  const c: Ctx = { req, deps, st };
  if (!steps.length) return finish(c, 'unchanged', `${req.to} has ${weights[req.to!]} % already; nothing to do`);
  if (steps.length < req.steps.length)
    deps.say(`${req.to} has ${weights[req.to!]} % already: steps ${steps.join(', ')} remain`);
  saveState(st);
  return runSteps(c, 0);
}

/** Continue a held or interrupted canary from the step after the last that passed. */
async function resume(req: CanaryRequest, deps: CanaryDeps): Promise<CanaryReport> {
  const st = readState(req.envFile);
  if (!st || !unfinished(st))
    throw new CanaryError(`no canary to resume with this env file${st ? ` (the last one was ${st.status})` : ''}`);
  if (st.rollingBack)
    throw new CanaryError(
      `the canary was rolling back when it stopped (${st.rollingBack}); --rollback restores the starting weights`,
    );
  const live = weightsOfVs(await readVs(deps.cluster, req.env), ns(req.env));
  const lastPassed = st.passed >= 0 ? stepWeights(st.start, st.to, st.steps[st.passed]) : st.start;
  const known = [st.applied, lastPassed, ...(st.pending ? [st.pending] : [])];
  if (!known.some((w) => sameWeights(live, w)))
    throw new CanaryError(
      `hello2-vs has ${showWeights(live)}, not the canary's ${showWeights(st.applied)}: ` +
        'someone changed the weights since; --rollback restores the starting weights',
    );
  Object.assign(st, { status: 'running', pid: process.pid, pidStart: processStart(process.pid) ?? '' });
  saveState(st);
  deps.say(`resuming the canary toward ${st.to} at step ${st.passed + 2}/${st.steps.length}`);
  return runSteps({ req: { ...req, to: st.to }, deps, st }, st.passed + 1);
}

/** Restore the weights the last canary started from, confirm and verify them. */
async function restore(req: CanaryRequest, deps: CanaryDeps): Promise<CanaryReport> {
  const st = readState(req.envFile);
  if (!st) throw new CanaryError('no canary has run with this env file: nothing to roll back');
  // from here on the canary is being undone: a stop leaves it unfinished, and --resume refuses it
  Object.assign(st, {
    status: 'running',
    pid: process.pid,
    pidStart: processStart(process.pid) ?? '',
    rollingBack: 'restoring the starting weights (--rollback)',
  });
  saveState(st);
  const c: Ctx = { req: { ...req, to: st.to }, deps, st };
  const e = await tryWeights(c, 'restore', st.start, undefined, 'verifier');
  if (e.outcome === 'PASS')
    return finish(c, 'restored', `restored the starting weights ${showWeights(st.start)}, confirmed and verified`);
  if (e.outcome === 'INTERRUPTED')
    return finish(c, 'interrupted', `interrupted while restoring ${showWeights(st.start)}; --rollback again`);
  const applied = e.outcome !== 'ERROR' && e.outcome !== 'CONFIRM-FAILED';
  c.st.status = applied ? 'rolled-back' : 'interrupted'; // not applied and confirmed: still to be undone
  saveState(c.st);
  return {
    result: 'rolled-back',
    exitCode: 1,
    message: applied
      ? `applied the starting weights ${showWeights(st.start)}, but ${e.reason}`
      : `the restore did not complete: ${e.reason}; run --rollback again`,
    state: st,
  };
}

export function runCanary(req: CanaryRequest, deps: CanaryDeps): Promise<CanaryReport> {
  return req.mode === 'resume' ? resume(req, deps) : req.mode === 'rollback' ? restore(req, deps) : start(req, deps);
}

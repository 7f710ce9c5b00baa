// The canary in the run ledger (scripts/ledger/): one `canary-step` event per timeline entry
// (the report draws the weights per step with each verdict), and the verifier's results behind
// it as `verify-result` events, in full. The journal (state.ts) is what --resume reads; the
// ledger is the record of what ran.
import type { Inventory } from '../engine/inventory.ts';
import type { CanaryStepEvent, RunLedger } from '../ledger/ledger.ts';
import type { VerifyResult } from '../verify/cli.ts';
import type { Entry } from './state.ts';

const round = (x: number | null | undefined, digits: number) =>
  x === null || x === undefined ? undefined : Number(x.toFixed(digits));

/** A timeline entry as the ledger's canary-step event (rollbacks that verified: ROLLBACK). */
export function stepEvent(index: number, e: Entry): CanaryStepEvent & Record<string, unknown> {
  const back = /^(rollback|restore)/.test(e.label);
  const f = e.figures;
  return {
    index,
    label: e.label,
    weights: e.weights,
    verdict: back && e.outcome === 'PASS' ? 'ROLLBACK' : e.outcome,
    ...(e.gate ? { gate: e.gate } : {}),
    reason: e.reason,
    n: f?.n,
    p: round(f?.p, 4),
    errorsPct: round(f?.errorsPct, 2),
    canaryP99Ms: round(f?.canaryP99Ms, 1),
    baselineP99Ms: round(f?.baselineP99Ms, 1),
    confirmMs: e.confirmMs,
    durationMs: e.durationMs,
  };
}

/** Open the canary's run record; returns the ledger and the hook for runCanary. */
export async function canaryRecord(o: { envFile: string; inventory: Inventory; runsDir?: string }) {
  const { openRun } = await import('../ledger/ledger.ts');
  const ledger: RunLedger = openRun({ command: 'canary', ...o }, (l) => console.error(l));
  let index = 0;
  const onEntry = (e: Entry, results: VerifyResult[]) => {
    for (const result of results) ledger.event('verify-result', { step: e.label, host: 'cluster', result });
    ledger.event('canary-step', stepEvent(++index, e));
  };
  return { ledger, onEntry };
}

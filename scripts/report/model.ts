// A run's ledger events as the report shows them: the run (start, end, result), its steps in
// order, its hosts, one cell per step x host (status, when, how long, what was sent and what
// came back), the verifier's results and a canary's steps.
import type { LedgerEvent, RunSummary } from '../ledger/read.ts';
import type { Sent } from '../ledger/capture.ts';
import type { CanaryStepEvent } from '../ledger/ledger.ts';

export interface Cell {
  status: string;
  ms?: number;
  startedAt?: string;
  endedAt: string;
  error?: string;
  lines?: string[];
  tail?: string;
  sent?: Sent[];
  facts?: Record<string, unknown>;
}

export interface StepInfo {
  id: string;
  title: string;
  article: string;
  notes: string[];
  target?: string;
}

export type CanaryStep = CanaryStepEvent & { t: string };

export interface RunModel {
  summary: RunSummary;
  start: LedgerEvent;
  end?: LedgerEvent;
  steps: StepInfo[];
  hosts: string[];
  cells: Map<string, Cell>; // key: step \0 host
  verify: { step?: string; host?: string; result: VerifyLike }[];
  canary: CanaryStep[];
}

/** The parts of the verifier's result the report draws (scripts/verify/result.ts VerifyResult). */
export interface VerifyLike {
  verdict?: string;
  reasons?: string[];
  target?: { url?: string };
  buckets?: {
    name: string;
    expectedPct: number;
    observed: number;
    observedPct: number;
    ci95Pct: [number, number];
    latencyMs?: { p50: number | null; p90: number | null; p99: number | null; max: number | null };
  }[];
  totals?: { counted?: number };
  chiSquare?: { statistic: number; df: number; p: number } | null;
  run?: { durationS?: number; reqPerSec?: number };
}

export const cellKey = (step: string, host: string) => `${step}\0${host}`;

/** The report's view of one run. */
export function runModel(summary: RunSummary, events: LedgerEvent[]): RunModel {
  const steps = new Map<string, StepInfo>();
  const hosts: string[] = [];
  const seen = new Set<string>();
  const cells = new Map<string, Cell>();
  const addHost = (h: string) => {
    if (seen.has(h)) return;
    seen.add(h);
    hosts.push(h);
  };
  const stepOf = (id: string) => {
    if (!steps.has(id)) steps.set(id, { id, title: id, article: '', notes: [] });
    return steps.get(id)!;
  };
  const start = events.find((e) => e.type === 'run-start') ?? { t: summary.when, type: 'run-start' };
  const inv = (start.inventory as { vms?: { name: string }[] } | undefined)?.vms ?? [];
  const verify: RunModel['verify'] = [];
  const canary: CanaryStep[] = [];
  for (const e of events) {
    if (e.type === 'step') {
      Object.assign(stepOf(String(e.step)), {
        title: String(e.title ?? e.step),
        article: String(e.article ?? ''),
        notes: (e.notes as string[]) ?? [],
        target: e.target as string | undefined,
      });
    } else if (e.type === 'step-end') {
      const step = String(e.step);
      const host = String(e.host);
      stepOf(step);
      addHost(host);
      const { t, type: _type, step: _s, host: _h, ...rest } = e;
      cells.set(cellKey(step, host), { ...(rest as Omit<Cell, 'endedAt'>), endedAt: t });
    } else if (e.type === 'verify-result') {
      verify.push({ step: e.step as string, host: e.host as string, result: e.result as VerifyLike });
    } else if (e.type === 'canary-step') {
      canary.push(e as unknown as CanaryStep);
    }
  }
  // the cluster first, then the VMs in inventory order, then anything else
  const order = ['cluster', ...inv.map((v) => v.name)];
  const rank = (h: string) => (order.includes(h) ? order.indexOf(h) : order.length);
  hosts.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
  const end = [...events].reverse().find((e) => e.type === 'run-end');
  return { summary, start, end, steps: [...steps.values()], hosts, cells, verify, canary };
}

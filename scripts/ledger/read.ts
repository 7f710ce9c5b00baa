// Reading run ledgers back: a run's events (a line cut short is left out, never fatal), a
// summary per run for `meshbook runs`, and which file `meshbook report RUN|latest` means.
import fs from 'node:fs';
import path from 'node:path';
import { processStart } from '../engine/lock.ts';

export interface LedgerEvent {
  t: string;
  type: string;
  [k: string]: unknown;
}

export interface RunSummary {
  id: string;
  file: string;
  when: string;
  command: string;
  argv: string[];
  result: 'ok' | 'failed' | 'interrupted' | 'ended abnormally' | 'running';
  code: number | null;
  durationMs: number | null;
  hosts: number;
  failedSteps: string[];
  verdict?: string;
}

/** Every complete event of a ledger file (lines that do not parse are skipped and counted). */
export function readEvents(file: string): { events: LedgerEvent[]; bad: number } {
  const events: LedgerEvent[] = [];
  let bad = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LedgerEvent;
      if (e && typeof e.type === 'string') events.push(e);
      else bad++;
    } catch {
      bad++;
    }
  }
  return { events, bad };
}

/** The last event that matches. */
const lastOf = (events: LedgerEvent[], f: (e: LedgerEvent) => boolean) => [...events].reverse().find(f);

/** A run's summary from its events. */
export function summarize(file: string, events: LedgerEvent[]): RunSummary {
  const start = events.find((e) => e.type === 'run-start') ?? ({ t: '', type: 'run-start' } as LedgerEvent);
  const end = lastOf(events, (e) => e.type === 'run-end');
  const ends = events.filter((e) => e.type === 'step-end');
  const failedSteps = [...new Set(ends.filter((e) => e.status === 'failed').map((e) => String(e.step)))];
  const inv = start.inventory as { vms?: unknown[] } | undefined;
  const hosts = new Set(ends.map((e) => String(e.host)));
  const verdict = lastOf(events, (e) => e.type === 'verify-result')?.result as { verdict?: string } | undefined;
  const canary = lastOf(events, (e) => e.type === 'canary-step') as { verdict?: string } | undefined;
  const code = typeof end?.code === 'number' ? end.code : null;
  const alive = !end && typeof start.pid === 'number' && processStart(start.pid) === start.pidStart;
  const result: RunSummary['result'] = !end
    ? alive
      ? 'running'
      : 'ended abnormally'
    : end.abnormal
      ? 'ended abnormally'
      : code === 0
        ? 'ok'
        : code === 130 || code === 143
          ? 'interrupted'
          : 'failed';
  const last = end ?? events[events.length - 1];
  return {
    id: String(start.id ?? path.basename(file, '.jsonl')),
    file,
    when: start.t,
    command: String(start.command ?? '?'),
    argv: (start.argv as string[]) ?? [],
    result,
    code,
    durationMs:
      typeof end?.ms === 'number' ? end.ms : last && start.t ? Date.parse(last.t) - Date.parse(start.t) : null,
    hosts: Math.max(hosts.size, inv?.vms?.length ?? 0),
    failedSteps,
    // a canary's verdict is its outcome (promoted, rolled-back, held...): its last verifier result
    // may be a rollback's PASS
    verdict:
      start.command === 'canary'
        ? typeof end?.result === 'string'
          ? end.result
          : canary?.verdict
        : (verdict?.verdict ?? canary?.verdict),
  };
}

/** The ledger files in `dir`, oldest first (names start with the start time). */
export function runFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every run in `dir`, oldest first. */
export function listRuns(dir: string): RunSummary[] {
  return runFiles(dir).map((f) => summarize(f, readEvents(f).events));
}

/** The ledger file `ref` names: `latest`, a run id (or a unique prefix), or a path. */
export function resolveRun(dir: string, ref = 'latest'): string | undefined {
  if (ref.endsWith('.jsonl') && fs.existsSync(ref)) return path.resolve(ref);
  const files = runFiles(dir);
  if (ref === 'latest') return files[files.length - 1];
  const hits = files.filter((f) => path.basename(f).startsWith(ref));
  return hits.length === 1 ? hits[0] : hits.find((f) => path.basename(f, '.jsonl') === ref);
}

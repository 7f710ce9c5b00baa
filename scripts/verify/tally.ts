// What one run of the load loop learns, in fixed size: counters per bucket and status,
// log-bucketed latency histograms (memory does not grow with N), and the run's outcome.
import { LogHistogram } from './histogram.ts';

export interface StatusRow {
  count: number;
  latency: LogHistogram;
}

const MAX_ERROR_KINDS = 16;

/** Fixed-size counters for one run. */
export class Tally {
  readonly counts: Float64Array;
  readonly latency: LogHistogram[];
  unclassified = 0;
  readonly unclassifiedLatency = new LogHistogram();
  /** Non-2xx answers by status code (at most ~500 distinct codes exist). */
  readonly statuses = new Map<number, StatusRow>();
  /** Transport errors by kind (bounded: extra kinds fold into "other"). */
  readonly errors = new Map<string, number>();
  transportErrors = 0;
  /** Counted requests finished (answers + transport errors). */
  completed = 0;
  /** Requests sent in the counted phase. */
  sent = 0;

  constructor(readonly buckets: number) {
    this.counts = new Float64Array(buckets);
    this.latency = Array.from({ length: buckets }, () => new LogHistogram());
  }

  get classified(): number {
    let s = 0;
    for (let i = 0; i < this.counts.length; i++) s += this.counts[i];
    return s;
  }

  get non2xx(): number {
    let s = 0;
    for (const r of this.statuses.values()) s += r.count;
    return s;
  }

  /** Anything that answered with HTTP at all. */
  get answered(): number {
    return this.completed - this.transportErrors;
  }

  recordError(kind: string): void {
    this.transportErrors++;
    this.completed++;
    const key = this.errors.has(kind) || this.errors.size < MAX_ERROR_KINDS ? kind : 'other';
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
}

export interface LoadResult {
  tally: Tally;
  /** From the first counted request to the last answer. */
  durationMs: number;
  /** TCP connections opened over the whole run (warm-up included). */
  connectionsOpened: number;
  warmupSent: number;
  /** Warm-up outcome: null when it reached a 2xx (or was off), else what the target said last. */
  warmupFailure: string | null;
  /** Why sending stopped before N: Ctrl-C / abort signal, or --max-time. */
  stoppedBy: 'signal' | 'max-time' | null;
  /** In-flight requests given up on when stopping (not counted). */
  abandoned: number;
}

/** Short name for a transport error. */
export function errorKind(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string };
  switch (e?.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'timeout';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_SOCKET':
      return 'socket closed';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'DNS lookup failed';
    default:
      return e?.code ?? e?.name ?? 'error';
  }
}

// What the load loop is asked to send (LoadPlan), and the one request every send repeats.
import type { Tally } from './tally.ts';

export interface LoadPlan {
  origin: string;
  path: string;
  headers: readonly [string, string][];
  /** Bucket patterns (index = bucket). */
  patterns: readonly RegExp[];
  /** Bucket indexes in the order the patterns are tried: the first match wins. Default: 0..k-1. */
  matchOrder?: readonly number[];
  /** Classify on this (lower-case) response header instead of the body. */
  byHeader: string | null;
  maxBodyBytes: number;
  /** Counted requests to send. */
  n: number;
  connections: number;
  /** Total requests per second over all connections (null = as fast as answers come). */
  qps: number | null;
  timeoutMs: number;
  newConnectionPerRequest: boolean;
  /** Uncounted requests after the first 2xx (0 = no warm-up at all). */
  warmup: number;
  maxTimeMs: number | null;
  signal?: AbortSignal;
  /** Called about every `progressMs` while requests run, and once at the end. */
  onProgress?: (tally: Tally) => void;
  progressMs?: number;
}

export type Abort = (err?: Error) => void;

/** The request every send repeats: one shared, frozen dispatch-options object (a user-agent unless given). */
export function requestOptions(plan: LoadPlan) {
  const headers: string[] = [];
  let ua = false;
  for (const [name, value] of plan.headers) {
    headers.push(name, value);
    if (name.toLowerCase() === 'user-agent') ua = true;
  }
  if (!ua) headers.push('user-agent', 'meshbook-verify');
  return Object.freeze({
    path: plan.path,
    method: 'GET' as const,
    headers,
    headersTimeout: plan.timeoutMs,
    bodyTimeout: plan.timeoutMs,
    reset: plan.newConnectionPerRequest,
  });
}

// The warm-up before the counted requests: one request at a time until the first 2xx
// answer (with back-off, bounded in tries and time), then the rest spread over the
// connections, which opens them. Not counted; a throwaway handler per request.
import type { Pool } from 'undici';
import { errorKind } from './tally.ts';
import { requestOptions, type Abort, type LoadPlan } from './load-plan.ts';

interface OneResult {
  status: number;
  error: string | null;
}

/** One request with a throwaway handler (warm-up only). */
function once(pool: Pool, opts: ReturnType<typeof requestOptions>, signal?: AbortSignal): Promise<OneResult> {
  return new Promise((resolve) => {
    let status = 0;
    let done = false;
    let abortFn: Abort | null = null;
    const onAbort = () => abortFn?.(new Error('stopped'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (r: OneResult) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    pool.dispatch(opts, {
      onConnect(abort: Abort) {
        abortFn = abort;
        if (signal?.aborted) abort(new Error('stopped'));
      },
      onHeaders(s: number) {
        status = s;
        return true;
      },
      onData() {
        return true;
      },
      onComplete() {
        finish({ status, error: null });
      },
      onError(err: Error) {
        finish({ status: 0, error: errorKind(err) });
      },
    });
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Warm-up tries: up to this many requests, one at a time, until the first 2xx answer... */
export const WARMUP_ATTEMPTS = 20;
/** ...for at most this long (plus one request's timeout), and never past --max-time. */
export const WARMUP_WAIT_MS = 10_000;

/** Warm up: the requests sent, and why the target is not ready (null when it answered 2xx). */
export async function warmUp(
  plan: LoadPlan,
  pool: Pool,
  deadline: number,
): Promise<{ sent: number; failure: string | null }> {
  const opts = requestOptions(plan);
  const signal = plan.signal;
  let sent = 0;
  let last = '';
  const until = Math.min(deadline, performance.now() + WARMUP_WAIT_MS);
  let ok = false;
  for (let attempt = 0; attempt < WARMUP_ATTEMPTS && !signal?.aborted; attempt++) {
    const r = await once(pool, opts, signal);
    sent++;
    if (r.status >= 200 && r.status < 300) {
      ok = true;
      break;
    }
    last = r.error ?? `HTTP ${r.status}`;
    const now = performance.now();
    if (now >= until) break;
    await sleep(Math.min(1000, 100 * 2 ** attempt, until - now), signal);
  }
  if (signal?.aborted) return { sent, failure: 'interrupted during warm-up' };
  if (!ok) return { sent, failure: `no 2xx answer in ${sent} warm-up request${sent === 1 ? '' : 's'} (last: ${last})` };
  // The rest of the warm-up, spread over the connections (this opens them).
  let left = plan.warmup;
  const lanes = Math.max(1, Math.min(plan.connections, left));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (left > 0 && !signal?.aborted) {
        left--;
        sent++;
        await once(pool, opts, signal);
      }
    }),
  );
  return { sent, failure: null };
}

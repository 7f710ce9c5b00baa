// The load loop: `connections` keep-alive connections in an undici Pool (pipelining 1), one
// request in flight per connection, each finished request immediately followed by the next.
// Everything it learns goes into a Tally of fixed size: counters and log-bucketed latency
// histograms, so memory does not grow with N. The tallies are in tally.ts, the warm-up
// before the counted requests in warmup.ts, the plan and its request in load-plan.ts.
//
// Speed notes (Node is single-threaded; the client must keep up with hey/wrk on loopback):
// - requests go through `Pool.dispatch` with a long-lived handler object per slot, not
//   `request()`: no promise, stream or parsed-headers object per request. The handler uses
//   undici's raw callbacks (onHeaders/onData/onComplete), which undici 7 runs natively;
//   the newer onResponse* callbacks get wrapped and their headers parsed on every response.
// - each slot owns one body buffer of `maxBodyBytes`, reused for every response; bytes past
//   the cap are read off the socket and dropped.
// - one shared, frozen dispatch-options object.

import { Pool } from 'undici';
import { LogHistogram } from './histogram.ts';
import { Tally, errorKind, type LoadResult } from './tally.ts';
import { requestOptions, type Abort, type LoadPlan } from './load-plan.ts';
import { warmUp } from './warmup.ts';

export { Tally, errorKind, type LoadResult, type StatusRow } from './tally.ts';
export type { LoadPlan } from './load-plan.ts';
export { WARMUP_ATTEMPTS, WARMUP_WAIT_MS } from './warmup.ts';

/** One request slot = one request in flight at a time; reused as undici's handler. */
class Slot {
  start = 0;
  status = 0;
  len = 0;
  headerValue: string | null = null;
  abortFn: Abort | null = null;
  timer: NodeJS.Timeout | null = null;
  readonly buf: Buffer | null;

  constructor(
    private readonly run: Runner,
    bodyBytes: number,
  ) {
    this.buf = bodyBytes > 0 ? Buffer.allocUnsafe(bodyBytes) : null;
  }

  onConnect(abort: Abort): void {
    this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    this.status = statusCode;
    const want = this.run.byHeader;
    if (want !== null && rawHeaders) {
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const name = rawHeaders[i];
        if (name.length === want.length && name.toString().toLowerCase() === want) {
          this.headerValue = rawHeaders[i + 1].toString();
          break;
        }
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    const buf = this.buf;
    if (buf !== null && this.len < buf.length && this.status >= 200 && this.status < 300) {
      this.len += chunk.copy(buf, this.len, 0, Math.min(chunk.length, buf.length - this.len));
    }
    return true;
  }

  onComplete(): void {
    this.run.complete(this);
  }

  onError(err: Error): void {
    this.run.fail(this, err);
  }

  reset(): void {
    this.status = 0;
    this.len = 0;
    this.headerValue = null;
    this.abortFn = null;
  }
}

class Runner {
  readonly tally: Tally;
  readonly byHeader: string | null;
  private readonly pool: Pool;
  private readonly opts: {
    path: string;
    method: 'GET';
    headers: string[];
    headersTimeout: number;
    bodyTimeout: number;
    reset: boolean;
  };
  private readonly slots: Slot[] = [];
  /** patterns in match order, and the bucket each belongs to */
  private readonly patterns: readonly RegExp[];
  private readonly bucketOf: Int32Array;
  private readonly k: number;
  private readonly interval: number;
  private inFlight = 0;
  private waiting = 0;
  private stopped = false;
  private abandoning = false;
  abandoned = 0;
  stoppedBy: LoadResult['stoppedBy'] = null;
  private t0 = 0;
  lastDone = 0;
  /** --max-time: absolute performance.now() after which nothing more is sent (warm-up included). */
  deadline = Infinity;
  private resolve: (() => void) | null = null;
  private graceTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly plan: LoadPlan,
    pool: Pool,
  ) {
    this.pool = pool;
    const order = plan.matchOrder ?? plan.patterns.map((_, i) => i);
    this.patterns = order.map((i) => plan.patterns[i]);
    this.bucketOf = Int32Array.from(order);
    this.k = plan.patterns.length;
    this.tally = new Tally(this.k);
    this.byHeader = plan.byHeader;
    this.interval = plan.qps ? 1000 / plan.qps : 0;
    this.opts = requestOptions(plan);
    const bodyBytes = plan.byHeader === null ? plan.maxBodyBytes : 0;
    const slots = Math.max(1, Math.min(plan.connections, plan.n));
    for (let i = 0; i < slots; i++) this.slots.push(new Slot(this, bodyBytes));
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.t0 = performance.now();
      this.lastDone = this.t0;
      for (const slot of this.slots) this.next(slot);
      this.maybeDone();
    });
  }

  get startedAt(): number {
    return this.t0;
  }

  stop(reason: 'signal' | 'max-time'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stoppedBy = reason;
    for (const slot of this.slots) {
      if (slot.timer) {
        clearTimeout(slot.timer);
        slot.timer = null;
        this.waiting--;
        this.tally.sent--;
      }
    }
    if (this.inFlight > 0) {
      // Let requests already on the wire finish briefly, then give up on them.
      const grace = Math.min(1000, this.plan.timeoutMs);
      this.graceTimer = setTimeout(() => {
        // Give up on what is still in flight: it is not counted. Late callbacks are ignored.
        this.abandoning = true;
        this.abandoned += this.inFlight;
        this.inFlight = 0;
        for (const slot of this.slots) slot.abortFn?.(new Error('stopped'));
        this.maybeDone();
      }, grace);
    }
    this.maybeDone();
  }

  private next(slot: Slot): void {
    const t = this.tally;
    if (this.stopped || t.sent >= this.plan.n) return;
    const now = performance.now();
    if (now >= this.deadline) {
      this.stop('max-time');
      return;
    }
    if (this.interval > 0) {
      const due = this.t0 + t.sent * this.interval;
      if (due > now) {
        t.sent++;
        this.waiting++;
        slot.timer = setTimeout(() => {
          slot.timer = null;
          this.waiting--;
          this.fire(slot);
        }, due - now);
        return;
      }
    }
    t.sent++;
    this.fire(slot);
  }

  private fire(slot: Slot): void {
    slot.reset();
    this.inFlight++;
    slot.start = performance.now();
    this.pool.dispatch(this.opts, slot);
  }

  complete(slot: Slot): void {
    if (this.abandoning) return;
    this.inFlight--;
    const end = performance.now();
    this.lastDone = end;
    const ms = end - slot.start;
    const t = this.tally;
    t.completed++;
    const status = slot.status;
    if (status >= 200 && status < 300) {
      let subject: string | null;
      if (this.byHeader === null) subject = slot.buf!.toString('utf8', 0, slot.len);
      else subject = slot.headerValue;
      let idx = -1;
      if (subject !== null) {
        for (let i = 0; i < this.k; i++) {
          if (this.patterns[i].test(subject)) {
            idx = this.bucketOf[i];
            break;
          }
        }
      }
      if (idx >= 0) {
        t.counts[idx]++;
        t.latency[idx].record(ms);
      } else {
        t.unclassified++;
        t.unclassifiedLatency.record(ms);
      }
    } else {
      let row = t.statuses.get(status);
      if (row === undefined) {
        row = { count: 0, latency: new LogHistogram() };
        t.statuses.set(status, row);
      }
      row.count++;
      row.latency.record(ms);
    }
    this.next(slot);
    this.maybeDone();
  }

  fail(slot: Slot, err: Error): void {
    if (this.abandoning) return;
    this.inFlight--;
    this.lastDone = performance.now();
    this.tally.recordError(errorKind(err));
    // Errors can arrive synchronously from dispatch: continue on a fresh stack.
    setImmediate(() => {
      this.next(slot);
      this.maybeDone();
    });
  }

  private maybeDone(): void {
    if (this.resolve === null || this.inFlight > 0 || this.waiting > 0) return;
    if (!this.stopped && this.tally.sent < this.plan.n) {
      // An error path is about to continue on setImmediate; it calls maybeDone again.
      return;
    }
    if (this.graceTimer) clearTimeout(this.graceTimer);
    const r = this.resolve;
    this.resolve = null;
    r();
  }
}

/** Warm up, then send the counted requests. Never throws for network trouble. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  let connectionsOpened = 0;
  const pool = new Pool(plan.origin, {
    connections: plan.connections,
    pipelining: 1,
    connectTimeout: plan.timeoutMs,
    keepAliveTimeout: 30_000,
  });
  pool.on('connect', () => {
    connectionsOpened++;
  });
  const runner = new Runner(plan, pool);
  let progress: NodeJS.Timeout | null = null;
  const onAbort = () => runner.stop('signal');
  try {
    let warmupSent = 0;
    const deadline = plan.maxTimeMs === null ? Infinity : performance.now() + plan.maxTimeMs;
    runner.deadline = deadline;
    if (plan.warmup > 0) {
      const w = await warmUp(plan, pool, deadline);
      warmupSent = w.sent;
      if (w.failure !== null) {
        return {
          tally: runner.tally,
          durationMs: 0,
          connectionsOpened,
          warmupSent,
          warmupFailure: w.failure,
          stoppedBy: plan.signal?.aborted ? 'signal' : null,
          abandoned: 0,
        };
      }
    }
    if (plan.onProgress) {
      const cb = plan.onProgress;
      progress = setInterval(() => cb(runner.tally), plan.progressMs ?? 100);
      progress.unref();
    }
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    const finished = runner.start();
    if (plan.signal?.aborted) runner.stop('signal');
    await finished;
    plan.onProgress?.(runner.tally);
    return {
      tally: runner.tally,
      durationMs: Math.max(0, runner.lastDone - runner.startedAt),
      connectionsOpened,
      warmupSent,
      warmupFailure: null,
      stoppedBy: runner.stoppedBy,
      abandoned: runner.abandoned,
    };
  } finally {
    plan.signal?.removeEventListener('abort', onAbort);
    if (progress) clearInterval(progress);
    await pool.destroy().catch(() => undefined);
  }
}

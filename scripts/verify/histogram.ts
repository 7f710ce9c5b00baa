// Fixed-memory latency histogram: log-spaced buckets, so memory does not grow with the
// number of samples (a 2,000,000-request run keeps the same ~8 KiB per row as a 100-request
// one). Percentiles are accurate to about +-1 % of the value, which is plenty for p50/p90/p99.

/** Smallest value told apart (ms): 1 microsecond. Anything below lands in bucket 0. */
const MIN_MS = 0.001;
/** Largest value kept (ms): 1,000 s. Anything above lands in the last bucket. */
const MAX_MS = 1_000_000;
/** Each bucket is 2 % wider than the one before: relative error of a percentile <= ~1 %. */
const GROWTH = 1.02;
const INV_LN_GROWTH = 1 / Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) * INV_LN_GROWTH) + 2;

export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export class LogHistogram {
  /** Counts per bucket; Float64 so counts never wrap. */
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  /** Number of buckets (the same for every histogram: memory is fixed). */
  static get size(): number {
    return BUCKETS;
  }

  /** Record one value in milliseconds. */
  record(ms: number): void {
    let i: number;
    if (!(ms > MIN_MS))
      i = 0; // also catches NaN and negatives
    else {
      i = 1 + Math.floor(Math.log(ms / MIN_MS) * INV_LN_GROWTH);
      if (i >= BUCKETS) i = BUCKETS - 1;
    }
    this.counts[i]++;
    this.count++;
    if (ms === ms) {
      this.sum += ms;
      if (ms < this.min) this.min = ms;
      if (ms > this.max) this.max = ms;
    }
  }

  /** Add another histogram's samples into this one. */
  merge(other: LogHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * The q-quantile (0 < q <= 1) by nearest rank: the representative value (geometric middle,
   * clamped to the observed min/max) of the bucket holding the ceil(q * count)-th sample.
   * NaN when empty.
   */
  percentile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const mid = i === 0 ? MIN_MS : MIN_MS * Math.pow(GROWTH, i - 0.5);
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      min: this.count ? this.min : NaN,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
      max: this.count ? this.max : NaN,
      mean: this.count ? this.sum / this.count : NaN,
    };
  }
}

// Parse and validate `meshbook verify traffic` arguments. Every problem is reported as one
// line naming the argument, what is wrong with the value, and what would be right.

import { readTrafficEnv } from './env.ts';
import { VerifyArgError } from './errors.ts';
import { splitWeightList } from '../shared/weights.ts';

export { VerifyArgError };

export interface Bucket {
  name: string;
  weight: number;
  /** weight / sum of weights */
  share: number;
  pattern: RegExp;
}

export interface VerifyConfig {
  url: URL;
  /** scheme://host:port */
  origin: string;
  /** path + query */
  path: string;
  /** extra request headers, in order */
  headers: [string, string][];
  /** classify on this response header (lower-case) instead of the body */
  byHeader: string | null;
  buckets: Bucket[];
  /** Bucket indexes in --classify order: patterns are tried in this order, the first match wins. */
  matchOrder: number[];
  n: number | 'auto';
  connections: number;
  qps: number | null;
  warmup: number;
  alpha: number;
  /** fraction (0.05 = 5 points) */
  minEffect: number;
  deterministic: boolean;
  /** deterministic mode: allowed deviation per bucket in requests (null = default) */
  slack: number | null;
  newConnectionPerRequest: boolean;
  timeoutMs: number;
  /** bytes of each body read and classified */
  maxBodyBytes: number;
  /** stop sending after this many ms (null = no limit) */
  maxTimeMs: number | null;
  /** the env file the target came from, if any */
  envFile: string | null;
  /** `--extend-once`: an INCONCLUSIVE run (random mode) is followed by one fresh run of 2 N */
  extendOnce: boolean;
}

/** Raw options as commander (or a runbook) hands them over. */
export interface RawVerifyOptions {
  url?: string;
  env?: string;
  expect?: string | Record<string, number>;
  classify?: string | string[] | Record<string, string | RegExp>;
  header?: string | string[] | Record<string, string>;
  byHeader?: string;
  n?: string | number;
  connections?: string | number;
  qps?: string | number;
  warmup?: string | number;
  alpha?: string | number;
  minEffect?: string | number;
  deterministic?: boolean;
  slack?: string | number;
  newConnectionPerRequest?: boolean;
  timeout?: string | number;
  maxBody?: string | number;
  maxTime?: string | number;
  extendOnce?: boolean;
}

export const DEFAULTS = {
  n: 'auto',
  connections: 10,
  warmup: 5,
  alpha: 0.05,
  minEffect: 5,
  timeoutMs: 10_000,
  maxBodyBytes: 4096,
} as const;

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
// RFC 9110 token
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function num(arg: string, v: string | number, what: string): number {
  const s = String(v).trim();
  const x = typeof v === 'number' ? v : s === '' ? NaN : Number(s);
  if (!Number.isFinite(x)) throw new VerifyArgError(arg, `"${v}" is not a number (expected ${what})`);
  return x;
}

function int(arg: string, v: string | number, min: number, max: number, what: string): number {
  const x = num(arg, v, what);
  if (!Number.isInteger(x) || x < min || x > max) {
    throw new VerifyArgError(arg, `"${v}" is out of range (expected ${what})`);
  }
  return x;
}

/** Parse `v1=30,v2=60,v3=10` (or an object) into ordered [name, weight] pairs. */
export function parseWeights(arg: string, v: string | Record<string, number>): [string, number][] {
  const pairs: [string, string | number][] =
    typeof v === 'string'
      ? splitWeightList(v)
          .filter((x) => x.item !== '')
          .map(({ item, name, value }) => {
            if (name === undefined || value === undefined) {
              throw new VerifyArgError(arg, `"${item}" is not NAME=WEIGHT (e.g. v1=30,v2=60,v3=10)`);
            }
            return [name, value];
          })
      : Object.entries(v);
  if (pairs.length === 0) throw new VerifyArgError(arg, 'no buckets given (e.g. v1=30,v2=60,v3=10)');
  const seen = new Set<string>();
  const out: [string, number][] = [];
  for (const [name, w] of pairs) {
    if (!NAME_RE.test(name)) {
      throw new VerifyArgError(arg, `bucket name "${name}" may only use letters, digits, '_', '.', '-'`);
    }
    if (seen.has(name)) throw new VerifyArgError(arg, `bucket "${name}" is given twice`);
    seen.add(name);
    const x = typeof w === 'number' ? w : String(w) === '' ? NaN : Number(w);
    if (!Number.isFinite(x) || x < 0) {
      throw new VerifyArgError(arg, `weight "${w}" for ${name} is not a number >= 0 (e.g. ${name}=30)`);
    }
    out.push([name, x]);
  }
  if (out.reduce((a, [, w]) => a + w, 0) <= 0) {
    throw new VerifyArgError(arg, 'all weights are 0: at least one bucket needs a positive weight');
  }
  return out;
}

/** `/re/flags` or a bare regular expression source. */
export function parsePattern(arg: string, name: string, src: string | RegExp): RegExp {
  if (src instanceof RegExp) return new RegExp(src.source, src.flags.replace(/[gy]/g, ''));
  let source = src;
  let flags = '';
  const m = /^\/(.*)\/([imsu]*)$/s.exec(src);
  if (m) {
    source = m[1];
    flags = m[2];
  }
  if (source === '') throw new VerifyArgError(arg, `empty pattern for ${name} (e.g. ${name}=^Hello)`);
  try {
    return new RegExp(source, flags);
  } catch (e) {
    throw new VerifyArgError(arg, `pattern for ${name} is not a valid regular expression: ${(e as Error).message}`);
  }
}

/**
 * Parse `v1=^Hello,v2=^Bonjour` (repeatable; a comma only separates items when followed by
 * NAME=, so patterns such as `a{1,3}` survive) into ordered [name, RegExp] pairs.
 */
export function parseClassify(arg: string, v: string | string[] | Record<string, string | RegExp>): [string, RegExp][] {
  let pairs: [string, string | RegExp][];
  if (typeof v === 'string' || Array.isArray(v)) {
    const items = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(/,(?=\s*[A-Za-z0-9_.-]+=)/));
    pairs = items
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((item) => {
        const eq = item.indexOf('=');
        if (eq <= 0) throw new VerifyArgError(arg, `"${item}" is not NAME=REGEX (e.g. v1=^Hello,v2=^Bonjour)`);
        return [item.slice(0, eq).trim(), item.slice(eq + 1)];
      });
  } else {
    pairs = Object.entries(v);
  }
  if (pairs.length === 0) throw new VerifyArgError(arg, 'no patterns given (e.g. v1=^Hello,v2=^Bonjour)');
  const seen = new Set<string>();
  return pairs.map(([name, src]) => {
    if (!NAME_RE.test(name)) {
      throw new VerifyArgError(arg, `bucket name "${name}" may only use letters, digits, '_', '.', '-'`);
    }
    if (seen.has(name)) throw new VerifyArgError(arg, `bucket "${name}" is given twice`);
    seen.add(name);
    return [name, parsePattern(arg, name, src)];
  });
}

export function parseHeaders(arg: string, v: string | string[] | Record<string, string>): [string, string][] {
  const items: [string, string][] =
    typeof v === 'string' || Array.isArray(v)
      ? (Array.isArray(v) ? v : [v]).map((h) => {
          const colon = h.indexOf(':');
          if (colon <= 0)
            throw new VerifyArgError(arg, `"${h}" is not 'Name: value' (e.g. --header 'end-user: jason')`);
          return [h.slice(0, colon).trim(), h.slice(colon + 1).trim()];
        })
      : Object.entries(v);
  for (const [name, value] of items) {
    if (!TOKEN_RE.test(name)) throw new VerifyArgError(arg, `"${name}" is not a valid header name`);
    if (/[\r\n\0]/.test(value)) throw new VerifyArgError(arg, `value of ${name} contains a line break or NUL`);
  }
  return items;
}

export function parseUrl(arg: string, v: string): URL {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new VerifyArgError(arg, `"${v}" is not a URL (e.g. http://192.168.0.10:8004/hello/eric)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new VerifyArgError(arg, `"${v}" must be an http:// or https:// URL`);
  }
  if (url.username || url.password) {
    throw new VerifyArgError(arg, 'credentials in the URL are not supported (use --header Authorization: ...)');
  }
  return url;
}

/** What the env file (--env) gives: the URL, the weights and the patterns (flags override each). */
type EnvDefaults = { url?: string; expect?: string; classify?: string };

/** The URL to send to: --url, or the env file's. */
function resolveUrl(raw: RawVerifyOptions, env: EnvDefaults): URL {
  const urlStr = raw.url ?? env.url;
  if (urlStr === undefined) {
    throw new VerifyArgError('--url', 'missing: give --url URL (or --env FILE from a traffic-shift run)');
  }
  return parseUrl(raw.url !== undefined ? '--url' : `--env ${raw.env}`, urlStr);
}

/** The buckets (--expect weights with their --classify patterns, every bucket in both) and the
 *  order the patterns are tried in. */
function resolveBuckets(raw: RawVerifyOptions, env: EnvDefaults): Pick<VerifyConfig, 'buckets' | 'matchOrder'> {
  const expectRaw = raw.expect ?? env.expect;
  if (expectRaw === undefined) {
    throw new VerifyArgError('--expect', 'missing: give the weights, e.g. --expect v1=30,v2=60,v3=10');
  }
  const weights = parseWeights(raw.expect !== undefined ? '--expect' : `--env ${raw.env}: WEIGHTS`, expectRaw);
  const classifyRaw = raw.classify ?? env.classify;
  if (classifyRaw === undefined) {
    throw new VerifyArgError(
      '--classify',
      "missing: map each bucket to a pattern, e.g. --classify 'v1=^Hello,v2=^Bonjour,v3=^Hola'",
    );
  }
  const patterns = new Map(parseClassify('--classify', classifyRaw));
  for (const [name] of weights) {
    if (!patterns.has(name)) {
      throw new VerifyArgError(
        '--classify',
        `no pattern for bucket ${name} (every --expect bucket needs one, e.g. ${name}=^Hello)`,
      );
    }
  }
  const weightNames = new Set(weights.map(([n]) => n));
  for (const name of patterns.keys()) {
    if (!weightNames.has(name)) {
      throw new VerifyArgError(
        '--classify',
        `bucket ${name} has no weight in --expect (add ${name}=0 to require that it gets no traffic)`,
      );
    }
  }
  const total = weights.reduce((a, [, w]) => a + w, 0);
  const buckets: Bucket[] = weights.map(([name, weight]) => ({
    name,
    weight,
    share: weight / total,
    pattern: patterns.get(name)!,
  }));
  const matchOrder = [...patterns.keys()].map((name) => buckets.findIndex((b) => b.name === name));
  return { buckets, matchOrder };
}

/** The extra request headers and the response header to classify by (--header, --by-header). */
function resolveHeaders(raw: RawVerifyOptions): Pick<VerifyConfig, 'headers' | 'byHeader'> {
  const headers = raw.header !== undefined ? parseHeaders('--header', raw.header) : [];
  let byHeader: string | null = null;
  if (raw.byHeader !== undefined) {
    if (!TOKEN_RE.test(raw.byHeader))
      throw new VerifyArgError('--by-header', `"${raw.byHeader}" is not a valid header name`);
    byHeader = raw.byHeader.toLowerCase();
  }
  return { headers, byHeader };
}

/** How much load: -n, -c, --qps, --warmup. */
function resolveLoad(raw: RawVerifyOptions): Pick<VerifyConfig, 'n' | 'connections' | 'qps' | 'warmup'> {
  let n: number | 'auto' = 'auto';
  if (raw.n !== undefined && String(raw.n).trim().toLowerCase() !== 'auto') {
    n = int('-n', raw.n, 1, 100_000_000, "'auto' or a whole number of requests from 1 to 100000000");
  }
  const connections =
    raw.connections !== undefined
      ? int('-c', raw.connections, 1, 4096, 'connections from 1 to 4096')
      : DEFAULTS.connections;
  let qps: number | null = null;
  if (raw.qps !== undefined) {
    qps = num('--qps', raw.qps, 'requests per second > 0');
    if (!(qps > 0))
      throw new VerifyArgError('--qps', `"${raw.qps}" must be > 0 (requests per second, all connections together)`);
  }
  const warmup =
    raw.warmup !== undefined ? int('--warmup', raw.warmup, 0, 100_000, 'a whole number >= 0') : DEFAULTS.warmup;
  return { n, connections, qps, warmup };
}

/** How the split is judged: --alpha, --min-effect (in points here, a fraction in the config), --slack. */
function resolveStatistics(raw: RawVerifyOptions): { alpha: number; minEffectPts: number; slack: number | null } {
  const alpha =
    raw.alpha !== undefined ? num('--alpha', raw.alpha, 'a significance level such as 0.05') : DEFAULTS.alpha;
  if (!(alpha > 0 && alpha < 0.5))
    throw new VerifyArgError('--alpha', `"${raw.alpha}" must be between 0 and 0.5 (e.g. 0.05)`);
  const minEffectPts =
    raw.minEffect !== undefined
      ? num('--min-effect', raw.minEffect, 'percentage points such as 5')
      : DEFAULTS.minEffect;
  if (!(minEffectPts >= 0.5 && minEffectPts <= 50)) {
    throw new VerifyArgError(
      '--min-effect',
      `"${raw.minEffect}" must be between 0.5 and 50 percentage points (e.g. 5)`,
    );
  }
  const slack =
    raw.slack !== undefined ? int('--slack', raw.slack, 0, 1_000_000, 'a whole number of requests >= 0') : null;
  if (slack !== null && !raw.deterministic) {
    throw new VerifyArgError('--slack', 'only applies with --deterministic');
  }
  return { alpha, minEffectPts, slack };
}

/** Limits: --timeout per request, --max-body per response, --max-time for the whole run. */
function resolveLimits(raw: RawVerifyOptions): Pick<VerifyConfig, 'timeoutMs' | 'maxBodyBytes' | 'maxTimeMs'> {
  const timeoutMs =
    raw.timeout !== undefined
      ? int('--timeout', raw.timeout, 1, 3_600_000, 'milliseconds from 1 to 3600000')
      : DEFAULTS.timeoutMs;
  const maxBodyBytes =
    raw.maxBody !== undefined
      ? int('--max-body', raw.maxBody, 1, 16 * 1024 * 1024, 'bytes from 1 to 16777216')
      : DEFAULTS.maxBodyBytes;
  let maxTimeMs: number | null = null;
  if (raw.maxTime !== undefined) {
    const s = num('--max-time', raw.maxTime, 'seconds > 0');
    if (!(s > 0)) throw new VerifyArgError('--max-time', `"${raw.maxTime}" must be > 0 seconds`);
    maxTimeMs = s * 1000;
  }
  return { timeoutMs, maxBodyBytes, maxTimeMs };
}

/** Validate everything before anything is sent (in the order the checks are listed). Throws VerifyArgError. */
export function resolveConfig(raw: RawVerifyOptions): VerifyConfig {
  const env: EnvDefaults = raw.env !== undefined ? readTrafficEnv(raw.env) : {};
  const url = resolveUrl(raw, env);
  const { buckets, matchOrder } = resolveBuckets(raw, env);
  const { headers, byHeader } = resolveHeaders(raw);
  const { n, connections, qps, warmup } = resolveLoad(raw);
  const { alpha, minEffectPts, slack } = resolveStatistics(raw);
  const { timeoutMs, maxBodyBytes, maxTimeMs } = resolveLimits(raw);
  return {
    url,
    origin: url.origin,
    path: url.pathname + url.search,
    headers,
    byHeader,
    buckets,
    matchOrder,
    n,
    connections,
    qps,
    warmup,
    alpha,
    minEffect: minEffectPts / 100,
    deterministic: Boolean(raw.deterministic),
    slack,
    newConnectionPerRequest: Boolean(raw.newConnectionPerRequest),
    timeoutMs,
    maxBodyBytes,
    maxTimeMs,
    envFile: raw.env ?? null,
    extendOnce: Boolean(raw.extendOnce),
  };
}

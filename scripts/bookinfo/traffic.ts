// Checking the end-user=jason route from outside, through the ingress gateway.
//
// The reviews VirtualService matches the `end-user` header on the productpage -> reviews
// call. productpage does not pass an incoming end-user header on: it sets it from its
// login session (Flask's `session` cookie; older releases: a `user` cookie). So requests
// "with the header" are requests of a signed-in jason: step 15 signs in (POST /login, as
// the article's browser does) and keeps the session cookie; steps 16 and 17 then run
// `meshbook verify traffic` with and without that cookie. The cookie belongs to the
// sample's password-less demo user: it is not a secret.
//
// Buckets by the reviews section of the page: v2 black stars, v3 red stars, v1 reviews
// without stars (patterns tried in this order; the old glyphicon template and the new
// Tailwind one are both recognised). Expected 100 % v2 with the cookie, 100 % v1 without:
// the verifier's zero-weight rule fails the run on a single request in a 0 bucket, and
// -n auto sizes a 100/0/0 split at 73 requests, so a route that misses 5 % of the time is
// still caught 97.6 % of the time (0.95^73 = 2.4 % to slip through). No --deterministic:
// that mode is for weighted round-robin counts; a header match is all-or-nothing.
import path from 'node:path';
import { repoPath } from '../engine/repo.ts';
import type { Untyped } from '../engine/untyped.ts';

export const BIN = repoPath('bin', 'meshbook.js');
export const CLASSIFY = 'v2=color="black"|text-black-500,v3=color="red"|gap-x-1 text-red-500,v1=Reviewer1';
export const JASON_ONLY_V2 = 'v1=0,v2=100,v3=0';
export const OTHERS_V1 = 'v1=100,v2=0,v3=0';

/** The meshbook CLI as this machine runs it (relative to the working directory when inside it). */
export function meshbookCli(): string[] {
  const rel = path.relative(process.cwd(), BIN);
  return ['node', rel && !rel.startsWith('..') ? rel : BIN];
}

export function verifyArgv(gatewayUrl: string, expect: string, cookie?: string): string[] {
  return [
    ...meshbookCli(),
    'verify',
    'traffic',
    '--url',
    `http://${gatewayUrl}/productpage`,
    ...(cookie ? ['--header', `Cookie: ${cookie}`] : []),
    '--expect',
    expect,
    '--classify',
    CLASSIFY,
    '--max-body',
    '65536',
    '-n',
    'auto',
    '-c',
    '2',
    '--json',
  ];
}

/** The login response's session cookie(s) as a Cookie header value. */
export function sessionCookie(headers: string): string | undefined {
  const got = headers
    .split(/\r?\n/)
    .map((l) => /^set-cookie:\s*((session|user)=[^;\s]+)/i.exec(l)?.[1])
    .filter((c): c is string => !!c && !/^[^=]+=$/.test(c) && !/^[^=]+=""$/.test(c));
  return got.length ? got.join('; ') : undefined;
}

/** The verifier's --json result, as lines; ok on PASS only. */
export function verdictLines(stdout: string, code: number, what: string): { ok: boolean; lines: string[] } {
  let r: Untyped;
  try {
    r = JSON.parse(stdout);
  } catch {
    return { ok: false, lines: [`error: meshbook verify traffic printed no JSON (exit ${code})`] };
  }
  if (r.verdict === 'ERROR')
    return { ok: false, lines: [`error: ${what}: the verifier could not run: ${r.error ?? 'unknown error'}`] };
  const buckets = (r.buckets ?? []).map(
    (b: Untyped) =>
      `${b.name} ${b.observed} (${Number(b.observedPct).toFixed(1)} %, expected ${Number(b.expectedPct).toFixed(0)} %)`,
  );
  const other = (r.other ?? []).filter((o: Untyped) => o.count).map((o: Untyped) => `${o.label} ${o.count}`);
  const lines = [
    `${what}: ${buckets.join(', ')}${other.length ? `; other: ${other.join(', ')}` : ''}`,
    ...(r.reasons ?? []).map((x: string) => `  ${x}`),
    `verdict ${r.verdict}`,
  ];
  if (r.verdict !== 'PASS') lines.push(`error: ${what}: ${r.verdict}: ${(r.reasons ?? [])[0] ?? 'see above'}`);
  return { ok: r.verdict === 'PASS', lines };
}

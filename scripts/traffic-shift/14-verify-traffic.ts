// Article §3 "MESH驗證-全鏈路流量轉移" (prove the split through the ingress): requests to
// http://INGRESS_HOST:INGRESS_PORT/VERIFY_PATH, sorted by hello2's version, and a statistical
// verdict from `meshbook verify traffic` (scripts/verify), run as the step's command with
// --json; PASS is ok (with the histogram), FAIL / INCONCLUSIVE / ERROR fail the step.
// Fixed against the article: it sends 100 requests, then `sort | uniq -c` and a look. 100
// requests cannot tell 30/60/10 from 35/55/10; the verifier sends enough (-n auto), tests the
// split (chi-square, Wilson intervals) and gives a verdict a pipeline can gate on.
// Which greeting: through the ingress every answer is `Hello eric(<hello1>)<-<hello2's
// greeting> eric(<vm>)<-Hello eric(<hello3>)`: hello1 is v1 and always greets first, so the
// buckets match the greeting after the first `<-` (v1 Hello, v2 Bonjour, v3 Hola), not the
// first one. Every subset is listed in --expect, a left-out one with 0: any hit on it FAILs.
// --extend-once: a healthy lab must not fail this step by chance. One run at -n auto comes out
// INCONCLUSIVE for a correct split about 1 time in 100 by design; with --extend-once an
// INCONCLUSIVE sends one fresh sample of 2 N whose verdict is final, and a correct split then
// fails to PASS at most ~5e-6 of the time (30/60/10; scripts/verify/README.md has the figures).
// --exit-with-parent: the verifier stops when the rebuild that runs it is gone (kill -9 too).
import path from 'node:path';
import type { Interpretation, Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { GREETINGS, VERSIONS, expectArg, weightsOf } from './common.ts';
import { REPO_ROOT } from '../engine/repo.ts';

export const REPO = REPO_ROOT;
const CLI = path.join(REPO, 'bin', 'meshbook.js');

/** Buckets by hello2's greeting: the one after hello1's `Hello msg(ip)<-`. */
export const HELLO2_CLASSIFY = VERSIONS.map((v) => `${v}=^[^<]*<-${GREETINGS[v]}`).join(',');

export function verifyUrl(env: Record<string, string>): string {
  const host = env.INGRESS_HOST.includes(':') ? `[${env.INGRESS_HOST}]` : env.INGRESS_HOST;
  return `http://${host}:${env.INGRESS_PORT || '8004'}${env.VERIFY_PATH || '/hello/eric'}`;
}

/** The verifier's command line. `--env` makes the CLI run inside the lab's workstation
 *  namespace when the env file is a lab's (LAB_NETNS); the flags override what it reads from
 *  the file: the URL, every subset's weight, and buckets by hello2's greeting. */
export function verifyArgv(env: Record<string, string>, envFile: string): { argv: string[]; cwd?: string } {
  const rel = path.relative(process.cwd(), REPO);
  return {
    argv: [
      'node',
      path.relative(REPO, CLI),
      'verify',
      'traffic',
      '--env',
      path.relative(REPO, envFile),
      '--url',
      verifyUrl(env),
      '--expect',
      expectArg(weightsOf(env)),
      '--classify',
      HELLO2_CLASSIFY,
      '--max-time',
      '300',
      '--extend-once',
      '--exit-with-parent',
      '--json',
    ],
    ...(rel ? { cwd: rel } : {}),
  };
}

interface Bucket {
  name: string;
  weight: number;
  expectedPct: number;
  observed: number;
  observedPct: number;
  ci95Pct?: [number, number] | number[];
  ok?: boolean;
}
interface Other {
  label?: string;
  name?: string;
  count: number;
  pctOfCounted?: number;
}

/** The verifier's JSON -> PASS: ok with the histogram; FAIL/INCONCLUSIVE/ERROR: failed with the verdict. */
export function interpretVerdict(stdout: string, stderr = ''): Interpretation {
  let r: {
    verdict?: string;
    reasons?: string[];
    error?: string | null;
    buckets?: Bucket[];
    other?: Other[];
    totals?: { counted?: number };
    target?: { url?: string };
    chiSquare?: { p: number } | null;
    sequential?: { extended?: boolean; stages?: { counted: number; verdict: string }[] } | null;
  };
  try {
    r = JSON.parse(
      stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop() ?? '',
    );
  } catch {
    return {
      ok: false,
      lines: [
        `error: the verifier gave no ` +
          (`verdict: ` +
            `${(stderr.trim().split('\n').pop() || stdout.trim().split('\n').pop() || 'no output').slice(0, 200)}`),
      ],
    };
  }
  const total = r.totals?.counted ?? 0;
  const hist = (r.buckets ?? []).map((b) => {
    const bar = '#'.repeat(Math.round((b.observedPct ?? 0) / 2));
    const ci =
      Array.isArray(b.ci95Pct) && b.ci95Pct.length === 2
        ? `, 95 % ${b.ci95Pct[0].toFixed(1)}-${b.ci95Pct[1].toFixed(1)} %`
        : '';
    return (
      `${b.name.padEnd(3)} ${String(b.observed).padStart(6)}  ${(b.observedPct ?? 0).toFixed(1).padStart(5)} ` +
      `% (expected ${b.expectedPct.toFixed(1)} %${ci}) ${bar}`
    );
  });
  const other = (r.other ?? []).map(
    (o) => `${(o.label ?? o.name ?? 'other').padEnd(3)} ${String(o.count).padStart(6)}  (not classified)`,
  );
  const head =
    `verdict ${r.verdict}: ${total} requests ` +
    `to ${r.target?.url ?? '?'}${r.chiSquare ? `, chi-square p ${r.chiSquare.p.toFixed(4)}` : ''}`;
  const reasons = (r.reasons ?? []).map((x) => `  - ${x}`);
  const s = r.sequential;
  const stages =
    s?.extended && s.stages?.length === 2
      ? [
          `extended once: stage 1 (${s.stages[0].counted} requests) ${s.stages[0].verdict}, ` +
            `stage 2 (a fresh ${s.stages[1].counted}) ${s.stages[1].verdict} decides`,
        ]
      : [];
  if (r.verdict === 'PASS') return { ok: true, lines: [head, ...stages, ...hist, ...other, ...reasons] };
  const why = r.error ?? (s?.extended ? r.reasons?.[1] : undefined) ?? r.reasons?.[0] ?? 'no reason given';
  return {
    ok: false,
    lines: [`error: traffic split ${r.verdict ?? 'unknown'}: ${why}`, head, ...stages, ...hist, ...other, ...reasons],
  };
}

const step: Step = {
  id: '14-verify-traffic',
  title: 'Prove the split through the ingress (meshbook verify traffic)',
  article: '§3 MESH驗證-全鏈路流量轉移 (traffic shift through the ingress)',
  notes: [
    "the article's 100 x curl | sort | uniq -c cannot tell 30/60/10 from " +
      '35/55/10; `meshbook verify traffic` sends enough requests and gives a verdict',
    "answers are bucketed by hello2's greeting (after hello1's " +
      '`Hello eric(...)<-`); a subset with weight 0 must get no traffic',
  ],
  target: 'cluster',
  cluster: ({ env, envFile }) => {
    const { argv, cwd } = verifyArgv(env, envFile);
    return {
      probe: probeCmd(argv, cwd ? { cwd } : {}),
      interpret: (out) => interpretVerdict(out.stdout, out.stderr),
    };
  },
};
export default step;

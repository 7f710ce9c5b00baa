// A synthetic run ledger with the shapes the runner and the canary write: N hosts x S steps
// (each with a script, output tails, a few failures), a verifier result, and optionally the
// canary's steps. For the report's tests at fleet sizes no lab here can build (200 VMs).
import fs from 'node:fs';
import path from 'node:path';
import { eventLine } from '../../scripts/ledger/ledger.ts';

const script = (step: number, host: string) =>
  `set -euo pipefail\n# step ${step}\nif grep -q hello2 /etc/hosts; then exit 0; fi\n` +
  `printf '%s\\n' '10.0.0.${step} hello2 # ${host.length > 0 ? 'managed by meshbook' : ''}' >> /etc/hosts\n` +
  'systemctl daemon-reload\n'.repeat(8);

export const VERIFY = {
  tool: 'meshbook verify traffic',
  verdict: 'PASS',
  reasons: ['every interval within expected +- 5 points'],
  target: { url: 'http://10.0.0.1:8004/hello/eric' },
  buckets: [
    ['v1', 30, 612, 30.2, [28.2, 32.2], 4.1, 9.8],
    ['v2', 60, 1210, 59.7, [57.5, 61.8], 4.3, 10.2],
    ['v3', 10, 205, 10.1, [8.9, 11.5], 4.0, 9.1],
  ].map(([name, expectedPct, observed, observedPct, ci95Pct, p50, p99]) => ({
    name,
    expectedPct,
    observed,
    observedPct,
    ci95Pct,
    latencyMs: { count: observed, p50, p90: (p50 as number) * 1.8, p99, max: 30 },
  })),
  totals: { counted: 2027 },
  chiSquare: { statistic: 0.21, df: 2, p: 0.9 },
};

export const CANARY_STEPS = [
  { weights: { v1: 100, v2: 0, v3: 0 }, verdict: 'PASS' },
  { weights: { v1: 90, v2: 10, v3: 0 }, verdict: 'PASS' },
  { weights: { v1: 75, v2: 25, v3: 0 }, verdict: 'INCONCLUSIVE' },
  { weights: { v1: 50, v2: 50, v3: 0 }, verdict: 'FAIL' },
  { weights: { v1: 100, v2: 0, v3: 0 }, verdict: 'ROLLBACK' },
];

/** Write a ledger for `hosts` VMs and `steps` steps into `dir`; returns its file. */
export function syntheticLedger(
  dir: string,
  o: { hosts: number; steps: number; failEvery?: number; canary?: boolean; secret?: string },
): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `20261206T000000000Z-rebuild-${o.hosts}h${o.canary ? '-canary' : ''}.jsonl`);
  const vms = Array.from({ length: o.hosts }, (_, i) => `vm${i + 1}`);
  const lines: string[] = [];
  let t = Date.parse('2026-12-06T00:00:00Z');
  const at = (ms: number) => new Date((t += ms)).toISOString();
  const ev = (type: string, data: Record<string, unknown>) =>
    lines.push(eventLine(type, { ...data }).replace(/"t":"[^"]*"/, `"t":"${at(3)}"`));
  ev('run-start', {
    id: path.basename(file, '.jsonl'),
    command: 'rebuild',
    argv: ['rebuild', 'traffic-shift', '--env', 'x.env'],
    pid: 1,
    pidStart: 'x',
    env: { path: '/x.env', sha256: 'a'.repeat(64) },
    inventory: { vms: vms.map((name) => ({ name })) },
  });
  const failed = new Set<string>();
  for (let s = 1; s <= o.steps; s++) {
    const step = `traffic-shift/${String(s).padStart(2, '0')}-step-${s}`;
    ev('step', { step, title: `step ${s} ${o.secret ?? ''}`, article: `§${s}`, notes: [], target: 'vm', hosts: vms });
    vms.forEach((h, i) => {
      if (failed.has(h))
        return ev('step-end', { step, host: h, status: 'skipped', lines: ['an earlier step failed on this host'] });
      const fail = !!o.failEvery && s === 5 && i % o.failEvery === 0;
      if (fail) failed.add(h);
      const started = new Date(t + (i % 10) * 40).toISOString();
      ev('step-end', {
        step,
        host: h,
        startedAt: started,
        status: fail ? 'failed' : s % 3 ? 'unchanged' : 'changed',
        ms: 200 + ((i * 37) % 500),
        lines: [`hello2 ${o.secret ?? ''} on ${h}`],
        ...(fail ? { error: 'check exited 3', tail: `boom on ${h}\n${o.secret ?? ''}` } : {}),
        sent: [
          {
            kind: 'check',
            cmd: script(s, h),
            code: fail ? 3 : s % 3 ? 0 : 10,
            ms: 120,
            stdout: `checked ${s}`,
            stderr: fail ? `boom on ${h}` : '',
          },
          ...(s % 3 || fail
            ? []
            : [
                {
                  kind: 'change',
                  cmd: script(s + 100, h),
                  code: 0,
                  ms: 300,
                  stdout: `${h} changed\n`.repeat(5),
                  stderr: '',
                },
              ]),
        ],
      });
    });
  }
  ev('verify-result', { step: 'traffic-shift/14-verify-traffic', host: 'cluster', result: VERIFY });
  if (o.canary)
    CANARY_STEPS.forEach((c, index) =>
      ev('canary-step', {
        index,
        ...c,
        n: 400,
        p: 0.3,
        errorsPct: 0.1,
        canaryP99Ms: 12,
        baselineP99Ms: 11,
        durationMs: 30000,
      }),
    );
  ev('run-end', { code: failed.size ? 1 : 0, ms: t - Date.parse('2026-12-06T00:00:00Z') });
  fs.writeFileSync(file, lines.join(''), { mode: 0o600 });
  return file;
}

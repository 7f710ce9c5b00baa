// A small runbook of cluster steps that run on this machine (no lab, no root), whose commands
// carry a canary secret on stdin and echo it on stdout and stderr: a real run through the runner
// with the ledger's hooks, for the ledger and report tests.
import fs from 'node:fs';
import path from 'node:path';
import { loadInputs } from '../../scripts/engine/inputs.ts';
import { runRunbooks, type RunReport } from '../../scripts/engine/runner.ts';
import { probeCmd, mutateCmd } from '../../scripts/engine/local.ts';
import { startRun, type RunLedger } from '../../scripts/ledger/ledger.ts';
import { ledgerHooks } from '../../scripts/ledger/hooks.ts';
import type { Runbook } from '../../scripts/engine/types.ts';

export const CANARY = `canary-${Math.random().toString(36).slice(2, 10)}-ledger`;

const echoSecret = 'x=$(cat); echo "token=$x"; echo "stderr says $x" >&2';
export const RB: Runbook = {
  name: 'ledger-demo',
  title: 'ledger demo',
  article: 'none',
  summary: 'three local steps',
  inputs: [{ name: 'API_SECRET', description: 'a secret', secret: true, required: true }],
  steps: [
    {
      id: '01-probe',
      title: 'a probe that finds a fact',
      article: '§1',
      target: 'cluster',
      cluster: ({ env }) => ({
        probe: probeCmd(['bash', '-c', echoSecret], { stdin: env.API_SECRET }),
        interpret: (o) => ({ ok: o.code === 0, lines: ['probed'], facts: { seen: o.stdout.includes('token=') } }),
      }),
    },
    {
      id: '02-change',
      title: 'a check that asks for a change',
      article: '§2',
      target: 'cluster',
      cluster: ({ env }) => ({
        check: probeCmd(['bash', '-c', `${echoSecret}; exit 10`], { stdin: env.API_SECRET, changeCodes: [10] }),
        apply: [mutateCmd(['bash', '-c', echoSecret], { stdin: env.API_SECRET })],
      }),
    },
    {
      id: '03-fail',
      title: 'a check that fails',
      article: '§3',
      target: 'cluster',
      cluster: ({ env }) => ({
        check: probeCmd(['bash', '-c', `${echoSecret}; exit 3`], { stdin: env.API_SECRET }),
        apply: [mutateCmd(['true'])],
      }),
    },
  ],
};

/** Run RB once with its ledger in `dir`; returns the runner's report and the ledger. */
export async function ledgerRun(dir: string): Promise<{ rep: RunReport; ledger: RunLedger }> {
  fs.mkdirSync(dir, { recursive: true });
  const envFile = path.join(dir, 'demo.env');
  fs.writeFileSync(envFile, `API_SECRET=${CANARY}\n`, { mode: 0o600 });
  const loaded = loadInputs(envFile, [RB]);
  const ledger = startRun({
    command: 'rebuild',
    envFile,
    inventory: loaded.inventory,
    runsDir: path.join(dir, 'runs'),
  });
  const rep = await runRunbooks([RB], loaded, {
    ssh: { knownHosts: path.join(dir, 'kh'), connectTimeoutS: 5, commandTimeoutMs: 20_000 },
    hooks: ledgerHooks(ledger),
  });
  ledger.end(rep.failed ? 1 : 0);
  return { rep, ledger };
}

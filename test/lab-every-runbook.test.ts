// Every runbook on a fresh lab, as a new user meets it: for each runbook `lab up` (a new lab),
// `meshbook rebuild <runbook> --env <lab env> --yes --json`, `lab down`. Each run exits 0 with no
// failed step, and what ran for real, what is "not in lab" and what was skipped equals the table
// in README.md (test/helpers/lab-table.ts renders it; on a mismatch the message shows the table
// the code gives, to paste after checking it is right).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { classify, readmeTable, renderTable, type Kind } from './helpers/lab-table.ts';
import { hostState } from './helpers/host-state.ts';

const RUNBOOKS = ['asm-vm-proxy', 'istio-vm', 'kubeadm-nginmesh', 'traffic-shift', 'bookinfo'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-every-'));
const prefix = `mbev${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const labArgs = ['--prefix', prefix, '--dir', dir, '--lab-env', envFile, '--inventory', path.join(tmp, 'inv.yaml')];
const run = $({
  nothrow: true,
  quiet: true,
  env: { ...process.env, MESHBOOK_STATE_DIR: path.join(tmp, 'state'), FORCE_COLOR: '0' },
});
const meshbook = (...args: string[]) => run`node bin/meshbook.js ${args}`;

test.after.always(async () => {
  await meshbook('lab', 'down', ...labArgs);
});

const root = process.getuid?.() === 0;

(root ? test.serial : test.serial.skip)('every runbook on a fresh lab: exit 0, and the README lab table', async (t) => {
  t.timeout(600_000);
  const before = await hostState();
  const rows: Array<{ runbook: string; kinds: Record<Kind, string[]> }> = [];
  const problems: string[] = [];
  for (const runbook of RUNBOOKS) {
    const up = await meshbook('lab', 'up', ...labArgs);
    t.is(up.exitCode, 0, `lab up: ${up.stderr}`);
    const t0 = performance.now();
    const r = await meshbook('rebuild', runbook, '--env', envFile, '--yes', '--json');
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    let rep;
    try {
      rep = JSON.parse(r.stdout);
    } catch {
      problems.push(`${runbook}: no JSON report (exit ${r.exitCode}): ${r.stderr.slice(-2000)}`);
      continue;
    }
    const kinds = classify(rep);
    t.log(`${runbook}: exit ${r.exitCode} in ${s} s; ${JSON.stringify(kinds)}`);
    if (r.exitCode !== 0) problems.push(`${runbook}: exit ${r.exitCode}: ${JSON.stringify(rep.failures)}`);
    rows.push({ runbook, kinds });
    const down = await meshbook('lab', 'down', ...labArgs);
    t.is(down.exitCode, 0, `lab down: ${down.stderr}`);
  }
  t.deepEqual(problems, [], 'every runbook exits 0 on a fresh lab');
  const table = renderTable(rows);
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  t.is(readmeTable(readme), table, `README.md's lab table differs from what the code does; the code gives:\n${table}`);
  t.deepEqual(await hostState(), before, 'the machine is as it was');
});

// npm run bench:fleet: the VM-side steps of traffic-shift on 1, 10 and 30 lab VMs:
// meshbook's rebuild (--forks 10 and --forks 30) against the same host edits done the
// articles' way, a sequential `for vm in ...; do ssh ...; done` loop. Every measurement
// starts from fresh VMs (lab down + up, not timed). Prints wall times and ratios.
// The lab has no cluster: hello2's check and verify call hello3 at HELLO3_IP (routed via
// NODE_IP), which nothing answers, so every such call would wait out hello2's 3 s backend
// limit. The bench stands hello3 up in the workstation namespace instead (the same app,
// v3, on HELLO3_IP, behind NODE_IP), as the cluster would: the figures measure the fleet
// work, not a timeout. `--no-hello3` measures without it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { $ } from 'zx';
import { labUp, labDown } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { PRELUDE } from '../scripts/engine/sh.ts';
import { findRunbook } from '../scripts/runbooks.ts';
import type { HostCtx } from '../scripts/engine/types.ts';

if (process.getuid?.() !== 0) {
  console.error('bench:fleet builds lab VMs (network namespaces) and needs root');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-fleet-'));
const lab = { prefix: `mbfl${process.pid % 10000}`, dir: path.join(tmp, 'lab'), envFile: path.join(tmp, 'lab.env'), inventoryFile: path.join(tmp, 'lab-inventory.yaml') };
const rb = findRunbook('traffic-shift');
const bin = path.resolve('bin/meshbook.js');   // what `meshbook` runs
const withHello3 = !process.argv.includes('--no-hello3');
let hello3: ChildProcess | undefined;

async function standUpHello3() {
  const env = Object.fromEntries(fs.readFileSync(lab.envFile, 'utf8').split('\n').filter((l) => /^\w+=/.test(l)).map((l) => l.split(/=(.*)/s).slice(0, 2)));
  const ws = `${lab.prefix}-ws`;
  await $({ quiet: true })`ip -n ${ws} addr add ${`${env.NODE_IP}/24`} dev eth0`;
  await $({ quiet: true })`ip -n ${ws} addr add ${`${env.HELLO3_IP}/32`} dev lo`;
  hello3 = spawn('ip', ['netns', 'exec', ws, 'env', '-i', `PATH=${process.env.PATH}`, 'VERSION=v3', 'PORT=8001', 'node', path.resolve('vm/hello/hello.mjs')], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    if ((await $({ quiet: true, nothrow: true })`ip netns exec ${ws} ss -ltnH sport = :8001`).stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the hello3 stand-in did not start');
}

function stopHello3() {
  hello3?.kill();
  hello3 = undefined;
}

async function fresh(n: number) {
  stopHello3();
  await labDown(lab);
  await labUp({ ...lab, vms: n, cluster: false });
  if (withHello3) await standUpHello3();
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function meshbook(forks: number) {
  const r = await $({ nothrow: true, quiet: true, env: { ...process.env, MESHBOOK_STATE_DIR: path.join(tmp, `state-${Date.now()}`) } })`node ${bin} rebuild traffic-shift --env ${lab.envFile} --forks ${forks} --json`;
  const rep = JSON.parse(r.stdout);
  if (!rep.ok) throw new Error(`rebuild failed: ${rep.failures.join('; ')}`);
}

/** The articles' way: for each VM, one plain ssh (no multiplexing) per step that changes
 *  something, one VM after another: the same scripts meshbook would send. */
async function sequential() {
  const loaded = loadInputs(lab.envFile, [rb]);
  const lines = ['set -e'];
  for (const vm of loaded.inventory.vms) {
    const ctx: HostCtx = { vm, env: loaded.env, facts: {}, cluster: {}, vms: loaded.inventory.vms, lab: true, distro: undefined };
    for (const step of rb.steps.filter((s) => s.target === 'vm')) {
      const a = step.vm!(ctx);
      if (!a.apply || a.notInLab) continue;
      const file = path.join(tmp, `${vm.name}-${step.id}.sh`);
      fs.writeFileSync(file, `${PRELUDE}\n${a.apply.text}\n`, { mode: 0o600 });
      lines.push(`ssh -T -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${loaded.env.SSH_KNOWN_HOSTS} -i ${vm.identity} root@${vm.host} bash -s < ${file}`);
    }
  }
  const script = path.join(tmp, 'sequential.sh');
  fs.writeFileSync(script, lines.join('\n') + '\n');
  await $({ quiet: true })`ip netns exec ${`${lab.prefix}-ws`} bash ${script}`;
}

const rows: Array<{ n: number; f10?: number; f30?: number; seq: number }> = [];
try {
  for (const n of [1, 10, 30]) {
    const row: (typeof rows)[0] = { n, seq: 0 };
    await fresh(n); row.f10 = await timed(() => meshbook(10));
    if (n > 10) { await fresh(n); row.f30 = await timed(() => meshbook(30)); }
    await fresh(n); row.seq = await timed(sequential);
    rows.push(row);
    console.error(`measured ${n} VM(s)`);
  }
} finally {
  stopHello3();
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
}
const one = rows[0].f10!;
console.log(withHello3 ? 'hello3 answered from a stand-in in the workstation namespace' : 'no hello3: checks wait out hello2\'s 3 s backend limit');
console.log('VMs  meshbook --forks 10  meshbook --forks 30  sequential ssh loop  loop / meshbook  meshbook N / 1 VM');
for (const r of rows) {
  const best = Math.min(r.f10 ?? Infinity, r.f30 ?? Infinity);
  console.log(`${String(r.n).padStart(3)}  ${r.f10!.toFixed(2).padStart(17)} s  ${(r.f30 ? `${r.f30.toFixed(2)} s` : '-').padStart(19)}  ${r.seq.toFixed(2).padStart(17)} s  ${(r.seq / best).toFixed(1).padStart(14)}x  ${(best / one).toFixed(2).padStart(15)}x`);
}
const r30 = rows.find((r) => r.n === 30)!;
console.log(`targets: 30 VMs within 3x of 1 VM with --forks 30: ${(r30.f30! / one).toFixed(2)}x; at least 5x faster than the loop: ${(r30.seq / r30.f30!).toFixed(1)}x`);

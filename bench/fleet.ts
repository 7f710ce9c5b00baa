// npm run bench:fleet: the VM-side steps of traffic-shift on 1, 10 and 30 lab VMs:
// meshbook's rebuild (--forks 10 and --forks 30) against the same host edits done the
// articles' way, a sequential `for vm in ...; do ssh ...; done` loop. Every measurement
// starts from fresh VMs (lab down + up, not timed). Prints wall times and ratios.
// The lab has no cluster: hello2's check and verify call hello3 at HELLO3_IP (routed via
// NODE_IP), which nothing answers, so every such call would wait out hello2's 3 s backend
// limit. The bench stands hello3 up in the workstation namespace instead (the same app,
// v3, on HELLO3_IP, behind NODE_IP), as the cluster would: the figures measure the fleet
// work, not a timeout. `--no-hello3` measures without it.
// This machine runs the runner and every lab VM, so a 30-VM run is bound by CPU: the bench
// also prints the machine-wide CPU of each measurement and a floor, the time 30 VMs would
// take on these cores if nothing but the per-VM work every way must do (one SSH
// connection, the app) cost anything.
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
const lab = {
  prefix: `mbfl${process.pid % 10000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const rb = findRunbook('traffic-shift');
const bin = path.resolve('bin/meshbook.js'); // what `meshbook` runs
const withHello3 = !process.argv.includes('--no-hello3');
let hello3: ChildProcess | undefined;

async function standUpHello3() {
  const env = Object.fromEntries(
    fs
      .readFileSync(lab.envFile, 'utf8')
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  const ws = `${lab.prefix}-ws`;
  await $({ quiet: true })`ip -n ${ws} addr add ${`${env.NODE_IP}/24`} dev eth0`;
  await $({ quiet: true })`ip -n ${ws} addr add ${`${env.HELLO3_IP}/32`} dev lo`;
  hello3 = spawn(
    'ip',
    [
      'netns',
      'exec',
      ws,
      'env',
      '-i',
      `PATH=${process.env.PATH}`,
      'VERSION=v3',
      'PORT=8001',
      'node',
      path.resolve('vm/hello/hello.mjs'),
    ],
    { stdio: 'ignore' },
  );
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

/** CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq): the
 *  lab's VMs are processes here too, so this counts the runner and the VMs alike. */
function busyCpu(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6]) / 100;
}

interface Took {
  wall: number;
  cpu: number;
}
async function timed(fn: () => Promise<unknown>): Promise<Took> {
  const c0 = busyCpu(),
    t0 = performance.now();
  await fn();
  return { wall: (performance.now() - t0) / 1000, cpu: busyCpu() - c0 };
}

async function meshbook(forks: number) {
  const r = await $({
    nothrow: true,
    quiet: true,
    env: { ...process.env, MESHBOOK_STATE_DIR: path.join(tmp, `state-${Date.now()}`) },
  })`node ${bin} rebuild traffic-shift --env ${lab.envFile} --forks ${forks} --json`;
  const rep = JSON.parse(r.stdout);
  if (!rep.ok) throw new Error(`rebuild failed: ${rep.failures.join('; ')}`);
}

/** The articles' way: for each VM, one plain ssh (no multiplexing) per step that changes
 *  something, one VM after another: the same scripts meshbook would send. */
async function sequential() {
  const loaded = loadInputs(lab.envFile, [rb]);
  const lines = ['set -e'];
  for (const vm of loaded.inventory.vms) {
    const ctx: HostCtx = {
      vm,
      env: loaded.env,
      facts: {},
      cluster: {},
      vms: loaded.inventory.vms,
      lab: true,
      distro: undefined,
    };
    for (const step of rb.steps.filter((s) => s.target === 'vm')) {
      const a = step.vm!(ctx);
      if (!a.apply || a.notInLab) continue;
      const file = path.join(tmp, `${vm.name}-${step.id}.sh`);
      fs.writeFileSync(file, `${PRELUDE}\n${a.apply.text}\n`, { mode: 0o600 });
      lines.push(
        `ssh -T -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ` +
          `UserKnownHostsFile=${loaded.env.SSH_KNOWN_HOSTS} -i ${vm.identity} root@${vm.host} bash -s < ${file}`,
      );
    }
  }
  const script = path.join(tmp, 'sequential.sh');
  fs.writeFileSync(script, lines.join('\n') + '\n');
  await $({ quiet: true })`ip netns exec ${`${lab.prefix}-ws`} bash ${script}`;
}

/** The per-VM work that every way of doing this pays, whoever runs it: one SSH connection
 *  (key exchange on both ends, authentication, a session) and one start of the hello2 app
 *  (the VM's node until it listens). Measured on VM 1, one after another. */
async function perVmWork(): Promise<{ kex: string; conn: number; app: number }> {
  const loaded = loadInputs(lab.envFile, [rb]);
  const vm = loaded.inventory.vms[0];
  const ssh = [
    'ssh',
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    `UserKnownHostsFile=${loaded.env.SSH_KNOWN_HOSTS}`,
    '-i',
    vm.identity!,
    `root@${vm.host}`,
    'true',
  ];
  const ws = `${lab.prefix}-ws`;
  const v = await $({ quiet: true })`ip netns exec ${ws} ${[...ssh.slice(0, 2), '-v', ...ssh.slice(2)]}`;
  const kex = /kex: algorithm: (\S+)/.exec(v.stderr)?.[1] ?? 'unknown';
  const N = 10;
  const conn = await timed(
    () => $({ quiet: true })`ip netns exec ${ws} bash -c ${'for ((i = 0; i < $0; i++)); do "$@"; done'} ${N} ${ssh}`,
  );
  const starts = 5;
  const app = await timed(async () => {
    for (let i = 0; i < starts; i++) {
      const p = spawn('node', [path.resolve('vm/hello/hello.mjs')], {
        env: { PATH: process.env.PATH, VERSION: 'v2', PORT: '0', HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      await new Promise<void>((resolve, reject) => {
        p.stdout!.once('data', () => {
          p.kill('SIGTERM');
        });
        p.once('exit', () => resolve());
        p.once('error', reject);
      });
    }
  });
  return { kex, conn: conn.cpu / N, app: app.cpu / starts };
}

/** CPU seconds the lab's hello2 processes have used so far (start, the checks' requests,
 *  serving): each VM's app, found by its command line, measured where it ran. */
function appCpu(): { n: number; cpu: number } {
  let n = 0,
    cpu = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('/opt/meshbook/hello/hello.mjs'))
        continue;
      const f = fs
        .readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ');
      cpu += (Number(f[11]) + Number(f[12])) / 100; // utime, stime (fields 14, 15)
      n++;
    } catch {
      /* gone meanwhile */
    }
  }
  return { n, cpu };
}

const rows: Array<{ n: number; f10?: Took; f30?: Took; seq: Took }> = [];
let app30: ReturnType<typeof appCpu> | undefined;
let work: Awaited<ReturnType<typeof perVmWork>> | undefined;
try {
  for (const n of [1, 10, 30]) {
    const row: Partial<(typeof rows)[0]> = { n };
    await fresh(n);
    row.f10 = await timed(() => meshbook(10));
    if (n > 10) {
      await fresh(n);
      row.f30 = await timed(() => meshbook(30));
      app30 = appCpu();
    }
    await fresh(n);
    row.seq = await timed(sequential);
    if (n === 1) work = await perVmWork();
    rows.push(row as (typeof rows)[0]);
    console.error(`measured ${n} VM(s)`);
  }
} finally {
  stopHello3();
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
}
const one = rows[0].f10!;
const fmt = (x: Took | undefined) => (x ? `${x.wall.toFixed(2)} s` : '-');
console.log(
  withHello3
    ? 'hello3 answered from a stand-in in the workstation namespace'
    : "no hello3: checks wait out hello2's 3 s backend limit",
);
console.log('VMs  meshbook --forks 10  meshbook --forks 30  sequential ssh loop  loop / meshbook  meshbook N / 1 VM');
for (const r of rows) {
  const best = Math.min(r.f10?.wall ?? Infinity, r.f30?.wall ?? Infinity);
  console.log(
    `${String(r.n).padStart(3)}  ${fmt(r.f10).padStart(19)}  ${fmt(r.f30).padStart(19)}  ${fmt(r.seq).padStart(19)}` +
      `  ${(r.seq.wall / best).toFixed(1).padStart(14)}x  ${(best / one.wall).toFixed(2).padStart(15)}x`,
  );
}
const r30 = rows.find((r) => r.n === 30)!;
console.log(
  `targets: 30 VMs within 3x of 1 VM with --forks 30: ${(r30.f30!.wall / one.wall).toFixed(2)}x; ` +
    `at least 5x faster than the loop: ${(r30.seq.wall / r30.f30!.wall).toFixed(1)}x`,
);
// where the time goes, and the floor (see the top of this file)
const cores = os.availableParallelism?.() ?? os.cpus().length;
console.log(
  `CPU (machine-wide, s): ${rows
    .map(
      (r) =>
        `${r.n} VM(s): meshbook ${[r.f10, r.f30]
          .filter(Boolean)
          .map((x) => x!.cpu.toFixed(2))
          .join(' / ')}, loop ${r.seq.cpu.toFixed(2)}`,
    )
    .join('; ')}`,
);
console.log(
  `meshbook's CPU per added VM (30 VMs, --forks 30, against 1 ` +
    `VM): ${(((r30.f30!.cpu - one.cpu) / 29) * 1000).toFixed(0)} ms`,
);
if (work) {
  // the app's share: what each hello2 used in the 30-VM run (start, answering the checks,
  // calling hello3), else one start alone
  const app = app30?.n ? app30.cpu / app30.n : work.app;
  const each = work.conn + app;
  const floor = (one.cpu + 29 * each) / cores;
  console.log(
    `per-VM work no runner avoids, measured here: one SSH connection ${(work.conn * 1000).toFixed(0)} ` +
      `ms CPU (client and server, kex ${work.kex}); hello2 ${(app * 1000).toFixed(0)} ms CPU per VM in ` +
      `the 30-VM run (${app30?.n ?? 0} processes; one start alone ${(work.app * 1000).toFixed(0)} ms)`,
  );
  console.log(
    `floor for 30 VMs on ${cores} cores (nothing else costs anything): (1-VM run ${one.cpu.toFixed(2)} ` +
      `s + 29 x ${(each * 1000).toFixed(0)} ms) / ${cores} = ${floor.toFixed(2)} s ` +
      `= ${(floor / one.wall).toFixed(2)}x the 1-VM time, ${(r30.seq.wall / floor).toFixed(1)}x faster than the loop`,
  );
}

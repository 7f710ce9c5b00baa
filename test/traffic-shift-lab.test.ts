// traffic-shift on lab VMs, for real over SSH: hello2 runs as a Node process on each VM
// (inventory runtime: process, the VM's version), the hello3 hosts line is written once; the
// cluster steps say "not in lab". Twice: the second run changes nothing. Then a changed
// version restarts the app, a duplicated/stale hosts line is repaired, a killed app is
// restarted. Inside each VM the app answers with its greeting; its backend hello3 is not
// reachable in the lab (no cluster yet), and the answer says so.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labUp, labDown, vmExec } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks, type RunReport } from '../scripts/engine/runner.ts';
import rb from '../scripts/traffic-shift/index.ts';
import { hostState } from './helpers/host-state.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ts-lab-'));
const lab = {
  prefix: `mbts${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const envFile = path.join(tmp, 'ts.env');
const inventory = path.join(tmp, 'inventory.yaml');
const VMS = {
  vm1: ['192.168.0.250', 'Hello'],
  vm2: ['192.168.0.251', 'Bonjour'],
  vm3: ['192.168.0.252', 'Hola'],
} as const;
const HOST = 'hello3-svc.http-reciprocal-hello.svc.cluster.local';
let before: Record<string, string>;

async function rebuild(): Promise<RunReport & { status: (step: string, host: string) => string | undefined }> {
  const loaded = loadInputs(envFile, [rb], { checkFiles: true });
  const rep = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    ssh: {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 5,
      commandTimeoutMs: 60_000,
    },
  });
  const status = (step: string, host: string) =>
    rep.records.find((r) => r.id === `traffic-shift/${step}`)?.hosts[host]?.status;
  return Object.assign(rep, { status });
}

const inVm = async (vm: string, script: string) =>
  (await vmExec(vm, ['bash', '-c', script], { ...lab, nothrow: true })).stdout;
const GET = 'exec 3<>/dev/tcp/127.0.0.1/8001; printf "GET /hello/eric HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3';

test.before(async () => {
  before = await hostState();
  // the VM side on its own: a lab without its cluster, VMs not routed to it (the whole lab,
  // cluster included, is test/lab-traffic-shift-e2e.test.ts)
  // no Docker daemons: this file covers the process runtime (VMs past lab up --docker-vms) in
  // detail; the article's docker run is covered by lab-traffic-shift-e2e.test.ts
  await labUp({ ...lab, vms: 3, cluster: false, dockerVms: 0 });
  fs.copyFileSync(lab.inventoryFile, inventory);
  fs.writeFileSync(
    envFile,
    fs
      .readFileSync(lab.envFile, 'utf8')
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${inventory}`)
      .replace(/^VM_ROUTES=.*\n/m, ''),
    { mode: 0o600 },
  );
});

test.after.always(async () => {
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial(
  'first rebuild: hello2 starts on every VM, the hosts line is written, cluster steps are not in lab',
  async (t) => {
    const rep = await rebuild();
    t.false(
      rep.failed,
      JSON.stringify(
        rep.records.flatMap((r) => Object.entries(r.hosts).filter(([, h]) => h.status === 'failed')),
        null,
        2,
      ),
    );
    for (const vm of Object.keys(VMS)) {
      t.is(rep.status('01-preflight', vm), 'ok');
      t.is(rep.status('05-hello2-on-vms', vm), 'changed');
      t.is(rep.status('10-hello3-dns', vm), 'changed');
      t.is(rep.status('11-vm-to-hello3', vm), 'not in lab');
    }
    for (const s of [
      '02-namespace',
      '03-hello1-hello3',
      '04-hello3-ip',
      '06-register-hello2',
      '07-routing',
      '08-workloadentry-versions',
      '12-pod-vm-checks',
      '13-ingress-port',
      '14-verify-traffic',
    ]) {
      t.is(rep.status(s, 'cluster'), 'not in lab', s);
    }
    const pre = rep.records[0].hosts;
    t.true(pre.vm2.lines.includes('hello2 v2 at 192.168.0.251:8001 (runtime process)'));
    // the VM -> hello3 probe ran for real: the name resolves through the hosts line, nothing answers
    const vmToHello3 = rep.records.find((r) => r.id.endsWith('11-vm-to-hello3'))!.hosts.vm1.lines;
    t.is(vmToHello3[0], 'VM -> hello3: 0 of 1 ok (rows: source, columns: target)');
    t.regex(vmToHello3[3], /^\[1\] vm1 -> hello3-svc:8001: FAILED: .*(unreachable|No route)/i);
    t.true(vmToHello3.some((l) => l.startsWith('not in lab: this lab has no cluster (lab up --no-cluster)')));
    t.true(vmToHello3.some((l) => l.startsWith("hint: the VM has no route to hello3-svc's clusterIP")));
  },
);

test.serial('inside each VM: the app answers with its greeting; the unreachable backend is named', async (t) => {
  for (const [vm, [ip, greeting]] of Object.entries(VMS)) {
    const out = (await inVm(vm, GET)).replace(/\r/g, '');
    t.regex(out, /^HTTP\/1\.1 503 Service Unavailable\n/, vm);
    const body = out.split('\n\n')[1];
    t.is(body, `${greeting} eric(${ip})<-ERROR connect ENETUNREACH 172.19.0.13:8001 (backend ${HOST}:8001)\n`);
  }
  const vm1 = await inVm(
    'vm1',
    [
      `grep -c ${HOST} /etc/hosts`,
      `grep ${HOST} /etc/hosts`,
      'cat /opt/meshbook/hello/hello.env',
      'test -d "/proc/$(cat /run/meshbook-hello.pid)" && echo alive',
      'grep -c "GET /hello/eric 503" /var/log/hello.log',
    ].join('; '),
  );
  t.is(
    vm1,
    `1\n172.19.0.13 ${HOST}\nVERSION=v1\nPORT=8001\nHTTP_HELLO_BACKEND=${HOST}\nOWN_IP=192.168.0.250\nalive\n1\n`,
  );
});

test.serial('second rebuild changes nothing', async (t) => {
  const pids = await inVm('vm2', 'cat /run/meshbook-hello.pid');
  const rep = await rebuild();
  t.false(rep.failed);
  const statuses = rep.records.flatMap((r) => Object.values(r.hosts).map((h) => h.status));
  t.false(statuses.includes('changed'));
  for (const vm of Object.keys(VMS)) {
    t.is(rep.status('05-hello2-on-vms', vm), 'unchanged');
    t.is(rep.status('10-hello3-dns', vm), 'unchanged');
  }
  t.regex(
    rep.records.find((r) => r.id.endsWith('05-hello2-on-vms'))!.hosts.vm3.lines[0],
    /^hello2 v3 runs as pid \d+; it answers: Hola meshbook-check\(192\.168\.0\.252\)<-ERROR connect ENETUNREACH/,
  );
  t.is(await inVm('vm2', 'cat /run/meshbook-hello.pid'), pids, 'the app was not restarted');
});

test.serial(
  'a changed version restarts the app; a duplicated or stale hosts line and a killed app are repaired',
  async (t) => {
    fs.writeFileSync(inventory, fs.readFileSync(inventory, 'utf8').replace(/(name: vm1[\s\S]*?version: )v1/, '$1v2'));
    await inVm('vm2', `echo "172.19.9.9 ${HOST}" >> /etc/hosts; echo "172.19.0.13 ${HOST}" >> /etc/hosts`);
    await inVm('vm3', 'kill "$(cat /run/meshbook-hello.pid)"; sleep 0.3');
    const oldPid = await inVm('vm1', 'cat /run/meshbook-hello.pid');
    const rep = await rebuild();
    t.false(rep.failed);
    t.is(rep.status('05-hello2-on-vms', 'vm1'), 'changed');
    t.is(rep.status('05-hello2-on-vms', 'vm2'), 'unchanged');
    t.is(rep.status('05-hello2-on-vms', 'vm3'), 'changed');
    t.is(rep.status('10-hello3-dns', 'vm1'), 'unchanged');
    t.is(rep.status('10-hello3-dns', 'vm2'), 'changed');
    t.not(await inVm('vm1', 'cat /run/meshbook-hello.pid'), oldPid);
    t.is(await inVm('vm1', `test -d /proc/${oldPid.trim()} && echo old-still-runs || echo old-gone`), 'old-gone\n');
    t.regex(
      (await inVm('vm1', GET)).replace(/\r/g, ''),
      /\n\nBonjour eric\(192\.168\.0\.250\)<-ERROR connect ENETUNREACH/,
    );
    t.regex((await inVm('vm3', GET)).replace(/\r/g, ''), /\n\nHola eric\(192\.168\.0\.252\)</);
    t.is(await inVm('vm2', `grep ${HOST} /etc/hosts`), `172.19.0.13 ${HOST}\n`);
    const again = await rebuild();
    t.false(again.records.flatMap((r) => Object.values(r.hosts).map((h) => h.status)).includes('changed'));
  },
);

test.serial('lab down stops the apps and leaves the machine as it was', async (t) => {
  await labDown(lab);
  t.deepEqual(await hostState(), before);
});

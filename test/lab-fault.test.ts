// `meshbook lab fault` for real, on both runtimes of hello2: a lab of 3 VMs and its cluster
// with a Docker daemon in vm1 only (`lab up --docker-vms 1`: vm1 runs the article's container
// http_v1, vm3 the process stand-in), after `rebuild traffic-shift`. The knob is set through
// the CLI and checked with requests from the lab's workstation namespace to the VMs' own
// addresses and to the lab's ingress: a 500 share, a delay, a stopped app, then --clear.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { vmExec } from '../lab/vms.ts';
import { labFault } from '../lab/fault.ts';
import { hostState } from './helpers/host-state.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-fault-'));
const prefix = `mlf${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const lab = { prefix, dir };
const labArgs = ['--prefix', prefix, '--dir', dir];
const upArgs = [...labArgs, '--lab-env', envFile, '--inventory', path.join(tmp, 'lab-inventory.yaml')];
const run = $({
  nothrow: true,
  quiet: true,
  env: { ...process.env, MESHBOOK_STATE_DIR: path.join(tmp, 'state'), FORCE_COLOR: '0' },
});
const meshbook = (...args: string[]) => run`node bin/meshbook.js ${args}`;
const VM = { vm1: ['192.168.0.250', 'Hello'], vm2: ['192.168.0.251', 'Bonjour'], vm3: ['192.168.0.252', 'Hola'] };
const INGRESS = 'http://192.168.0.100:8004/hello/eric';
let before: Record<string, string>;

interface Answer {
  status: number | string;
  ms: number;
  body: string;
}

// N GETs (8 at a time, no keep-alive) from the workstation namespace; status is the HTTP
// status or the connection error's code
const CLIENT = `
const http = require('node:http');
const [url, n] = [process.argv[1], Number(process.argv[2])];
const one = () => new Promise((resolve) => {
  const t0 = performance.now();
  const done = (status, body) => resolve({ status, ms: Math.round(performance.now() - t0), body: body.trim() });
  http.get(url, { agent: false, timeout: 5000 }, (res) => {
    let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => done(res.statusCode, b));
  }).on('error', (e) => done(e.code || e.message, '')).on('timeout', function () { this.destroy(new Error('timeout')); });
});
(async () => {
  const out = []; let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { while (next < n) { next++; out.push(await one()); } }));
  console.log(JSON.stringify(out));
})();`;

async function get(url: string, n: number): Promise<Answer[]> {
  const r = await run`ip netns exec ${`${prefix}-ws`} node -e ${CLIENT} ${url} ${String(n)}`;
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}
const vmUrl = (vm: keyof typeof VM) => `http://${VM[vm][0]}:8001/hello/eric`;
const statuses = (as: Answer[]) => [...new Set(as.map((a) => a.status))].sort();

async function fault(vm: string, ...args: string[]) {
  const r = await meshbook('lab', 'fault', vm, ...args, ...labArgs, '--json');
  if (r.exitCode !== 0) throw new Error(`lab fault ${vm} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Which process serves hello2 now: the container's start time (docker) or the pid file (process). */
const appIdentity = async (vm: string) =>
  (
    await vmExec(
      vm,
      ['bash', '-c', 'docker inspect -f "{{.State.StartedAt}}" http_v1 2>/dev/null || cat /run/meshbook-hello.pid'],
      { ...lab, nothrow: true },
    )
  ).stdout.trim();

test.before(async () => {
  before = await hostState(prefix);
  const up = await meshbook('lab', 'up', '--vms', '3', '--docker-vms', '1', ...upArgs);
  if (up.exitCode !== 0) throw new Error(up.stderr);
  const rb = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes', '--json');
  if (rb.exitCode !== 0) throw new Error(`rebuild traffic-shift: exit ${rb.exitCode}: ${rb.stdout.slice(-2000)}`);
});

test.after.always(async () => {
  await meshbook('lab', 'down', ...upArgs);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('vm1 runs hello2 in Docker, vm3 as a process; no fault: 200s', async (t) => {
  const vm1 = await fault('vm1');
  t.like(vm1, { vm: 'vm1', runtime: 'docker', app: 'http_v1', file: '/app/fault.json', fault: null, running: true });
  t.deepEqual(vm1.did, []);
  const vm3 = await fault('vm3');
  t.like(vm3, { runtime: 'process', file: '/opt/meshbook/hello/fault.json', fault: null, running: true });
  for (const vm of ['vm1', 'vm3'] as const) {
    const as = await get(vmUrl(vm), 10);
    t.deepEqual(statuses(as), [200], vm);
    t.true(as[0].body.startsWith(`${VM[vm][1]} eric(${VM[vm][0]})<-Hello eric(172.18.`), as[0].body);
  }
});

test.serial('--error-rate 1: every answer of that VM is a 500 naming its version, at once, no restart', async (t) => {
  for (const vm of ['vm1', 'vm3'] as const) {
    const id = await appIdentity(vm);
    const t0 = performance.now();
    const r = await fault(vm, '--error-rate', '1');
    const took = performance.now() - t0;
    t.deepEqual(r.fault, { errorRate: 1, delayMs: 0 });
    // the first requests after the command returns already see it
    const as = await get(vmUrl(vm), 20);
    t.deepEqual(statuses(as), [500], vm);
    t.is(as[0].body, `${VM[vm][1]} eric(${VM[vm][0]})<-FAULT`);
    t.is(await appIdentity(vm), id, `${vm}: the app was not restarted`);
    t.log(`${vm} (${r.runtime}): lab fault --error-rate 1 took ${Math.round(took)} ms with Node start-up`);
  }
  t.deepEqual(statuses(await get(vmUrl('vm2'), 10)), [200], 'vm2 has no fault');
  // through the mesh: the ingress -> hello1 -> hello2 chain fails exactly where vm1 or vm3 answered
  const chain = await get(INGRESS, 150);
  const broken = chain.filter((a) => /<-(Hello|Hola) eric\(192\.168\.0\.25[02]\)<-FAULT$/.test(a.body));
  t.true(broken.length > 0);
  t.deepEqual(statuses(broken), [502]);
  t.deepEqual(statuses(chain.filter((a) => !broken.includes(a))), [200]);
  t.true(chain.filter((a) => !broken.includes(a)).every((a) => a.body.includes('<-Bonjour eric(192.168.0.251)')));
});

test.serial('--error-rate 0.2: about a fifth of the answers are 500s', async (t) => {
  for (const vm of ['vm1', 'vm3'] as const) {
    // through the TypeScript API this time (what the CLI calls), timed without Node's start-up
    const t0 = performance.now();
    const r = await labFault(vm, { set: { errorRate: 0.2, delayMs: 0 } }, lab);
    t.log(`${vm} (${r.runtime}): labFault() set the knob in ${Math.round(performance.now() - t0)} ms`);
    t.deepEqual(r.fault, { errorRate: 0.2, delayMs: 0 });
    const as = await get(vmUrl(vm), 400);
    t.deepEqual(statuses(as), [200, 500], vm);
    const share = as.filter((a) => a.status === 500).length / as.length;
    t.log(`${vm}: ${(share * 100).toFixed(1)} % 500s of 400`);
    t.true(share > 0.1 && share < 0.32, `${vm}: ${share}`); // 0.2 +- 5 standard deviations
  }
});

test.serial('--delay-ms 300: every answer takes 300 ms or more, and is a 200 (the knob is replaced)', async (t) => {
  for (const vm of ['vm1', 'vm3'] as const) {
    t.deepEqual((await fault(vm, '--delay-ms', '300')).fault, { errorRate: 0, delayMs: 300 });
    const as = await get(vmUrl(vm), 16);
    t.deepEqual(statuses(as), [200], vm);
    const ms = as.map((a) => a.ms).sort((a, b) => a - b);
    t.true(ms[0] >= 300, `${vm}: ${ms.join(' ')}`);
    t.log(`${vm}: 16 answers in ${ms[0]}..${ms.at(-1)} ms`);
  }
  const fast = await get(vmUrl('vm2'), 8);
  t.true(Math.max(...fast.map((a) => a.ms)) < 300, 'vm2 stays fast');
});

test.serial('--stop: the port refuses connections inside the VM; callers through its sidecar get 502', async (t) => {
  for (const vm of ['vm1', 'vm3'] as const) {
    const r = await fault(vm, '--stop');
    t.false(r.running, vm);
    t.deepEqual(r.fault, { errorRate: 0, delayMs: 300 }, 'the knob stays');
    const probe = await vmExec(vm, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/8001'], { ...lab, nothrow: true });
    t.not(probe.exitCode, 0);
    t.regex(probe.stderr, /Connection refused/);
    // the VM's inbound 8001 goes through its sidecar (the lab's NGINX), which answers 502 as a
    // real mesh's Envoy answers 503: a failed answer either way
    t.deepEqual(statuses(await get(vmUrl(vm), 5)), [502], vm);
    t.false((await fault(vm)).running, `${vm}: still stopped`);
  }
});

test.serial('--clear: the knob is gone and a stopped hello2 runs again: 200s, fast', async (t) => {
  for (const vm of ['vm1', 'vm3'] as const) {
    const r = await fault(vm, '--clear');
    t.like(r, { fault: null, running: true });
    t.true(
      r.did.some((d: string) => /^(docker start http_v1|start \/opt\/meshbook\/hello\/hello\.mjs as pid \d+)$/.test(d)),
    );
    const as = await get(vmUrl(vm), 20);
    t.deepEqual(statuses(as), [200], vm);
    t.true(Math.max(...as.map((a) => a.ms)) < 300);
  }
  const again = await fault('vm3', '--clear');
  t.deepEqual(again.did, ['remove /opt/meshbook/hello/fault.json'], 'nothing to start');
  t.deepEqual(statuses(await get(INGRESS, 100)), [200]);
});

test.serial('bad VM names and values: one line, exit 2 (usage) or 1 (no such VM), nothing changed', async (t) => {
  const cases: Array<[string[], number, RegExp]> = [
    [['vmx', '--error-rate', '0.2'], 2, /expected a lab VM name/],
    [['vm9', '--error-rate', '0.2'], 1, /has no VM vm9/],
    [['vm3', '--error-rate', '1.5'], 2, /expected a share from 0 to 1/],
    [['vm3', '--error-rate', '-0.1'], 2, /./],
    [['vm3', '--delay-ms', '0.5'], 2, /expected a whole number of ms/],
    [['vm3', '--delay-ms', '700000'], 2, /expected a whole number of ms/],
    [['vm3', '--stop', '--clear'], 2, /cannot be used with/],
    [['vm3', '--error-rate', '0.5', '--clear'], 2, /cannot be used with/],
  ];
  for (const [args, code, msg] of cases) {
    const r = await meshbook('lab', 'fault', ...args, ...labArgs);
    t.is(r.exitCode, code, args.join(' '));
    t.regex(r.stderr, msg, args.join(' '));
    t.is(r.stdout, '');
  }
  t.like(await fault('vm3'), { fault: null, running: true });
  const help = await meshbook('lab', 'fault', '--help');
  t.regex(help.stdout, /--error-rate <r>[\s\S]*--delay-ms <ms>[\s\S]*--stop[\s\S]*--clear[\s\S]*Examples:/);
});

test.serial('lab down leaves the machine as it was', async (t) => {
  t.is((await meshbook('lab', 'down', ...upArgs)).exitCode, 0);
  t.deepEqual(await hostState(prefix), before);
});

// asm-vm-proxy on lab VMs, for real over SSH: preflight, distro detection, env file, the
// article's docker run of the proxy against the lab's stand-in image in each VM's own Docker
// daemon (its container sets the interception rules 05 checks), tracing line. Twice: the
// second run changes nothing. A canary secret never shows in output, journal, argv, the run
// ledgers or their HTML report.
// The machine's own hosts, routes and iptables are the same before and after.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labUp, labDown } from '../lab/vms.ts';
import { sshVm, knownHostsOf } from './helpers/lab-ssh.ts';
import { canaryLeaks, stateFiles, hostState, watchProcesses } from './helpers/host-state.ts';

const CANARY = `canary-${Math.random().toString(36).slice(2, 10)}-secret`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-avp-'));
const lab = {
  prefix: `mbavp${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const envFile = path.join(tmp, 'test.env');
const stateDir = path.join(tmp, 'state');
const runsDir = path.join(stateDir, 'runs'); // under the state dir: canaryLeaks reads every file there
const cli = ['npx', 'tsx', 'scripts/cli.ts'];
let before: Record<string, string>;
let watcher: ReturnType<typeof watchProcesses>;
const outputs: string[] = [];

async function meshbook(...args: string[]) {
  const r = await $({
    nothrow: true,
    quiet: true,
    env: { ...process.env, MESHBOOK_STATE_DIR: stateDir, MESHBOOK_RUNS_DIR: runsDir, FORCE_COLOR: '0' },
  })`${cli} ${args}`;
  outputs.push(r.stdout, r.stderr);
  return r;
}

async function rebuildJson(...extra: string[]) {
  const r = await meshbook('rebuild', 'asm-vm-proxy', '--env', envFile, '--yes', '--json', ...extra);
  const rep = JSON.parse(r.stdout);
  const status = (step: string, host: string) =>
    rep.steps.find((s: { id: string }) => s.id === `asm-vm-proxy/${step}`)?.hosts[host]?.status;
  return { code: r.exitCode, rep, status };
}

async function onVm(name: string, script: string) {
  return (await sshVm(lab, knownHostsOf(envFile), name, script)).stdout;
}

test.before(async () => {
  before = await hostState(lab.prefix);
  await labUp({ ...lab, vms: 3 });
  // the lab's env, with a canary secret and a hostile (but env-file-safe) access key id
  const env = fs
    .readFileSync(lab.envFile, 'utf8')
    .replace(/^ACCESS_KEY_SECRET=.*$/m, `ACCESS_KEY_SECRET=${CANARY}`)
    .replace(/^ACCESS_KEY_ID=.*$/m, "ACCESS_KEY_ID='$(touch /tmp/meshbook-pwned);x'")
    .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`);
  fs.writeFileSync(envFile, env, { mode: 0o600 });
  watcher = watchProcesses(CANARY);
});

test.after.always(async () => {
  await labDown(lab);
});

test.serial('first rebuild: every step runs for real, the proxy from the lab stand-in image', async (t) => {
  const { code, status, rep } = await rebuildJson();
  t.is(code, 0, JSON.stringify(rep.failures));
  for (const h of ['vm1', 'vm2', 'vm3']) {
    t.is(status('01-preflight', h), 'ok');
    t.is(status('02-install-docker', h), 'unchanged');
    t.is(status('03-env-file', h), 'changed');
    t.is(status('04-run-proxy', h), 'changed');
    t.is(status('05-check-interception', h), 'ok');
    t.is(status('06-diagnostics', h), 'skipped');
    t.is(status('07-tracing', h), 'changed');
  }
  const pre = rep.steps[0].hosts;
  t.true(pre.vm1.lines.some((l: string) => l.includes('distro alinux-2.1903 (ID=alinux VERSION_ID=2.1903')));
  t.true(pre.vm2.lines.some((l: string) => l.includes('distro centos-8')));
  t.true(pre.vm3.lines.some((l: string) => l.includes('distro ubuntu-20.04')));
  t.true(rep.steps[4].hosts.vm1.lines.includes('present: ISTIO_INBOUND returns tcp dport 22 (ssh) before redirecting'));
  t.regex(rep.steps[1].hosts.vm2.lines.join('\n'), /^docker server 20\.10\.\S+ answers$/m);
  // the rules 05 found were set by the container: its log says so, and it is the lab's stand-in
  const logs = await onVm('vm2', 'docker logs asm_vm_proxy 2>&1; docker inspect -f "{{.Config.Image}}" asm_vm_proxy');
  t.regex(logs, /meshbook lab stand-in image for the ASM VM proxy \(not the ASM proxy\): interception rules set/);
  t.regex(logs, /^meshbook-lab\/asm-vm-proxy-stand-in:lab$/m);
  t.regex(await onVm('vm2', 'curl -s localhost:15020/healthz/ready'), /^ready \(meshbook lab stand-in image/);
  t.false(logs.includes(CANARY));
});

test.serial('on the VM: env file 0600 with plain lines, hostile value inert, hosts line once', async (t) => {
  const out = await onVm(
    'vm2',
    [
      'stat -c %a /opt/asm_vm_proxy/asm_vm_proxy.env',
      'grep -c . /opt/asm_vm_proxy/asm_vm_proxy.env',
      'grep ^ACCESS_KEY_ID= /opt/asm_vm_proxy/asm_vm_proxy.env',
      'grep -c "^ACCESS_KEY_SECRET=" /opt/asm_vm_proxy/asm_vm_proxy.env',
      'test -e /tmp/meshbook-pwned && echo PWNED || echo clean',
      'grep -c zipkin.istio-system /etc/hosts',
      'grep zipkin /etc/hosts',
    ].join('\n'),
  );
  t.is(out, '600\n7\nACCESS_KEY_ID=$(touch /tmp/meshbook-pwned);x\n1\nclean\n1\n172.19.0.20 zipkin.istio-system\n');
  t.false(fs.existsSync('/tmp/meshbook-pwned'));
});

test.serial('second rebuild changes nothing', async (t) => {
  const { code, rep } = await rebuildJson();
  t.is(code, 0);
  const statuses = rep.steps.flatMap((s: { hosts: Record<string, { status: string }> }) =>
    Object.values(s.hosts).map((h) => h.status),
  );
  t.false(statuses.includes('changed'));
  t.is(statuses.filter((s: string) => s === 'unchanged').length, 12);
  const text = await meshbook('rebuild', 'asm-vm-proxy', '--env', envFile);
  t.is(text.exitCode, 0);
  t.regex(text.stdout, /asm-vm-proxy\/03-env-file\s*│\s*unchanged\s*│\s*unchanged\s*│\s*unchanged/);
});

test.serial('--dry-run runs probes and prints the change it would make, without making it', async (t) => {
  await onVm('vm1', 'grep -v zipkin /etc/hosts > /tmp/h; cat /tmp/h > /etc/hosts');
  const { status, rep } = await rebuildJson('--dry-run');
  t.is(status('07-tracing', 'vm1'), 'would change');
  t.is(status('07-tracing', 'vm2'), 'unchanged');
  t.regex(rep.steps[6].hosts.vm1.planned[0], /write_file \/etc\/hosts 0644/);
  t.is(await onVm('vm1', 'grep -c zipkin /etc/hosts || true'), '0\n');
});

test.serial('a failure stops that VM, runs diagnostics there, and the next rebuild resumes', async (t) => {
  await onVm('vm2', 'rm -rf /opt/asm_vm_proxy; echo not-a-dir > /opt/asm_vm_proxy');
  const first = await rebuildJson();
  t.is(first.code, 1);
  t.is(first.status('03-env-file', 'vm2'), 'failed');
  t.is(first.status('06-diagnostics', 'vm2'), 'ok');
  t.is(first.status('06-diagnostics', 'vm1'), 'skipped');
  t.is(first.status('07-tracing', 'vm2'), 'skipped');
  t.is(first.status('07-tracing', 'vm1'), 'changed');
  t.regex(first.rep.failures.join('\n'), /^vm2: asm-vm-proxy\/03-env-file: change exited 1/m);
  await onVm('vm2', 'rm -f /opt/asm_vm_proxy');
  const second = await rebuildJson();
  t.is(second.code, 0);
  t.is(second.status('01-preflight', 'vm1'), 'ok'); // facts are always gathered
  t.is(second.status('03-env-file', 'vm1'), 'skipped'); // done before the failure
  t.is(second.status('03-env-file', 'vm2'), 'changed'); // resumed here
  t.is(second.status('07-tracing', 'vm2'), 'unchanged'); // not run on vm2 before: runs now
  const third = await rebuildJson('--from', '05-check-interception');
  t.is(third.status('03-env-file', 'vm1'), undefined);
  t.is(third.status('05-check-interception', 'vm1'), 'ok');
});

test.serial('bad inputs stop everything before the first step', async (t) => {
  const bad = path.join(tmp, 'bad.env');
  fs.writeFileSync(
    bad,
    fs
      .readFileSync(envFile, 'utf8')
      .replace(/^REGION=.*$/m, 'REGION=cn-nowhere')
      .replace(/^NS=.*$/m, 'NS=a;b'),
  );
  const r = await meshbook('rebuild', 'asm-vm-proxy', '--env', bad);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /^REGION: "cn-nowhere" is not one of the 20 regions/m);
  t.regex(r.stderr, /^NS: "a;b" is not a DNS-1123 label/m);
  t.regex(r.stderr, /nothing was run/);
  t.false(r.stdout.includes('01-preflight'));
});

// The walkthrough in a real terminal (tmux): it asks for what the env file lacks (a bad
// answer is refused with the reason, the secret is masked), shows each step and its
// commands, and takes yes / skip answers.
async function screen(session: string) {
  return (await $({ quiet: true, nothrow: true })`tmux capture-pane -p -J -t ${session} -S -2000`).stdout;
}
async function waitFor(session: string, re: RegExp, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await screen(session);
    if (re.test(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${s}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
const keys = (session: string, ...k: string[]) => $({ quiet: true })`tmux send-keys -t ${session} ${k}`;

test.serial('walkthrough in a terminal: prompts, masked secret, step confirmations', async (t) => {
  const walkEnv = path.join(tmp, 'walk.env');
  fs.writeFileSync(
    walkEnv,
    fs
      .readFileSync(envFile, 'utf8')
      .replace(/^REGION=.*\n/m, '')
      .replace(/^ACCESS_KEY_SECRET=.*\n/m, ''),
  );
  const s = `mbwt${process.pid}`;
  const cmd =
    `cd ${process.cwd()} && MESHBOOK_STATE_DIR=${stateDir} MESHBOOK_RUNS_DIR=${runsDir} npx tsx scripts/cli.ts ` +
    `walkthrough asm-vm-proxy --env ${walkEnv}; echo "EXIT=$?"; sleep 60`;
  await $`tmux new-session -d -s ${s} -x 220 -y 50 ${cmd}`;
  try {
    await waitFor(s, /ACCESS_KEY_SECRET: the AccessKey secret/);
    await keys(s, 'typed-secret-Q7x', 'Enter');
    await waitFor(s, /REGION: the region id/);
    await keys(s, 'cn-nowhere', 'Enter');
    await waitFor(s, /is not one of the 20 regions/);
    await keys(s, ...Array(10).fill('BSpace'), 'cn-hangzhou', 'Enter');
    await waitFor(s, /Run asm-vm-proxy\/01-preflight\?/);
    await keys(s, 'Enter');
    await waitFor(s, /Run asm-vm-proxy\/02-install-docker\?/);
    await keys(s, 'Down', 'Enter'); // skip this step
    for (const step of ['03-env-file', '04-run-proxy', '05-check-interception', '07-tracing']) {
      await waitFor(s, new RegExp(`Run asm-vm-proxy/${step}\\?`));
      await keys(s, 'Enter');
    }
    const out = await waitFor(s, /EXIT=\d+/, 90_000);
    t.regex(out, /EXIT=0/);
    t.regex(out, /mirrors article §3 启动参数/);
    t.regex(out, /printf '%s\\n' \S*ACCESS_KEY_ID=.*\*\*\*ACCESS_KEY_SECRET\*\*\*/);
    t.regex(out, /asm-vm-proxy\/02-install-docker\s*│\s*skipped/);
    t.regex(out, /asm-vm-proxy\/03-env-file\s*│\s*changed/); // a new secret was typed: the file changes
    t.false(out.includes('typed-secret-Q7x'));
    t.false(out.includes(CANARY));
  } finally {
    await $({ nothrow: true, quiet: true })`tmux kill-session -t ${s}`;
  }
});

test.serial(
  'the canary secret never appeared in output, journal, ledger, report or any argv/environment',
  async (t) => {
    // every run was recorded (rebuilds, the walkthrough), and one report renders them all
    const runs = JSON.parse((await meshbook('runs', '--json')).stdout) as { runs: { command: string }[] };
    t.true(runs.runs.filter((r) => r.command === 'rebuild').length >= 4);
    t.true(runs.runs.some((r) => r.command === 'walkthrough'));
    const report = await meshbook('report', '--last', '20', '-o', path.join(runsDir, 'all.html'));
    t.is(report.exitCode, 0, report.stderr);
    const ledgers = stateFiles(stateDir).filter((f) => f.startsWith('runs/'));
    t.true(ledgers.includes('runs/all.html'));
    for (const f of ledgers) t.false(fs.readFileSync(path.join(stateDir, f), 'utf8').includes('typed-secret-Q7x'), f);
    t.true(
      stateFiles(stateDir).some((f) => f.startsWith('journal/')),
      'the journals were looked at',
    );
    const { leaks, samples } = canaryLeaks(watcher, CANARY, outputs, stateDir);
    t.true(samples > 20, `only ${samples} samples`);
    t.deepEqual(leaks, []);
  },
);

test.serial('lab down leaves the machine as it was', async (t) => {
  await labDown(lab);
  t.deepEqual(await hostState(lab.prefix), before);
});

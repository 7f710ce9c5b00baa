// kubeadm-nginmesh on lab VMs, for real over SSH: preflight, the kubeadm config on the
// control plane (vm1, the first VM), proxy_init's rules in a pod network namespace on every
// VM and their check. kubeadm init/join and the token are "not in lab" (no kubelet, no
// container runtime); cluster steps too. Twice: the second run changes nothing. SSH keeps
// working (the rules never touch the VM's own namespace); the machine is left as it was.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labUp, labDown } from '../lab/vms.ts';
import { sshVm, knownHostsOf } from './helpers/lab-ssh.ts';
import { hostState, stateFiles } from './helpers/host-state.ts';
import rb from '../scripts/kubeadm-nginmesh/index.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import { reportJson } from '../scripts/engine/report.ts';
import { Journal } from '../scripts/engine/journal.ts';
import { redact } from '../scripts/engine/redact.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-kn-'));
// a subnet of its own, and ssh ControlMaster sockets under this test's TMPDIR, so another
// lab running at the same time with the same VM addresses never shares a connection
process.env.TMPDIR = tmp;
const lab = {
  prefix: 'mbkn',
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
  subnet: '192.168.219.0/24',
};
const VM1 = '192.168.219.250';
const envFile = path.join(tmp, 'test.env');
const stateDir = path.join(tmp, 'state');
const RB = 'kubeadm-nginmesh';
const TOKEN_SHAPE = /\b[a-z0-9]{6}\.[a-z0-9]{16}\b/;
let before: Record<string, string>;
const outputs: string[] = [];

/** A rebuild as `meshbook rebuild kubeadm-nginmesh --json` does it, through the engine's API
 *  (the runbook object itself, so the test does not depend on the CLI's registry). */
async function rebuildJson(opts: { only?: string } = {}) {
  const loaded = loadInputs(envFile, [rb], { checkFiles: true });
  const report = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    ssh: {
      knownHosts: path.resolve(loaded.env.SSH_KNOWN_HOSTS),
      netns: loaded.inventory.netns ?? loaded.env.LAB_NETNS,
      connectTimeoutS: 10,
      commandTimeoutMs: 60_000,
    },
    journal: new Journal(envFile, stateDir),
    only: opts.only,
  });
  const text = redact(JSON.stringify(reportJson(report)));
  outputs.push(text);
  const rep = JSON.parse(text);
  const status = (step: string, host: string) =>
    rep.steps.find((s: { id: string }) => s.id === `${RB}/${step}`)?.hosts[host]?.status;
  const lines = (step: string, host: string): string[] =>
    rep.steps.find((s: { id: string }) => s.id === `${RB}/${step}`)?.hosts[host]?.lines ?? [];
  return { code: report.failed ? 1 : 0, rep, status, lines };
}

async function onVm(name: string, script: string) {
  return (await sshVm(lab, knownHostsOf(envFile), name, script)).stdout;
}

test.before(async () => {
  before = await hostState();
  await labUp({ ...lab, vms: 3 });
  const env = fs
    .readFileSync(lab.envFile, 'utf8')
    .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`)
    .concat(`KUBECONFIG_FILE=${path.join(tmp, 'admin.conf')}\n`);
  fs.writeFileSync(envFile, env, { mode: 0o600 });
});

test.after.always(async () => {
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const STEPS_NOT_IN_LAB_ON_CP = ['03-kubeadm-dry-run', '04-kubeadm-init', '05-kubeconfig', '07-join-token'];

test.serial('first rebuild: the config and the interception rules are real, kubeadm is "not in lab"', async (t) => {
  const { code, status, lines, rep } = await rebuildJson();
  t.is(code, 0, JSON.stringify(rep.failures));
  for (const h of ['vm1', 'vm2', 'vm3']) {
    t.is(status('01-preflight', h), 'ok');
    t.is(status('12-proxy-init', h), 'changed');
    t.is(status('13-check-interception', h), 'ok');
  }
  t.is(status('02-kubeadm-config', 'vm1'), 'changed');
  for (const s of STEPS_NOT_IN_LAB_ON_CP) t.is(status(s, 'vm1'), 'not in lab', s);
  t.regex(lines('04-kubeadm-init', 'vm1').join('\n'), /not in lab: the lab has no kubelet and no container runtime/);
  for (const h of ['vm2', 'vm3']) {
    t.is(status('02-kubeadm-config', h), 'skipped');
    t.is(status('04-kubeadm-init', h), 'skipped');
    t.is(status('06-join-status', h), 'ok');
    t.is(status('08-join-workers', h), 'not in lab');
  }
  t.is(status('06-join-status', 'vm1'), 'skipped');
  t.is(status('08-join-workers', 'vm1'), 'skipped');
  for (const s of ['09-pod-network', '10-nodes-ready', '11-nodeport']) t.is(status(s, 'cluster'), 'not in lab', s);
  const check = lines('13-check-interception', 'vm2');
  t.true(
    check.includes('present: ISTIO_REDIRECT redirects tcp to port 15001 (-p tcp -j REDIRECT --to-ports 15001)'),
    check.join('\n'),
  );
  t.true(
    check.includes('present: ISTIO_OUTPUT #4: traffic to 172.19.0.0/20 goes to ISTIO_REDIRECT (-d 172.19.0.0/20)'),
  );
  t.true(check.includes('present: ISTIO_OUTPUT #5: everything else returns (final -j RETURN, as with -i)'));
  t.false(fs.existsSync(path.join(tmp, 'admin.conf')));
});

test.serial(
  "on the VMs: the v1beta4 config on vm1 only; the rules in the pod namespace, not the VM's own",
  async (t) => {
    const cfg = await onVm(
      'vm1',
      'stat -c %a /etc/kubernetes/meshbook-kubeadm.yaml; grep -E "^(apiVersion|kind|kubernetesVersion|  ' +
        '(podSubnet|serviceSubnet|advertiseAddress)):" /etc/kubernetes/meshbook-kubeadm.yaml',
    );
    t.is(
      cfg,
      [
        '644',
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: InitConfiguration',
        `  advertiseAddress: ${VM1}`,
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: ClusterConfiguration',
        'kubernetesVersion: v1.31.2',
        '  podSubnet: 172.18.0.0/16',
        '  serviceSubnet: 172.19.0.0/20',
        '',
      ].join('\n'),
    );
    t.is(await onVm('vm2', 'test -e /etc/kubernetes/meshbook-kubeadm.yaml && echo present || echo absent'), 'absent\n');
    const pod = await onVm(
      'vm3',
      'ip netns exec nginmesh-pod iptables-save -t nat | grep -c "^-A"; iptables-save -t nat | grep -c ISTIO_ || true',
    );
    t.is(pod, '8\n0\n'); // ISTIO_REDIRECT 1, ISTIO_OUTPUT 5 (one CIDR), PREROUTING and OUTPUT jumps
    // the machine's own namespaces are untouched: no nginmesh-pod outside the VMs
    t.false((await $({ quiet: true, nothrow: true })`ip netns list`).stdout.includes('nginmesh-pod'));
  },
);

test.serial('second rebuild changes nothing, and SSH still gets in', async (t) => {
  const { code, rep, status } = await rebuildJson();
  t.is(code, 0, JSON.stringify(rep.failures));
  const changed = rep.steps.flatMap((s: { id: string; hosts: Record<string, { status: string; lines: string[] }> }) =>
    Object.entries(s.hosts)
      .filter(([, h]) => h.status === 'changed')
      .map(([h, r]) => `${s.id} on ${h}: ${r.lines.join(' / ')}`),
  );
  t.deepEqual(changed, []);
  t.is(status('02-kubeadm-config', 'vm1'), 'unchanged');
  for (const h of ['vm1', 'vm2', 'vm3']) t.is(status('12-proxy-init', h), 'unchanged');
});

test.serial('a rule removed in the pod namespace is found by the check and put back whole', async (t) => {
  await onVm(
    'vm2',
    'ip netns exec nginmesh-pod iptables -t nat -D ISTIO_OUTPUT -m owner ' +
      '--uid-owner 1337 -m comment --comment istio/bypass-envoy -j RETURN',
  );
  const only = await rebuildJson({ only: '13-check-interception' });
  t.is(only.code, 1);
  t.is(only.status('13-check-interception', 'vm2'), 'failed');
  t.is(only.status('13-check-interception', 'vm1'), 'ok');
  t.true(
    only
      .lines('13-check-interception', 'vm2')
      .includes("missing: ISTIO_OUTPUT: the proxy's own traffic returns (-m owner --uid-owner 1337 -j RETURN)"),
  );
  const fixed = await rebuildJson();
  t.is(fixed.code, 0, JSON.stringify(fixed.rep.failures));
  t.is(fixed.status('12-proxy-init', 'vm2'), 'changed');
  t.is(fixed.status('12-proxy-init', 'vm1'), 'unchanged');
  t.is(fixed.status('13-check-interception', 'vm2'), 'ok');
  t.is(await onVm('vm2', 'ip netns exec nginmesh-pod iptables -t nat -S PREROUTING | grep -c ISTIO_REDIRECT'), '1\n');
});

test.serial('no bootstrap token ever shows; lab down leaves the machine as it was', async (t) => {
  for (const o of outputs) t.false(TOKEN_SHAPE.test(o), o.slice(0, 200));
  const journals = stateFiles(stateDir);
  t.true(
    journals.some((f) => f.startsWith('journal/kubeadm-nginmesh/')),
    journals.join(', '),
  );
  for (const f of journals) t.false(TOKEN_SHAPE.test(fs.readFileSync(path.join(stateDir, f), 'utf8')), f);
  await labDown(lab);
  t.deepEqual(await hostState(), before);
});

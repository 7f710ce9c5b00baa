// kubeadm-nginmesh on a lab with its cluster, for real: preflight and the kubeadm config on
// the control plane (vm1, the first VM) over SSH; 11-nodeport against the lab's ingress
// gateway Service (Istio's ports, NodePorts that answer on the node); proxy_init's rules in a
// pod of the lab cluster (Deployment nginmesh-lab, with the lab's NGINX stand-in for the
// nginmesh sidecar) and 13's check proven by real requests: the app port answered through the
// proxy, the proxy's own uid not looped back. kubeadm init/join and the token are "not in
// lab" (no kubelet, no container runtime). Twice: the second run changes nothing; a rule
// taken out is seen and put back; deleting the pod's namespace removes pod, proxy and rules;
// the machine is left as it was.
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
import { labClusterFor } from '../lab/cluster/provider.ts';
import { labKubectl } from '../lab/cli.ts';

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
const NODE = '192.168.219.100';
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
    cluster: labClusterFor(loaded.env),
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

/** A command in the nginmesh pod, through the lab's kubectl. */
async function inPod(script: string) {
  return labKubectl(lab, ['-n', 'nginmesh-lab', 'exec', 'deploy/nginmesh-lab', '--', 'bash', '-c', script]);
}

test.before(async () => {
  before = await hostState();
  await labUp({ ...lab, vms: 3, cluster: true });
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

test.serial(
  'first rebuild: config, NodePort and proxy_init in a lab pod are real, kubeadm is "not in lab"',
  async (t) => {
    const { code, status, lines, rep } = await rebuildJson();
    t.is(code, 0, JSON.stringify(rep.failures));
    for (const h of ['vm1', 'vm2', 'vm3']) t.is(status('01-preflight', h), 'ok');
    t.is(status('02-kubeadm-config', 'vm1'), 'changed');
    for (const s of STEPS_NOT_IN_LAB_ON_CP) t.is(status(s, 'vm1'), 'not in lab', s);
    t.regex(lines('04-kubeadm-init', 'vm1').join('\n'), /not in lab: the lab has no kubelet and no container runtime/);
    for (const h of ['vm2', 'vm3']) {
      t.is(status('02-kubeadm-config', h), 'skipped');
      t.is(status('04-kubeadm-init', h), 'skipped');
      t.is(status('06-join-status', h), 'ok');
      t.is(status('08-join-workers', h), 'not in lab');
      // the lab cluster's pods all run on its one node: the pod's part runs once, on vm1's row
      for (const s of ['12-proxy-init', '13-check-interception']) {
        t.is(status(s, h), 'skipped', `${s} ${h}`);
        t.regex(lines(s, h)[0], /^in the lab this runs once, on the control plane's row \(vm1\)/);
      }
    }
    t.is(status('06-join-status', 'vm1'), 'skipped');
    t.is(status('08-join-workers', 'vm1'), 'skipped');
    for (const s of ['09-pod-network', '10-nodes-ready']) t.is(status(s, 'cluster'), 'not in lab', s);
    // 11: the lab gateway has Istio's ports; its LoadBalancer address is the node
    t.is(status('11-nodeport', 'cluster'), 'ok', lines('11-nodeport', 'cluster').join('\n'));
    t.deepEqual(lines('11-nodeport', 'cluster').slice(0, 4), [
      `istio-system/istio-ingressgateway: LoadBalancer ${NODE}`,
      `INGRESS_HOST=${NODE}`,
      'INGRESS_PORT=80',
      'SECURE_INGRESS_PORT=443',
    ]);
    // 12: in a pod of the lab cluster, named in the output
    t.is(status('12-proxy-init', 'vm1'), 'changed');
    const init = lines('12-proxy-init', 'vm1').join('\n');
    t.regex(init, /deployment\.apps\/nginmesh-lab created/);
    t.regex(
      init,
      /the proxy \(stand-in for the nginmesh sidecar\) started in pod nginmesh-lab\/nginmesh-lab-\S+ \(172\.18\.0\.\d+\)/,
    );
    t.regex(
      init,
      /installed prepare_proxy\.sh -p 15001 -u 1337 -i 172\.19\.0\.0\/20 rules in pod nginmesh-lab\/nginmesh-lab-/,
    );
    // 13: every rule, in order, then the requests that prove them
    t.is(status('13-check-interception', 'vm1'), 'ok');
    const check = lines('13-check-interception', 'vm1');
    t.true(
      check.includes('present: ISTIO_REDIRECT redirects tcp to port 15001 (-p tcp -j REDIRECT --to-ports 15001)'),
      check.join('\n'),
    );
    t.true(
      check.includes('present: ISTIO_OUTPUT #4: traffic to 172.19.0.0/20 goes to ISTIO_REDIRECT (-d 172.19.0.0/20)'),
    );
    t.true(check.includes('present: ISTIO_OUTPUT #5: everything else returns (final -j RETURN, as with -i)'));
    const proven = check.filter((l) => l.startsWith('proven: ')).join('\n');
    t.regex(
      proven,
      /answered through the proxy: uid 1337 GET http:\/\/172\.19\.\d+\.\d+:8080\/hello\/nginmesh -> 200, X-Nginmesh-Proxy: inbound via 15001 \(nginmesh proxy, uid 1337\), the app answered "Hello nginmesh\(172\.18\.0\.\d+\)"/,
    );
    t.regex(
      proven,
      /the proxy's own user \(uid 1337\) is not looped back: uid 1337 GET \S+:15021\/healthz\/ready -> 200, no X-Nginmesh-Proxy header/,
    );
    t.regex(
      proven,
      /any other user is redirected to the proxy: root GET \S+:15021\/healthz\/ready -> 200, X-Nginmesh-Proxy: outbound via 15001/,
    );
    t.false(fs.existsSync(path.join(tmp, 'admin.conf')));
  },
);

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
    // no rules on the VMs themselves: they are in the pod's network namespace
    t.is(await onVm('vm3', 'iptables-save -t nat | grep -c ISTIO_ || true'), '0\n');
    const pod = await inPod('iptables-save -t nat | grep -c "^-A ISTIO_\\|ISTIO_REDIRECT$\\|ISTIO_OUTPUT$"');
    t.is(pod.stdout, '8\n', pod.stderr); // ISTIO_REDIRECT 1, ISTIO_OUTPUT 5 (one CIDR), PREROUTING and OUTPUT jumps
    t.false((await $({ quiet: true, nothrow: true })`ip netns list`).stdout.includes('nginmesh-pod'));
  },
);

test.serial('the NodePorts and the LoadBalancer ports answer on the node; the lab env names one', async (t) => {
  t.regex(fs.readFileSync(lab.envFile, 'utf8'), /^REACH_PORT=31021$/m);
  const get = (url: string) => onVm('vm2', `curl -s -o /dev/null -w '%{http_code}' -m 3 ${url} || true`);
  t.is(await get(`http://${NODE}:31021/healthz/ready`), '200'); // status-port's NodePort
  t.is(await get(`http://${NODE}:15021/healthz/ready`), '200'); // the LoadBalancer port
  // http2 (80 -> 8080, NodePort 31380): no Gateway listens on 8080 yet, so nothing answers
  t.is(await get(`http://${NODE}:31380/`), '000');
});

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
  t.is(status('12-proxy-init', 'vm1'), 'unchanged');
  t.is(status('13-check-interception', 'vm1'), 'ok');
});

test.serial(
  'the uid rule taken out of the pod: the proxy loops its own traffic, 13 says so, 12 puts it back',
  async (t) => {
    const del = await inPod(
      'iptables -t nat -D ISTIO_OUTPUT -m owner --uid-owner 1337 -m comment --comment istio/bypass-envoy -j RETURN',
    );
    t.is(del.code, 0, del.stderr);
    const only = await rebuildJson({ only: '13-check-interception' });
    t.is(only.code, 1);
    t.is(only.status('13-check-interception', 'vm1'), 'failed');
    const lines = only.lines('13-check-interception', 'vm1');
    t.true(
      lines.includes("missing: ISTIO_OUTPUT: the proxy's own traffic returns (-m owner --uid-owner 1337 -j RETURN)"),
    );
    t.regex(
      lines.join('\n'),
      /error: not proven: the proxy's own user \(uid 1337\) is not looped back: uid 1337 GET \S+ -> \d+, X-Nginmesh-Proxy: outbound/,
    );
    const fixed = await rebuildJson();
    t.is(fixed.code, 0, JSON.stringify(fixed.rep.failures));
    t.is(fixed.status('12-proxy-init', 'vm1'), 'changed');
    t.is(fixed.status('13-check-interception', 'vm1'), 'ok');
    t.is((await inPod('iptables -t nat -S PREROUTING | grep -c ISTIO_REDIRECT')).stdout, '1\n');
  },
);

test.serial("deleting the pod's namespace takes the pod, its proxy and its rules with it", async (t) => {
  const podNetns = async () =>
    (await $({ quiet: true })`ip netns list`).stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((l) => l.startsWith(`${lab.prefix}-pod-`));
  const [netns] = await podNetns(); // the lab's only pod: nginmesh-lab's
  const pids = (await $({ quiet: true })`ip netns pids ${netns}`).stdout.split('\n').filter(Boolean);
  const comms = await Promise.all(pids.map((p) => fs.promises.readFile(`/proc/${p}/comm`, 'utf8').catch(() => '')));
  t.true(
    comms.some((c) => c.trim() === 'nginx'),
    comms.join(','),
  ); // the proxy ran in the pod
  const del = await labKubectl(lab, ['delete', 'namespace', 'nginmesh-lab']);
  t.is(del.code, 0, del.stderr);
  t.deepEqual(await podNetns(), []);
  t.deepEqual(
    pids.filter((p) => fs.existsSync(`/proc/${p}`)),
    [],
  );
  const only = await rebuildJson({ only: '13-check-interception' });
  t.is(only.status('13-check-interception', 'vm1'), 'failed');
  t.regex(only.lines('13-check-interception', 'vm1').join('\n'), /deployments\.apps "nginmesh-lab" not found/);
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

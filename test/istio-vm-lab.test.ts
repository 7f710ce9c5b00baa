// istio-vm on lab VMs, for real over SSH: preflight, the routes via the lab's node address,
// the reachability check (not in lab without the cluster: no node; with a node at .100
// and REACH_PORT: ok when it answers, failed when nothing does), the four files (lab
// stand-ins for istioctl's output) with their modes, the hosts line once. The cluster
// steps, the package, ownership, systemd and the log check report "not in lab" with the
// reason. Twice: the second run changes nothing;
// drift is repaired on the VM that drifted only. A node namespace attached at .100 then
// proves the route for real (a "pod" address behind it answers). The canary token never
// shows in output (even before redaction), state or any process's argv; the machine is
// left as it was. A run is what `meshbook rebuild istio-vm --json` does, in-process (so
// the test does not depend on the CLI's runbook list).
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labUp, labDown, attachToSwitch } from '../lab/vms.ts';
import { canaryLeaks, stateFiles, hostState, watchProcesses } from './helpers/host-state.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import { reportJson, textHooks } from '../scripts/engine/report.ts';
import { Journal } from '../scripts/engine/journal.ts';
import rb from '../scripts/istio-vm/index.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const CANARY = `canary-${crypto.randomBytes(6).toString('hex')}-istio-token`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ivm-'));
const PREFIX = 'mbivm';
const lab = {
  prefix: PREFIX,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const envFile = path.join(tmp, 'test.env');
const stateDir = path.join(tmp, 'state');
const VMS = ['vm1', 'vm2', 'vm3'];
const NODE = '192.168.0.100';
let before: Awaited<ReturnType<typeof hostState>>;
let watcher: ReturnType<typeof watchProcesses>;
const outputs: string[] = [];

// ssh's ControlPath (engine/ssh.ts) lives in $TMPDIR and is keyed by user@host:port only:
// another lab with a VM at the same address (a test running beside this one) would share
// the multiplexed connection. A private TMPDIR keeps this lab's connections its own.
const sshTmp = path.join(tmp, 't');
fs.mkdirSync(sshTmp, { mode: 0o700 });
process.env.TMPDIR = sshTmp;

async function rebuild(...extra: string[]) {
  const only = extra.includes('--only') ? extra[extra.indexOf('--only') + 1] : undefined;
  const loaded = loadInputs(envFile, [rb], { checkFiles: true });
  const text: string[] = [];
  const report = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    ssh: {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns ?? loaded.env.LAB_NETNS,
      connectTimeoutS: 10,
      commandTimeoutMs: 60_000,
    },
    dryRun: extra.includes('--dry-run'),
    only,
    journal: new Journal(envFile, stateDir),
    hooks: textHooks((x) => text.push(x)),
  });
  // kept before redaction: the token must never have reached a line at all
  const json = JSON.stringify(reportJson(report));
  outputs.push(json, ...text);
  const rep = JSON.parse(json);
  const host = (step: string, h: string) =>
    rep.steps.find((x: { id: string }) => x.id === `istio-vm/${step}`)?.hosts[h];
  return {
    code: report.failed ? 1 : 0,
    rep,
    host,
    status: (step: string, h: string) => host(step, h)?.status as string | undefined,
  };
}

async function onVm(name: string, script: string) {
  const inv = fs.readFileSync(lab.inventoryFile, 'utf8');
  const addr = inv.match(new RegExp(`name: ${name}\\n\\s+host: (\\S+)`))![1];
  const r = await $({
    input: script,
    nothrow: true,
    quiet: true,
  })`ip netns exec ${`${PREFIX}-ws`} ssh -T -F ${path.join(lab.dir, 'ssh_config')} ${`root@${addr}`} bash -s`;
  return r.stdout;
}

test.before(async () => {
  before = await hostState();
  await labUp({ ...lab, vms: 3 });
  const env = fs
    .readFileSync(lab.envFile, 'utf8')
    .replace(/^LAB_ISTIO_TOKEN=.*$/m, `LAB_ISTIO_TOKEN=${CANARY}`)
    .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`);
  if (!env.includes(`LAB_ISTIO_TOKEN=${CANARY}`))
    throw new Error('the lab env has no LAB_ISTIO_TOKEN line (lab/outputs.ts)');
  fs.writeFileSync(envFile, env, { mode: 0o600 });
  watcher = watchProcesses(CANARY);
});

test.after.always(async () => {
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const CLUSTER_STEPS = [
  '02-mesh-values',
  '03-istio-operator',
  '04-eastwest-manifest',
  '05-eastwest-gateway',
  '06-expose-istiod',
  '07-namespace',
  '08-workloadgroup',
  '09-workload-files',
  '11-istiod-address',
  '20-workloadentry',
];

test.serial('first rebuild: VM-side file, route and hosts steps run; the rest says "not in lab" and why', async (t) => {
  const { code, rep, status, host } = await rebuild();
  t.is(code, 0, JSON.stringify(rep.failures));
  for (const s of CLUSTER_STEPS) {
    t.is(status(s, 'cluster'), 'not in lab', s);
    t.regex(
      host(s, 'cluster').lines.join('\n'),
      /^not in lab: (the lab has no Kubernetes cluster|the lab has no istiod|the lab has no east-west gateway|istioctl is not in the lab)/m,
    );
  }
  t.is(status('10-node-ip', 'cluster'), 'skipped'); // NODE_IP is in the lab env
  for (const h of VMS) {
    t.is(status('01-preflight', h), 'ok');
    t.is(status('12-routes', h), 'changed');
    t.is(status('13-reach-node', h), 'not in lab'); // no cluster: nothing at .100, no REACH_PORT
    t.is(status('14-install-files', h), 'changed');
    t.is(status('15-sidecar-package', h), 'not in lab');
    t.is(status('16-hosts', h), 'changed');
    t.is(status('17-ownership', h), 'not in lab');
    t.is(status('18-start-istio', h), 'not in lab');
    t.is(status('19-check-logs', h), 'not in lab');
    t.is(status('21-diagnostics', h), 'skipped');
  }
  const lines = (s: string, h = 'vm1') => host(s, h).lines.join('\n');
  t.regex(
    lines('12-routes'),
    /route 172\.18\.0\.0\/16 via 192\.168\.0\.100: set\nroute 172\.19\.0\.0\/20 via 192\.168\.0\.100: set/,
  );
  t.is(
    lines('13-reach-node'),
    'not in lab: the lab was built without its cluster (lab up --no-cluster): no node answers at 192.168.0.100; ' +
      'set REACH_PORT to a port something in the lab serves there to check the path anyway',
  );
  t.regex(lines('14-install-files'), /^lab stand-ins: these files were made by meshbook for the lab, NOT by istioctl/m);
  t.regex(lines('14-install-files'), /\/var\/run\/secrets\/tokens\/istio-token: written \(mode 600\)/);
  t.regex(
    lines('15-sidecar-package', 'vm3'),
    /istio-sidecar: not installed; wants 1\.22\.3\nnot in lab: the lab has no package mirror/,
  );
  t.regex(
    lines('17-ownership'),
    /the istio-proxy user does not exist \(the istio-sidecar package creates it\)\nnot in lab: the istio-proxy user comes with the istio-sidecar package/,
  );
  t.regex(lines('18-start-istio'), /istio\.service is not enabled\nnot in lab: the lab has no systemd/);
  t.regex(
    lines('19-check-logs'),
    /no \/var\/log\/istio\/istio\.log on this VM \(istio has not run here\)\nnot in lab: istio never runs in the lab/,
  );
  t.regex(lines('16-hosts'), /\/etc\/hosts: 192\.168\.0\.100 istiod\.istio-system\.svc/);
});

test.serial('on the VMs: files, modes, the token, routes and one hosts line', async (t) => {
  const want = crypto.createHash('sha256').update(CANARY).digest('hex');
  for (const h of VMS) {
    const out = await onVm(
      h,
      [
        'stat -c "%a %U %n" /etc/certs/root-cert.pem /var/run/secrets/tokens/istio-token ' +
          '/var/lib/istio/envoy/cluster.env /etc/istio/config/mesh',
        'sha256sum < /var/run/secrets/tokens/istio-token | cut -d" " -f1',
        "grep -c '^ISTIO_META_CLUSTER_ID=.lab-cluster.$' /var/lib/istio/envoy/cluster.env",
        'grep -c "meshbook lab stand-in" /etc/certs/root-cert.pem /etc/istio/config/mesh',
        'grep discoveryAddress /etc/istio/config/mesh',
        'grep -c istiod /etc/hosts; grep istiod /etc/hosts',
        'ip -4 route show 172.18.0.0/16; ip -4 route show 172.19.0.0/20',
      ].join('\n'),
    );
    t.is(
      out,
      [
        '644 root /etc/certs/root-cert.pem',
        '600 root /var/run/secrets/tokens/istio-token',
        '644 root /var/lib/istio/envoy/cluster.env',
        '644 root /etc/istio/config/mesh',
        want,
        '1',
        '/etc/certs/root-cert.pem:1',
        '/etc/istio/config/mesh:1',
        '  discoveryAddress: istiod.istio-system.svc:15012',
        '1',
        `${NODE} istiod.istio-system.svc`,
        `172.18.0.0/16 via ${NODE} dev eth0 `,
        `172.19.0.0/20 via ${NODE} dev eth0 `,
        '',
      ].join('\n'),
      h,
    );
  }
});

test.serial('second rebuild changes nothing', async (t) => {
  const { code, rep, status } = await rebuild();
  t.is(code, 0);
  const statuses = rep.steps.flatMap((s: { hosts: Record<string, { status: string }> }) =>
    Object.values(s.hosts).map((x) => x.status),
  );
  t.false(statuses.includes('changed'));
  for (const h of VMS)
    for (const s of ['12-routes', '14-install-files', '16-hosts']) t.is(status(s, h), 'unchanged', `${s} ${h}`);
});

test.serial('drift on one VM (route gone, token mode, duplicate hosts line) is repaired there only', async (t) => {
  await onVm(
    'vm2',
    [
      'ip route del 172.19.0.0/20',
      'chmod 644 /var/run/secrets/tokens/istio-token',
      `echo '10.0.0.9 istiod.istio-system.svc' >> /etc/hosts`,
    ].join('\n'),
  );
  const dry = await rebuild('--dry-run');
  t.is(dry.status('12-routes', 'vm2'), 'would change');
  t.regex(dry.host('14-install-files', 'vm2').lines.join('\n'), /istio-token: absent or different, wants mode 600/);
  t.false(JSON.stringify(dry.rep).includes(CANARY));
  const r = await rebuild();
  t.is(r.code, 0);
  for (const s of ['12-routes', '14-install-files', '16-hosts']) {
    t.is(r.status(s, 'vm2'), 'changed', s);
    t.is(r.status(s, 'vm1'), 'unchanged', s);
  }
  t.is(
    await onVm(
      'vm2',
      'stat -c %a /var/run/secrets/tokens/istio-token; grep -c istiod /etc/hosts; ip -4 route show 172.19.0.0/20',
    ),
    `600\n1\n172.19.0.0/20 via ${NODE} dev eth0 \n`,
  );
});

test.serial('with a node at .100 the route carries traffic: a pod address behind it answers', async (t) => {
  const node = `${PREFIX}-node1`;
  await attachToSwitch({ ...lab, netns: node, port: 'node1', address: `${NODE}/24`, create: true });
  await $`ip -n ${node} link set lo up`;
  await $`ip -n ${node} addr add 172.18.0.5/32 dev lo`;
  // a listener for the reachability check (6443) and for the "pod" (172.18.0.5:8080); a
  // client that hangs up at once (the reachability probe) must not take it down
  const server = $({
    nothrow: true,
    quiet: true,
  })`ip netns exec ${node} node -e ${"const n=require('net');for (const [h,p] of [['192.168.0.100',6443],['172.18.0.5',8080]]) n.createServer((s)=>{s.on('error',()=>{});s.end('pod\\n')}).listen(p,h)"}`;
  try {
    for (
      let i = 0;
      i < 50 &&
      !(await $({ nothrow: true, quiet: true })`ip netns exec ${node} ss -ltnH`).stdout.includes('172.18.0.5:8080');
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    // the previous test's probe left a FAILED ARP entry for .100 on the VMs; a fast rerun
    // can hit it before the kernel retries: start from a clean neighbour table
    for (const vm of ['vm1', 'vm2', 'vm3']) await onVm(vm, 'ip neigh flush all');
    // REACH_PORT named: the step runs as written, something answers there: ok
    fs.appendFileSync(envFile, 'REACH_PORT=6443\n');
    const r = await rebuild('--only', '13-reach-node');
    t.is(r.status('13-reach-node', 'vm1'), 'ok');
    t.regex(r.host('13-reach-node', 'vm3').lines.join('\n'), /reachable: tcp 192\.168\.0\.100:6443 answers/);
    // nothing answers on that port: failed, never ok
    fs.writeFileSync(envFile, fs.readFileSync(envFile, 'utf8').replace('REACH_PORT=6443', 'REACH_PORT=6444'));
    const no = await rebuild('--only', '13-reach-node');
    t.is(no.code, 1);
    t.is(no.status('13-reach-node', 'vm2'), 'failed');
    t.regex(
      no.host('13-reach-node', 'vm2').lines.join('\n'),
      /not reachable: tcp 192\.168\.0\.100:6444 does not answer within 2 s\nerror: node 192\.168\.0\.100 is not reachable/,
    );
    fs.writeFileSync(envFile, fs.readFileSync(envFile, 'utf8').replace('REACH_PORT=6444\n', ''));
    t.is(await onVm('vm1', "timeout 3 bash -c 'exec 3<>/dev/tcp/172.18.0.5/8080; cat <&3'"), 'pod\n');
    // without the route the same address is unreachable: the route is what carries it
    t.is(
      await onVm(
        'vm1',
        "ip route del 172.18.0.0/16; timeout 3 bash -c 'exec " +
          "3<>/dev/tcp/172.18.0.5/8080' 2>/dev/null && echo reached || echo unreachable",
      ),
      'unreachable\n',
    );
    const again = await rebuild();
    t.is(again.status('12-routes', 'vm1'), 'changed');
    t.is(again.status('12-routes', 'vm2'), 'unchanged');
  } finally {
    server.kill();
    await server;
  }
});

test.serial('the canary token never appeared in output, state or any argv/environment', (t) => {
  t.true(
    stateFiles(stateDir).some((f) => f.startsWith('journal/')),
    'the journals were looked at',
  );
  const { leaks, samples } = canaryLeaks(watcher, CANARY, outputs, stateDir);
  t.true(samples > 20, `only ${samples} samples`);
  t.deepEqual(leaks, []);
});

test.serial('lab down leaves the machine as it was', async (t) => {
  await labDown(lab);
  t.deepEqual(await hostState(), before);
});

// The local lab (lab/): namespaces posing as SSH-reachable VMs. Needs root on Linux
// (skipped otherwise). Runs its own lab with a unique prefix, a temp state dir and temp
// env/inventory paths, so it never touches a developer's lab; every test is serial.
import test from 'ava';
import { $ } from 'zx';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, promises as fsp, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import {
  attachToSwitch,
  labDown,
  labStatus,
  labUp,
  readState,
  resolveConfig,
  sshArgv,
  vmExec,
  wsExec,
  type LabOptions,
  type LabState,
} from '../lab/vms.ts';
import { REPO_ROOT, VM_INIT } from '../lab/config.ts';

const enabled = process.platform === 'linux' && process.getuid?.() === 0;
const serial = enabled ? test.serial : test.serial.skip;

const sh = $({ quiet: true, nothrow: true });
const PREFIX = `mlt${process.pid}`;
const FAIL_PREFIX = `mlt${process.pid}f`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshbook-labtest-'));
const opts: LabOptions = {
  prefix: PREFIX,
  dir: path.join(tmp, 'state'),
  envFile: path.join(tmp, 'out', 'lab.env'),
  inventoryFile: path.join(tmp, 'out', 'lab-inventory.yaml'),
};
const cfg = resolveConfig(opts);
const failOpts: LabOptions = {
  prefix: FAIL_PREFIX,
  dir: path.join(tmp, 'fail', 'deep', 'state'),
  envFile: path.join(tmp, 'fail-out', 'lab.env'),
  inventoryFile: path.join(tmp, 'fail-out', 'lab-inventory.yaml'),
};
const ours = (line: string) => line.startsWith(`${PREFIX}-`) || line.startsWith(`${FAIL_PREFIX}-`);

// ---- the machine, before and after ---------------------------------------------------------

interface MachineSnapshot {
  hosts: string;
  routes: string;
  routes6: string;
  iptables: string;
  netns: string[];
  links: string[];
  mounts: string[];
  dotSsh: boolean;
}

/** iptables-save minus its timestamp comments and packet counters (other traffic moves those). */
const normIptables = (s: string) =>
  s
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[*]'))
    .join('\n');

async function snapshot(): Promise<MachineSnapshot> {
  const lines = (s: string) => s.split('\n').filter(Boolean);
  return {
    hosts: readFileSync('/etc/hosts', 'utf8'),
    routes: (await sh`ip route`).stdout,
    routes6: (await sh`ip -6 route`).stdout,
    iptables: normIptables((await sh`iptables-save -t filter`).stdout + (await sh`iptables-save -t nat`).stdout),
    netns: lines((await sh`ip netns list`).stdout)
      .map((l) => l.split(' ')[0])
      .filter(ours),
    links: lines((await sh`ip -o link show`).stdout).map((l) => l.split(':')[1].trim()),
    // a netns handle (/run/netns/<name>) is the only mount the lab may add to the machine
    mounts: lines(readFileSync('/proc/self/mountinfo', 'utf8'))
      .filter((l) => !/ \/run\/netns(\/| )/.test(l))
      .map((l) => l.split(' ').slice(3, 5).join(' ')),
    dotSsh: existsSync(path.join(os.homedir(), '.ssh')),
  };
}

let before: MachineSnapshot;
let state: LabState;
let hostServer: Server | undefined;

test.before(async () => {
  if (enabled) before = await snapshot();
});

test.after.always(async () => {
  hostServer?.close();
  if (enabled) {
    await labDown(opts).catch(() => {});
    await labDown(failOpts).catch(() => {});
  }
  await fsp.rm(tmp, { recursive: true, force: true });
});

// ---- helpers ------------------------------------------------------------------------------

/** The system OpenSSH client from the workstation namespace, script over stdin. */
function ssh(address: string, script: string) {
  return sh({ input: `set -euo pipefail\n${script}\n` })`ip netns exec ${cfg.wsNetns} ssh ${[
    // -F none: no ssh_config (the machine's or ~/.ssh/config); key and known_hosts are the lab's
    '-F',
    'none',
    '-i',
    cfg.keyFile,
    '-o',
    `UserKnownHostsFile=${cfg.knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'LogLevel=ERROR',
  ]} ${`root@${address}`} bash -s`;
}

const nsPids = async (names: string[]) =>
  (
    await Promise.all(
      names.map(async (n) => (await sh`ip netns pids ${n}`).stdout.split('\n').filter(Boolean).map(Number)),
    )
  )
    .flat()
    .sort((a, b) => a - b);

const labNamespaces = (s: LabState) => [s.switch.netns, s.workstation.netns, ...s.vms.map((v) => v.netns)];

const cli = (args: string[], pre: string[] = []) =>
  sh({ cwd: REPO_ROOT })`${pre} ${process.execPath} --import tsx ${path.join(REPO_ROOT, 'lab', 'main.ts')} lab ${args}`;

const cliOpts = ['--prefix', PREFIX, '--dir', cfg.dir, '--lab-env', cfg.envFile, '--inventory', cfg.inventoryFile];

// ---- tests --------------------------------------------------------------------------------

serial('lab up builds 3 VMs: namespaces, env file, inventory, no leaks into the machine', async (t) => {
  const r = await labUp(opts);
  state = r.state;
  t.deepEqual(r.created, ['vm1', 'vm2', 'vm3']);
  t.deepEqual(
    state.vms.map((v) => [v.name, v.netns, v.address, v.profile, v.version]),
    [
      ['vm1', `${PREFIX}-vm1`, '192.168.0.250', 'alinux-2.1903', 'v1'],
      ['vm2', `${PREFIX}-vm2`, '192.168.0.251', 'centos-8', 'v2'],
      ['vm3', `${PREFIX}-vm3`, '192.168.0.252', 'ubuntu-20.04', 'v3'],
    ],
  );
  t.true(r.seconds < 15, `up took ${r.seconds} s`);

  // env file: 0600, plain KEY=value, the lab values
  t.is(statSync(cfg.envFile).mode & 0o777, 0o600);
  const env = Object.fromEntries(
    readFileSync(cfg.envFile, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  t.like(env, {
    LAB: '1',
    LAB_NETNS: `${PREFIX}-ws`,
    VM_INVENTORY: 'lab-inventory.yaml', // relative to the env file's directory
    SSH_KNOWN_HOSTS: cfg.knownHostsFile,
    ACCESS_KEY_ID: 'LTAI-lab',
    REGION: 'cn-hangzhou',
    MESH_ID: 'c0ffee0lab',
    NS: 'vm-mesh',
    SA: 'vm-sa',
    POD_NAME: 'vm-pod',
    ASM_VERSION: 'v1.6.9',
    SERVICE_CIDR: '172.19.0.0/20',
    POD_CIDR: '172.18.0.0/16',
    ZIPKIN_IP: '172.19.0.20',
  });
  t.regex(env.ACCESS_KEY_SECRET, /^[A-Za-z0-9]{24}$/);
  t.is(statSync(cfg.keyFile).mode & 0o777, 0o600);

  // inventory: the product's format, no distro (detection runs for real)
  const inv = YAML.parse(readFileSync(cfg.inventoryFile, 'utf8'));
  t.is(inv.netns, `${PREFIX}-ws`);
  t.deepEqual(inv.vms[0], {
    name: 'vm1',
    host: '192.168.0.250',
    user: 'root',
    port: 22,
    identity: cfg.keyFile,
    privateIp: '192.168.0.250',
    labels: { version: 'v1' },
    runtime: 'docker', // the first 10 VMs get a Docker daemon (docker.io is installed by .ci/run)
  });
  t.deepEqual(
    inv.vms.map((v: { labels: { version: string } }) => v.labels.version),
    ['v1', 'v2', 'v3'],
  );
  t.false(inv.vms.some((v: object) => 'distro' in v));

  // nothing of the lab in the machine's own namespaces
  const now = await snapshot();
  t.deepEqual(now.links, before.links, 'no lab interface in the root network namespace');
  t.deepEqual(now.mounts, before.mounts, 'no lab mount in the machine mount namespace');
  t.deepEqual(now.routes, before.routes);
  t.deepEqual(now.netns.sort(), labNamespaces(state).sort());
  for (const ns of labNamespaces(state)) {
    t.is((await sh`ip -n ${ns} route show default`).stdout.trim(), '', `${ns} has no default route`);
    t.is((await sh`ip -n ${ns} -6 route show default`).stdout.trim(), '', `${ns} has no IPv6 default route`);
  }
});

serial('each VM answers ssh with its own hostname, distro and private /etc, /opt, iptables', async (t) => {
  const expect: Record<string, [string, string]> = {
    vm1: ['alinux', '2.1903'],
    vm2: ['centos', '8'],
    vm3: ['ubuntu', '20.04'],
  };
  for (const vm of state.vms) {
    const out = await ssh(
      vm.address,
      [
        'hostname',
        '. /etc/os-release; echo "$ID $VERSION_ID"',
        // the ways runbooks and tools rewrite /etc/hosts: rename over it, sed -i, append
        'cp /etc/hosts /etc/hosts.tmp && mv /etc/hosts.tmp /etc/hosts',
        "sed -i '/zipkin.istio-system/d' /etc/hosts",
        'echo "172.19.0.20 zipkin.istio-system" >> /etc/hosts',
        "sed -i 's/^127.0.0.1\\tlocalhost$/127.0.0.1 localhost lab-edited/' /etc/hosts",
        'grep -c zipkin.istio-system /etc/hosts',
        'iptables -t nat -N MLT_TEST',
        'iptables -t nat -A OUTPUT -p tcp -d 172.19.0.0/20 -j MLT_TEST',
        'iptables-save -t nat | grep -c MLT_TEST',
        'mkdir -p /opt/mlt-x /etc/certs /etc/istio/config /var/lib/istio/envoy ' +
          '/var/log/istio /var/run/secrets/tokens /usr/local/mlt-x',
        'echo token > /var/run/secrets/tokens/istio-token',
        `touch /opt/mlt-x/${vm.name}`,
        'ls /opt/mlt-x',
      ].join('\n'),
    );
    t.is(out.exitCode, 0, `${vm.name}: ${out.stderr}`);
    t.deepEqual(out.stdout.trim().split('\n'), [vm.name, expect[vm.name].join(' '), '1', '2', vm.name], vm.name);
  }
  // each VM keeps its own changes; other VMs and the machine never see them
  const again = await ssh(state.vms[0].address, 'ls /opt/mlt-x; grep -c lab-edited /etc/hosts');
  t.deepEqual(again.stdout.trim().split('\n'), ['vm1', '1']);
  const other = await vmExec('vm2', ['ls', '/opt/mlt-x'], opts);
  t.is(other.stdout.trim(), 'vm2');
  const vm3 = await vmExec('vm3', ['cat', '/etc/debian_version'], opts);
  t.is(vm3.stdout.trim(), 'bullseye/sid');
  t.is((await vmExec('vm1', ['hostname'], opts)).stdout.trim(), 'vm1');

  const now = await snapshot();
  t.is(now.hosts, before.hosts, "the machine's /etc/hosts is unchanged");
  t.is(now.iptables, before.iptables, "the machine's iptables are unchanged");
  for (const p of [
    '/opt/mlt-x',
    '/usr/local/mlt-x',
    '/var/lib/istio',
    '/var/log/istio',
    '/run/secrets/tokens/istio-token',
  ]) {
    t.false(existsSync(p), `${p} must not exist on the machine`);
  }
  t.is(now.dotSsh, before.dotSsh, 'ssh did not create ~/.ssh');
});

serial('the workstation has no default route and its own loopback', async (t) => {
  t.is((await sh`ip -n ${cfg.wsNetns} route show default`).stdout.trim(), '');
  t.deepEqual(
    (await sh`ip -n ${cfg.wsNetns} -4 route`).stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]),
    ['192.168.0.0/24'],
  );
  // a service on the machine's 127.0.0.1 is out of reach from the workstation
  let connections = 0;
  hostServer = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => hostServer!.listen(0, '127.0.0.1', () => r()));
  const port = (hostServer.address() as { port: number }).port;
  const probe = await wsExec(['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/127.0.0.1/$1"', 'probe', String(port)], {
    ...opts,
    nothrow: true,
  });
  t.not(probe.exitCode, 0);
  t.regex(probe.stderr, /Connection refused/);
  t.is(connections, 0);
  // ...while the lab's own hosts are
  const lab = await wsExec(['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/192.168.0.251/22 && echo open'], {
    ...opts,
    nothrow: true,
  });
  t.is(lab.stdout.trim(), 'open');
  // and ssh with the lab's own client config works too
  const viaConfig = await sh`${sshArgv(cfg, 'vm3', ['hostname'])}`;
  t.is(viaConfig.stdout.trim(), 'vm3');
});

serial('lab up again changes nothing: same status, no new processes, no rewritten files', async (t) => {
  const statusBefore = await labStatus(opts);
  const pidsBefore = await nsPids(labNamespaces(state));
  const envBefore = statSync(cfg.envFile).mtimeMs;
  const r = await labUp(opts);
  t.deepEqual(r.created, []);
  t.deepEqual(r.kept, ['vm1', 'vm2', 'vm3']);
  t.deepEqual(r.wrote, []);
  t.true(r.seconds < 2, `second up took ${r.seconds} s`);
  t.deepEqual(await labStatus(opts), statusBefore);
  t.deepEqual(await nsPids(labNamespaces(state)), pidsBefore);
  t.is(statSync(cfg.envFile).mtimeMs, envBefore);
});

serial('lab status lists each VM with namespace, address, distro and sshd state (text and --json)', async (t) => {
  const s = await labStatus(opts);
  t.true(s.healthy);
  t.deepEqual(
    s.vms.map((v) => [v.name, v.netns, v.address, v.distro, v.sshd]),
    [
      ['vm1', `${PREFIX}-vm1`, '192.168.0.250', 'alinux-2.1903', 'running'],
      ['vm2', `${PREFIX}-vm2`, '192.168.0.251', 'centos-8', 'running'],
      ['vm3', `${PREFIX}-vm3`, '192.168.0.252', 'ubuntu-20.04', 'running'],
    ],
  );
  const json = await cli(['status', '--json', ...cliOpts]);
  t.is(json.exitCode, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout), s);
  const text = await cli(['status', ...cliOpts]);
  t.is(text.exitCode, 0, text.stderr);
  for (const v of s.vms)
    t.regex(
      text.stdout,
      new RegExp(`${v.name}\\s+${v.netns}\\s+${v.address.replace(/\./g, '\\.')}\\s+${v.distro}.*running`),
    );
});

serial('attachToSwitch puts another namespace on the lab L2 (room for the cluster)', async (t) => {
  const node = `${PREFIX}-node1`;
  await attachToSwitch({ ...opts, netns: node, port: 'node1', address: '192.168.0.100/24', create: true });
  // idempotent
  await attachToSwitch({ ...opts, netns: node, port: 'node1', address: '192.168.0.100/24', create: true });
  t.regex((await sh`ip -n ${node} -4 -o addr show dev eth0`).stdout, / 192\.168\.0\.100\/24 /);
  t.is((await sh`ip -n ${node} route show default`).stdout.trim(), '');
  // vm1 reaches it over the switch: nothing listens on port 1, so the node's kernel refuses
  const r = await vmExec('vm1', ['timeout', '3', 'bash', '-c', 'exec 3<>/dev/tcp/192.168.0.100/1'], {
    ...opts,
    nothrow: true,
  });
  t.regex(r.stderr, /Connection refused/);
  t.true((await snapshot()).netns.includes(node));
});

serial('a failed first lab up leaves nothing behind', async (t) => {
  const bad = path.join(tmp, 'bad-init.sh');
  await fsp.writeFile(
    bad,
    `#!/bin/sh\n[ "$1" = vm2 ] && { echo "vm2 will not boot" >&2; exit 3; }\nexec /bin/sh '${VM_INIT}' "$@"\n`,
  );
  const err = await t.throwsAsync(labUp({ ...failOpts, initScript: bad }));
  t.regex(err!.message, /vm2.*will not boot.*removed/);
  t.deepEqual(
    (await sh`ip netns list`).stdout.split('\n').filter((l) => l.startsWith(`${FAIL_PREFIX}-`)),
    [],
  );
  t.false(existsSync(path.join(tmp, 'fail')), 'state dir and the parents up created are gone');
  t.false(existsSync(failOpts.envFile!));
  t.false(existsSync(failOpts.inventoryFile!));
});

serial('lab down removes every namespace, process, file; a second down is a no-op', async (t) => {
  const pids = [...(await nsPids([...labNamespaces(state), `${PREFIX}-node1`])), ...state.vms.map((v) => v.sshd!.pid)];
  t.true(pids.length >= 6);
  const r = await labDown(opts);
  t.is(r.namespaces.length, 6); // net, ws, vm1-3, node1
  t.deepEqual((await snapshot()).netns, []);
  const gone = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z'); // zombie until reaped
    } catch {
      return true;
    }
  };
  t.deepEqual(
    pids.filter((p) => !gone(p)),
    [],
  );
  for (const f of [cfg.dir, cfg.envFile, cfg.inventoryFile]) t.false(existsSync(f), `${f} removed`);
  t.false(existsSync(path.dirname(cfg.envFile)), 'the output dir up created is removed');
  t.is(await readState(cfg), null);
  const again = await labDown(opts);
  t.deepEqual([again.namespaces, again.processes, again.files], [[], 0, []]);
  const s = await labStatus(opts);
  t.false(s.exists);
});

serial('the machine is unchanged: /etc/hosts, routes, iptables, netns list, links, mounts', async (t) => {
  const after = await snapshot();
  t.is(after.hosts, before.hosts);
  t.is(after.routes, before.routes);
  t.is(after.routes6, before.routes6);
  t.is(after.iptables, before.iptables);
  t.deepEqual(after.netns, before.netns);
  t.deepEqual(after.links, before.links);
  t.deepEqual(after.mounts, before.mounts);
  t.is(after.dotSsh, before.dotSsh);
});

test.serial('without root: one clear line, non-zero exit, nothing created', async (t) => {
  if (process.platform !== 'linux') return t.pass();
  const dir = path.join(tmp, 'nonroot-state');
  const tmpFor65534 = path.join(tmp, 'nobody-tmp');
  await fsp.mkdir(tmpFor65534, { recursive: true, mode: 0o777 });
  await fsp.chmod(tmpFor65534, 0o777);
  await fsp.chmod(tmp, 0o755);
  const pre =
    process.getuid?.() === 0
      ? [
          'setpriv',
          '--reuid=65534',
          '--regid=65534',
          '--clear-groups',
          'env',
          `TMPDIR=${tmpFor65534}`,
          `HOME=${tmpFor65534}`,
        ]
      : [];
  for (const sub of ['up', 'down', 'status']) {
    const r = await cli([sub, '--prefix', 'mltnobody', '--dir', dir], pre);
    t.not(r.exitCode, 0, sub);
    t.is(r.stdout, '');
    t.regex(r.stderr, /^meshbook lab: must run as root: .*\(try: sudo meshbook lab \w+\)\n$/, sub);
  }
  t.false(existsSync(dir));
});

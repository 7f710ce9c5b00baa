// meshbook lab: VMs made of Linux namespaces on this machine (see lab/README.md).
//
//   <prefix>-net    the switch: bridge br0, no address; one veth port per attached namespace
//   <prefix>-ws     the workstation: eth0 = .2 on the lab subnet, no default route; the
//                   runner's ssh and the verifier run here (ip netns exec <prefix>-ws ...)
//   <prefix>-vmN    one per VM: eth0 = the VM's address; PID 1 is the VM's sshd, running in
//                   its own mount, UTS and PID namespaces with a private filesystem view
//
// No interface of the lab ever exists in the machine's root namespace (veths are created
// inside the switch namespace with their peer placed straight into the target), and no
// namespace of the lab has a default route.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, promises as fsp } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import path from 'node:path';
import type { ProcessOutput } from 'zx';
import {
  BRIDGE,
  DEFAULT_SUBNET,
  DEFAULT_VMS,
  HOST,
  LabError,
  PROFILES_DIR,
  VM_IFNAME,
  VM_INIT,
  hostAddress,
  parseIPv4,
  parseSubnet,
  planVms,
  resolveConfig,
  type LabConfig,
  type LabOptions,
  type LabUpOptions,
  type VmSpec,
} from './config.ts';
import { planCluster } from './cluster/state.ts';
import type { ClusterStatus } from './cluster/lifecycle.ts';
import {
  GENERATED_MARK,
  renderInventory,
  renderKnownHosts,
  renderLabEnv,
  renderSshConfig,
  renderSshdConfig,
  renderVmHosts,
} from './outputs.ts';
import {
  CLEAN_ENV,
  alive,
  createExclusive,
  createNetns,
  takeLockFile,
  deleteNetns,
  ipBatch,
  killNetnsProcesses,
  linkNames,
  listening,
  mapLimit,
  mkdirp,
  netnsInode,
  netnsWithPrefix,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  run,
  sleep,
  statExists,
  writeIfChanged,
  type ProcRef,
} from './sys.ts';

export { LabError, resolveConfig, type LabConfig, type LabOptions, type LabUpOptions, type VmSpec } from './config.ts';

// ---- state ------------------------------------------------------------------------

export interface VmState extends VmSpec {
  /** the `unshare` process (machine's PID namespace) that holds the VM's namespaces */
  holder?: ProcRef;
  /** the VM's PID 1: its sshd */
  sshd?: ProcRef;
}

export interface CreatedDir {
  top: string;
  dir: string;
}

export interface LabState {
  version: 1;
  prefix: string;
  /**
   * This lab's identity: 16 random hex digits made when `up` builds a new lab (no state),
   * kept by every later `up` of the same lab, gone with `down` (the next `up` makes a new
   * one). Written to the lab env as LAB_GENERATION. Absent only in a state file written
   * before it existed (the next `up` adds one).
   */
  generation?: string;
  subnet: string;
  workstation: { netns: string; address: string };
  switch: { netns: string; bridge: string };
  vms: VmState[];
  envFile: string;
  inventoryFile: string;
  /** directories `up` created (mkdir -p: `top` is the first one made for `dir`); `down` removes them while empty */
  createdDirs?: CreatedDir[];
  /** the lab cluster (lab/cluster/): its node namespace and address ranges */
  cluster?: { netns: string; nodeAddress: string; serviceCidr: string; podCidr: string };
}

export async function readState(cfg: LabConfig): Promise<LabState | null> {
  let text: string;
  try {
    text = await fsp.readFile(cfg.stateFile, 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as LabState;
    if (s.version !== 1 || !Array.isArray(s.vms)) throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new LabError(`lab state ${cfg.stateFile} is unreadable (${(e as Error).message}): run meshbook lab down to remove the lab`);
  }
}

async function saveState(cfg: LabConfig, s: LabState): Promise<void> {
  await writeIfChanged(cfg.stateFile, JSON.stringify(s, null, 2) + '\n', 0o600);
}

// ---- preflight and lock -----------------------------------------------------------------

const TOOLS: Array<[string, string]> = [
  ['ip', 'iproute2'],
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['ssh-keygen', 'openssh-client'],
  ['sshd', 'openssh-server'],
];

/** Root on Linux with the tools at hand, or one clear LabError. Changes nothing. */
export function preflight(action = 'up'): void {
  if (process.platform !== 'linux') {
    throw new LabError(`the lab needs Linux network namespaces; this machine runs ${process.platform}`);
  }
  if (process.getuid?.() !== 0) {
    throw new LabError(`must run as root: the lab is network namespaces, veth links and mounts (try: sudo meshbook lab ${action})`);
  }
  const dirs = (CLEAN_ENV.PATH ?? '').split(':');
  for (const [bin, pkg] of TOOLS) {
    if (!dirs.some((d) => statExists(path.join(d, bin)))) {
      throw new LabError(`${bin} not found: install the Debian package ${pkg} (apt-get install ${pkg})`);
    }
  }
}

async function lock(cfg: LabConfig): Promise<() => Promise<void>> {
  const f = path.join(cfg.dir, '.lock');
  const holder = await takeLockFile(f);
  if (holder !== null) throw new LabError(`another meshbook lab command (pid ${holder}) is working on ${cfg.dir}: wait for it to finish`);
  return async () => {
    await fsp.rm(f, { force: true });
  };
}

// ---- the switch -----------------------------------------------------------------------

const IFNAME_RE = /^[a-z][a-z0-9-]{0,14}$/;

/** veth between the switch and `netns` (peer created straight inside it), address on the peer. */
async function linkToSwitch(switchNs: string, netns: string, port: string, ifname: string, cidrAddress: string): Promise<void> {
  await ipBatch(switchNs, [
    `link add ${port} type veth peer name ${ifname} netns ${netns}`,
    `link set ${port} master ${BRIDGE} addrgenmode none`,
    `link set ${port} up`,
  ]);
  await ipBatch(netns, [
    'link set lo up',
    `link set ${ifname} addrgenmode none`,
    `addr add ${cidrAddress} dev ${ifname}`,
    `link set ${ifname} up`,
  ]);
}

export interface AttachOptions extends LabOptions {
  /** namespace to attach: must be named `<prefix>-...` so `lab down` removes it */
  netns: string;
  /** the port's name inside the switch namespace (<= 15 chars) */
  port: string;
  /** address with prefix length, e.g. 192.168.0.100/24 */
  address: string;
  /** interface name inside `netns` (default eth0) */
  ifname?: string;
  /** create `netns` when missing (default false) */
  create?: boolean;
}

/**
 * Attach another namespace (e.g. a cluster node) to the lab's switch with an address.
 * Idempotent: an existing port whose peer already carries the address is left alone.
 */
export async function attachToSwitch(o: AttachOptions): Promise<void> {
  preflight('attach');
  const cfg = resolveConfig(o);
  const ifname = o.ifname ?? VM_IFNAME;
  if (!new RegExp(`^${cfg.prefix}-[a-z0-9][a-z0-9-]*$`).test(o.netns)) {
    throw new LabError(`namespace "${o.netns}" must be named ${cfg.prefix}-<name> (lowercase letters, digits, -)`);
  }
  if (!IFNAME_RE.test(o.port) || !IFNAME_RE.test(ifname)) {
    throw new LabError(`interface names "${o.port}", "${ifname}": use 1-15 lowercase letters, digits or -`);
  }
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(o.address);
  if (!m || parseIPv4(m[1]) === null || Number(m[2]) < 1 || Number(m[2]) > 32) {
    throw new LabError(`address "${o.address}": use a.b.c.d/len, e.g. 192.168.0.100/24`);
  }
  if (netnsInode(cfg.switchNetns) === null) throw new LabError(`lab ${cfg.prefix} is not up: run meshbook lab up first`);
  if (netnsInode(o.netns) === null) {
    if (!o.create) throw new LabError(`network namespace ${o.netns} does not exist`);
    await createNetns([o.netns]);
  }
  if ((await linkNames(cfg.switchNetns)).has(o.port)) {
    const out = await run(['ip', '-n', o.netns, '-o', '-4', 'addr', 'show', 'dev', ifname], { nothrow: true });
    if (out.stdout.includes(` ${o.address} `)) return;
    throw new LabError(`switch port ${o.port} already exists and ${o.netns}/${ifname} does not carry ${o.address}`);
  }
  await linkToSwitch(cfg.switchNetns, o.netns, o.port, ifname, o.address);
}

/** Remove a switch port (its peer goes with it). Missing ports are fine. */
export async function detachFromSwitch(o: LabOptions & { port: string }): Promise<void> {
  preflight('detach');
  const cfg = resolveConfig(o);
  if (!IFNAME_RE.test(o.port)) throw new LabError(`interface name "${o.port}" is not valid`);
  if (netnsInode(cfg.switchNetns) === null) return;
  const out = await run(['ip', '-n', cfg.switchNetns, 'link', 'del', o.port], { nothrow: true });
  if (out.exitCode !== 0 && !/Cannot find device/.test(out.stderr)) {
    throw new LabError(`could not remove switch port ${o.port}: ${out.stderr.trim()}`);
  }
}

// ---- exec helpers -------------------------------------------------------------------------

async function runningVm(cfg: LabConfig, vm: string): Promise<VmState> {
  const state = await readState(cfg);
  const v = state?.vms.find((x) => x.name === vm);
  if (!v) throw new LabError(`lab ${cfg.prefix} has no VM ${vm}`);
  if (!alive(v.sshd)) throw new LabError(`${vm} is not running: run meshbook lab up`);
  return v;
}

/**
 * Run a command inside a lab VM (its network, mount, UTS and PID namespaces) for the
 * lab's own use - runbooks reach VMs over ssh. Clean environment, working dir /.
 */
export async function vmExec(
  vm: string,
  argv: string[],
  opts: LabOptions & { input?: string; nothrow?: boolean } = {},
): Promise<ProcessOutput> {
  const cfg = resolveConfig(opts);
  const v = await runningVm(cfg, vm);
  return run(['nsenter', '-t', String(v.sshd!.pid), '-n', '-m', '-u', '-p', '--wd=/', '--', ...argv], opts);
}

/** Run a command in the workstation namespace (`ip netns exec <prefix>-ws ...`). */
export async function wsExec(argv: string[], opts: LabOptions & { input?: string; nothrow?: boolean } = {}): Promise<ProcessOutput> {
  const cfg = resolveConfig(opts);
  if (netnsInode(cfg.wsNetns) === null) throw new LabError(`lab ${cfg.prefix} is not up: run meshbook lab up first`);
  return run(['ip', 'netns', 'exec', cfg.wsNetns, ...argv], opts);
}

/** argv to ssh into a lab host from the workstation with the lab's own client config. */
export function sshArgv(cfg: LabConfig, host: string, remote: string[] = []): string[] {
  return ['ip', 'netns', 'exec', cfg.wsNetns, 'ssh', '-F', cfg.sshConfigFile, host, ...(remote.length ? ['--', ...remote] : [])];
}

// ---- VMs --------------------------------------------------------------------------------

const vmDir = (cfg: LabConfig, name: string) => path.join(cfg.dir, 'vms', name);
const sameSpec = (a: VmSpec, b: VmSpec) =>
  a.name === b.name && a.netns === b.netns && a.address === b.address && a.profile === b.profile;

/** Is this VM up: namespace, its PID 1 sshd, listening on its address, its switch port? */
function vmHealthy(v: VmState, ports: Set<string>): boolean {
  const ino = netnsInode(v.netns);
  return (
    ino !== null &&
    ports.has(v.name) &&
    alive(v.sshd) &&
    procNetnsInode(v.sshd!.pid) === ino &&
    procComm(v.sshd!.pid) === 'sshd' &&
    listening(v.sshd!.pid, v.address, 22)
  );
}

/** Stop namespaces attached to the switch: their processes, their switch ports, the namespaces. */
async function destroyAttached(cfg: LabConfig, items: Array<{ netns: string; port: string }>): Promise<void> {
  if (!items.length) return;
  await killNetnsProcesses(items.map((i) => i.netns));
  if (netnsInode(cfg.switchNetns) !== null) {
    const ports = await linkNames(cfg.switchNetns);
    const del = items.filter((i) => ports.has(i.port)).map((i) => `link del ${i.port}`);
    if (del.length) await ipBatch(cfg.switchNetns, del);
  }
  await deleteNetns(items.map((i) => i.netns));
}

async function tail(file: string, lines = 8): Promise<string> {
  const t = await fsp.readFile(file, 'utf8').catch(() => '');
  return t.trim().split('\n').slice(-lines).join(' | ');
}

async function prepareVmDir(cfg: LabConfig, v: VmSpec, clientPub: string): Promise<string> {
  const dir = vmDir(cfg, v.name);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await ensureKey(path.join(dir, 'ssh_host_ed25519_key'), `${v.name}.${cfg.prefix}`);
  await writeIfChanged(path.join(dir, 'authorized_keys'), clientPub, 0o600);
  await writeIfChanged(path.join(dir, 'sshd_config'), renderSshdConfig(v), 0o600);
  // the VM's own /etc/hosts and /etc/hostname, written once into its private /etc
  const etcUpper = path.join(dir, 'fs', 'etc', 'upper');
  await fsp.mkdir(etcUpper, { recursive: true, mode: 0o755 });
  for (const [f, text] of [
    ['hosts', renderVmHosts(v)],
    ['hostname', `${v.name}\n`],
  ] as const) {
    await createExclusive(path.join(etcUpper, f), text, 0o644);
  }
  return dir;
}

/** Start the VM's first process (vm-init.sh -> sshd) and wait until sshd listens. */
async function startVm(v: VmSpec, dir: string, initScript = VM_INIT): Promise<{ holder: ProcRef; sshd: ProcRef }> {
  const log = path.join(dir, 'console.log');
  const fd = openSync(log, 'a', 0o600);
  let child: ChildProcess;
  try {
    const fsMode = process.env.MESHBOOK_LAB_FS;
    const env = { ...CLEAN_ENV, ...(fsMode && /^[a-z-]+$/.test(fsMode) ? { MESHBOOK_LAB_FS: fsMode } : {}) };
    child = spawn(
      'ip',
      [
        'netns', 'exec', v.netns,
        'unshare', '--mount', '--uts', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private',
        '--', '/bin/sh', initScript, v.name, dir, path.join(PROFILES_DIR, v.profile),
      ],
      { detached: true, stdio: ['ignore', fd, fd], env, cwd: '/' },
    );
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  child.unref();
  const holderPid = child.pid;
  const holder = holderPid ? procRef(holderPid) : null;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (spawnError || !holder) throw new LabError(`${v.name}: could not start (${spawnError?.message ?? 'no pid'})`);
    if (child.exitCode !== null || child.signalCode !== null || !alive(holder)) {
      throw new LabError(`${v.name}: init exited (${child.exitCode ?? child.signalCode}): ${await tail(log)}`);
    }
    const pid1 = procChildren(holder.pid)[0];
    if (pid1 && procComm(pid1) === 'sshd' && listening(pid1, v.address, 22)) {
      const sshd = procRef(pid1);
      if (sshd) return { holder, sshd };
    }
    await sleep(15);
  }
  throw new LabError(`${v.name}: sshd did not listen on ${v.address}:22 within 20 s: ${await tail(log)}`);
}

// ---- up -----------------------------------------------------------------------------------

export interface LabUpResult {
  cfg: LabConfig;
  state: LabState;
  created: string[];
  kept: string[];
  removed: string[];
  /** files written or rewritten (empty when nothing changed) */
  wrote: string[];
  seconds: number;
  /** the lab cluster, when there is one: whether this run built its node, its pods, what it could not do */
  cluster?: { created: boolean; pods: number; seconds: number; problems: string[]; notInLab: string[]; removed: string[] };
}

/** A lab's generation id: 16 hex digits from the CSPRNG (see LabState.generation). */
export const newGeneration = (): string => randomBytes(8).toString('hex');

/**
 * Before a new lab is built (no lab.json): remove what an earlier lab may have left under
 * this prefix and in this state dir (namespaces, VM disks and host keys, the cluster's
 * objects, known_hosts, keys), so every VM gets a fresh host key and the cluster starts
 * empty. Only the lab's own entries of the state dir are touched; `.lock` is ours.
 */
async function forgetEarlierLab(cfg: LabConfig, progress: (m: string) => void): Promise<void> {
  const stale = await netnsWithPrefix(cfg.prefix);
  if (stale.length) {
    progress(`removing ${stale.length} leftover namespace${stale.length > 1 ? 's' : ''}`);
    await killNetnsProcesses(stale);
    await deleteNetns(stale);
  }
  for (const e of await fsp.readdir(cfg.dir).catch(() => [] as string[])) {
    if (e !== '.lock' && isStateEntry(e)) await fsp.rm(path.join(cfg.dir, e), { recursive: true, force: true });
  }
}

/**
 * An ed25519 key pair at `key` and `key.pub`, made when either is missing: ssh-keygen writes
 * under a unique temp name, then the private key and the public key are renamed into place
 * (in that order: a pair cut short is made again, never half used).
 */
async function ensureKey(key: string, comment: string): Promise<void> {
  if (existsSync(key) && existsSync(`${key}.pub`)) return;
  await fsp.rm(key, { force: true });
  await fsp.rm(`${key}.pub`, { force: true });
  const tmp = path.join(path.dirname(key), `.${path.basename(key)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', tmp]);
    await fsp.rename(tmp, key);
    await fsp.rename(`${tmp}.pub`, `${key}.pub`);
  } finally {
    await fsp.rm(tmp, { force: true });
    await fsp.rm(`${tmp}.pub`, { force: true });
  }
}

async function ensureClientKey(cfg: LabConfig): Promise<string> {
  await ensureKey(cfg.keyFile, `meshbook-lab@${cfg.prefix}`);
  await fsp.chmod(cfg.keyFile, 0o600);
  return fsp.readFile(`${cfg.keyFile}.pub`, 'utf8');
}

async function ensureSecret(cfg: LabConfig): Promise<string> {
  const cur = (await fsp.readFile(cfg.secretFile, 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9]{24}$/.test(cur)) return cur;
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const secret = Array.from({ length: 24 }, () => abc[randomInt(abc.length)]).join('');
  await writeIfChanged(cfg.secretFile, secret + '\n', 0o600);
  return secret;
}

/**
 * Build the lab, or bring it to the requested shape. Idempotent: what is healthy stays
 * untouched (a second `up` starts nothing and rewrites no file).
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  preflight('up');
  const cfg = resolveConfig(opts);
  const t0 = performance.now();
  const progress = opts.onProgress ?? (() => {});
  // validate every input before anything is created
  const prevState = await readState(cfg);
  planVms(cfg.prefix, parseSubnet(opts.subnet ?? prevState?.subnet ?? DEFAULT_SUBNET), opts.vms ?? opts.vmIps?.length ?? prevState?.vms.length ?? DEFAULT_VMS, opts.vmIps, opts.profiles);
  if (opts.cluster ?? !!prevState?.cluster) {
    planCluster(
      parseSubnet(opts.subnet ?? prevState?.subnet ?? DEFAULT_SUBNET),
      opts.serviceCidr ?? prevState?.cluster?.serviceCidr,
      opts.podCidr ?? prevState?.cluster?.podCidr,
    );
    const { clusterPreflight } = await import('./cluster/lifecycle.ts');
    clusterPreflight();
  }
  const foreign = await foreignEntries(cfg.dir);
  if (foreign.length) {
    throw new LabError(`state dir ${cfg.dir} holds files the lab did not make (${foreign.slice(0, 3).join(', ')}): pick a new or empty dir`);
  }
  for (const f of [cfg.envFile, cfg.inventoryFile]) await refuseForeign(f);
  const top = await mkdirp(cfg.dir, 0o700);
  const createdDir: CreatedDir | undefined = top ? { top, dir: cfg.dir } : undefined;
  await fsp.chmod(cfg.dir, 0o700);
  const unlock = await lock(cfg); // another lab command at work: stop here, touch nothing
  const hadLab = existsSync(cfg.stateFile) || (await netnsWithPrefix(cfg.prefix)).length > 0;
  try {
    const result = await converge(cfg, opts, createdDir, progress);
    result.seconds = (performance.now() - t0) / 1000;
    return result;
  } catch (e) {
    if (!hadLab) {
      // a failed first `up` leaves nothing behind
      progress('cleaning up after the failure');
      await teardown(cfg, createdDir).catch(() => {});
      const msg = e instanceof Error ? e.message : String(e);
      throw new LabError(`up failed: ${msg} (everything it created was removed)`);
    }
    if (e instanceof LabError) throw new LabError(`up failed: ${e.message} (run lab up again, or lab down)`);
    throw e;
  } finally {
    await unlock().catch(() => {});
  }
}

async function converge(
  cfg: LabConfig,
  opts: LabUpOptions,
  createdDir: CreatedDir | undefined,
  progress: (m: string) => void,
): Promise<LabUpResult> {
  const prev = await readState(cfg);
  if (prev && prev.prefix !== cfg.prefix) {
    throw new LabError(`state dir ${cfg.dir} belongs to the lab with prefix ${prev.prefix}: pass --dir for another lab`);
  }
  // a new lab inherits nothing of an earlier one in this state dir or under this prefix
  if (!prev) await forgetEarlierLab(cfg, progress);
  const subnet = parseSubnet(opts.subnet ?? prev?.subnet ?? DEFAULT_SUBNET);
  const count = opts.vms ?? opts.vmIps?.length ?? prev?.vms.length ?? DEFAULT_VMS;
  let plan = planVms(cfg.prefix, subnet, count, opts.vmIps, opts.profiles);
  if (prev && prev.subnet === subnet.cidr) {
    // keep what the existing lab was built with unless asked otherwise
    plan = plan.map((v) => {
      const p = prev.vms.find((x) => x.name === v.name);
      return p ? { ...v, address: opts.vmIps ? v.address : p.address, profile: opts.profiles ? v.profile : p.profile } : v;
    });
    const seen = new Set<string>();
    for (const v of plan) {
      if (seen.has(v.address)) throw new LabError(`address ${v.address} would be used twice: pass --vm-ips`);
      seen.add(v.address);
    }
  }
  const wsAddress = `${hostAddress(subnet, HOST.workstation)}/${subnet.len}`;
  const prevByName = new Map((prev?.vms ?? []).map((v) => [v.name, v]));

  // journal first: `down` can always find what this run is about to create
  const state: LabState = {
    version: 1,
    prefix: cfg.prefix,
    generation: prev?.generation ?? newGeneration(),
    subnet: subnet.cidr,
    workstation: { netns: cfg.wsNetns, address: wsAddress },
    switch: { netns: cfg.switchNetns, bridge: BRIDGE },
    vms: [
      ...plan.map((v) => ({ ...v, holder: prevByName.get(v.name)?.holder, sshd: prevByName.get(v.name)?.sshd })),
      // VMs about to be removed stay listed until they are gone
      ...(prev?.vms ?? []).filter((p) => !plan.some((v) => v.name === p.name)),
    ],
    envFile: cfg.envFile,
    inventoryFile: cfg.inventoryFile,
    createdDirs: [...(prev?.createdDirs ?? []), ...(createdDir ? [createdDir] : [])],
    cluster: prev?.cluster,
  };
  await saveState(cfg, state);

  progress('checking the lab');
  const clientPub = await ensureClientKey(cfg);
  const secret = await ensureSecret(cfg);

  // the switch: without it nothing else is attached, so rebuild all namespaces
  let ports = netnsInode(cfg.switchNetns) !== null ? await linkNames(cfg.switchNetns) : new Set<string>();
  const removed: string[] = [];
  if (!ports.has(BRIDGE)) {
    const stale = await netnsWithPrefix(cfg.prefix);
    if (stale.length) {
      progress('rebuilding the switch');
      await killNetnsProcesses(stale);
      await deleteNetns(stale);
    }
    await createNetns([cfg.switchNetns]);
    await ipBatch(cfg.switchNetns, [`link add ${BRIDGE} type bridge`, `link set ${BRIDGE} addrgenmode none`, `link set ${BRIDGE} up`]);
    ports = new Set([BRIDGE]);
  }

  // the workstation
  let wsOk = false;
  if (netnsInode(cfg.wsNetns) !== null && ports.has('ws')) {
    const out = await run(['ip', '-n', cfg.wsNetns, '-o', '-4', 'addr', 'show', 'dev', VM_IFNAME], { nothrow: true });
    wsOk = out.stdout.includes(` ${wsAddress} `);
  }
  if (!wsOk) {
    progress('creating the workstation namespace');
    await destroyAttached(cfg, [{ netns: cfg.wsNetns, port: 'ws' }]);
    await createNetns([cfg.wsNetns]);
    await linkToSwitch(cfg.switchNetns, cfg.wsNetns, 'ws', VM_IFNAME, wsAddress);
  }

  // VMs that go away or must be rebuilt
  const vmPattern = new RegExp(`^${cfg.prefix}-vm\\d+$`);
  const wanted = new Set(plan.map((v) => v.netns));
  const gone = (await netnsWithPrefix(cfg.prefix))
    .filter((ns) => vmPattern.test(ns) && !wanted.has(ns))
    .map((ns) => ({ netns: ns, port: ns.slice(cfg.prefix.length + 1) }));
  if (gone.length) {
    progress(`removing ${gone.length} VM${gone.length > 1 ? 's' : ''}`);
    await destroyAttached(cfg, gone);
    for (const g of gone) {
      await fsp.rm(vmDir(cfg, g.port), { recursive: true, force: true });
      removed.push(g.port);
    }
  }
  for (const p of prev?.vms ?? []) {
    if (!plan.some((v) => v.name === p.name) && !removed.includes(p.name)) {
      await fsp.rm(vmDir(cfg, p.name), { recursive: true, force: true });
      removed.push(p.name);
    }
  }
  state.vms = state.vms.filter((v) => plan.some((p) => p.name === v.name));

  const kept: string[] = [];
  const todo: VmState[] = [];
  for (const v of state.vms) {
    const p = prevByName.get(v.name);
    if (p && sameSpec(p, v) && vmHealthy(p, ports)) {
      kept.push(v.name);
      continue;
    }
    todo.push(v);
  }
  if (todo.length) {
    progress(`starting ${todo.length} VM${todo.length > 1 ? 's' : ''}`);
    // unhealthy leftovers go first (a changed VM also loses its disk)
    const stale = todo.filter((v) => netnsInode(v.netns) !== null || ports.has(v.name) || statExists(path.join('/run/netns', v.netns)));
    await destroyAttached(cfg, stale.map((v) => ({ netns: v.netns, port: v.name })));
    for (const v of stale) {
      const p = prevByName.get(v.name);
      if (p && !sameSpec(p, v)) await fsp.rm(vmDir(cfg, v.name), { recursive: true, force: true });
    }
    await createNetns(todo.map((v) => v.netns));
    let started = 0;
    await mapLimit(todo, 6, async (v) => {
      const dir = await prepareVmDir(cfg, v, clientPub);
      await linkToSwitch(cfg.switchNetns, v.netns, v.name, VM_IFNAME, `${v.address}/${subnet.len}`);
      const refs = await startVm(v, dir, opts.initScript);
      v.holder = refs.holder;
      v.sshd = refs.sshd;
      progress(`starting VMs: ${++started}/${todo.length} ready`);
    });
  }
  await saveState(cfg, state);

  // the lab cluster beside the VMs (lab/cluster/): node, ingress gateway, pods, sidecars
  let cluster: LabUpResult['cluster'];
  if (opts.cluster ?? !!prev?.cluster) {
    const t = performance.now();
    const { clusterUp } = await import('./cluster/lifecycle.ts');
    progress(prev?.cluster ? 'checking the cluster' : 'creating the cluster');
    const plan = planCluster(subnet, opts.serviceCidr ?? prev?.cluster?.serviceCidr, opts.podCidr ?? prev?.cluster?.podCidr);
    state.cluster = { netns: `${cfg.prefix}-node`, nodeAddress: plan.nodeAddress, serviceCidr: plan.serviceCidr, podCidr: plan.podCidr };
    await saveState(cfg, state);
    // VMs gone or moved: the cluster forgets their WorkloadEntries and endpoints
    const removedVms = (prev?.vms ?? []).filter((p) => !state.vms.some((v) => v.name === p.name && v.address === p.address)).map((p) => {
      const moved = state.vms.find((v) => v.name === p.name);
      return { name: p.name, address: p.address, why: moved ? `${p.name} moved to ${moved.address}` : `${p.name} is gone` };
    });
    const c = await clusterUp(cfg, state, { serviceCidr: plan.serviceCidr, podCidr: plan.podCidr, removedVms });
    cluster = { created: c.created, pods: c.state.pods.length, seconds: (performance.now() - t) / 1000, problems: c.report.problems, notInLab: c.report.notInLab, removed: c.removed };
  } else if (prev?.cluster) {
    progress('removing the cluster');
    const { clusterDown } = await import('./cluster/lifecycle.ts');
    await clusterDown(cfg, state);
    state.cluster = undefined;
    await saveState(cfg, state);
  }

  // outputs moved since the last up: remove the old ones (only if the lab wrote them)
  for (const [old, cur] of [
    [prev?.envFile, cfg.envFile],
    [prev?.inventoryFile, cfg.inventoryFile],
  ]) {
    if (old && old !== cur && (await isGenerated(old))) await fsp.rm(old, { force: true });
  }
  // outputs (their directories are recorded when this run makes them)
  for (const f of [cfg.envFile, cfg.inventoryFile]) {
    const dir = path.dirname(f);
    const made = await mkdirp(dir, 0o755);
    if (made) state.createdDirs = [...(state.createdDirs ?? []), { top: made, dir }];
  }
  await saveState(cfg, state);
  const wrote: string[] = [];
  const hostKeys = await Promise.all(
    state.vms.map(async (v) => {
      const pub = await fsp.readFile(path.join(vmDir(cfg, v.name), 'ssh_host_ed25519_key.pub'), 'utf8');
      return { address: v.address, hostKey: pub.trim().split(/\s+/).slice(0, 2).join(' ') };
    }),
  );
  const known = await fsp.readFile(cfg.knownHostsFile, 'utf8').catch(() => '');
  // addresses no VM holds any more: their old keys go (a VM made there later has a new one)
  const forget = (prev?.vms ?? []).map((v) => v.address).filter((a) => !state.vms.some((v) => v.address === a));
  const outputs: Array<[string, string, number]> = [
    [cfg.knownHostsFile, renderKnownHosts(known, hostKeys, forget), 0o600],
    [cfg.sshConfigFile, renderSshConfig(cfg, state.vms), 0o600],
    [cfg.inventoryFile, renderInventory(cfg, state.vms), 0o644],
    [cfg.envFile, renderLabEnv({ cfg, secret, cluster: state.cluster, subnet: state.subnet, generation: state.generation }), 0o600],
  ];
  for (const [file, text, mode] of outputs) {
    if (await writeIfChanged(file, text, mode)) wrote.push(file);
  }
  return {
    cfg,
    state,
    created: todo.map((v) => v.name),
    kept,
    removed,
    wrote,
    seconds: 0,
    cluster,
  };
}

/** First bytes of a file, or null when it does not exist. */
async function head(file: string): Promise<string | null> {
  return fsp.readFile(file, 'utf8').then(
    (t) => t.slice(0, GENERATED_MARK.length),
    () => null,
  );
}

const isGenerated = async (file: string) => (await head(file)) === GENERATED_MARK;

/** Never overwrite (or delete) a file at an output path that the lab did not write. */
async function refuseForeign(file: string): Promise<void> {
  const h = await head(file);
  if (h !== null && h !== GENERATED_MARK) {
    throw new LabError(`${file} exists and was not written by meshbook lab: move it away or pass another path`);
  }
}

// ---- down ---------------------------------------------------------------------------------

/** What the lab keeps in its state dir: nothing else is ever removed from there. */
const STATE_ENTRIES = new Set(['lab.json', '.lock', 'id_ed25519', 'id_ed25519.pub', 'access_key_secret', 'known_hosts', 'ssh_config', 'vms', 'cluster']);
const isStateEntry = (e: string) => STATE_ENTRIES.has(e) || /^\..+\.tmp(\.pub)?$/.test(e);

async function foreignEntries(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir).catch(() => [] as string[])).filter((e) => !isStateEntry(e));
}

async function removeStateDir(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return false;
  }
  for (const e of entries.filter(isStateEntry)) await fsp.rm(path.join(dir, e), { recursive: true, force: true });
  try {
    await fsp.rmdir(dir);
    return true;
  } catch {
    return false; // someone else's files are in there: leave them
  }
}

export interface LabDownResult {
  cfg: LabConfig;
  namespaces: string[];
  processes: number;
  files: string[];
  seconds: number;
}

async function teardown(cfg: LabConfig, createdDir?: CreatedDir): Promise<Omit<LabDownResult, 'seconds'>> {
  const state = await readState(cfg).catch(() => null);
  const names = [
    ...new Set([
      ...(state ? [state.switch.netns, state.workstation.netns, ...state.vms.map((v) => v.netns)] : []),
      ...(await netnsWithPrefix(cfg.prefix)),
    ]),
  ].filter((n) => n.startsWith(`${cfg.prefix}-`));
  const present = names.filter((n) => statExists(path.join('/run/netns', n)));
  const processes = await killNetnsProcesses(present);
  await deleteNetns(present);
  const files: string[] = [];
  for (const f of new Set([cfg.envFile, cfg.inventoryFile, state?.envFile, state?.inventoryFile])) {
    if (!f) continue;
    if (await isGenerated(f)) {
      await fsp.rm(f, { force: true });
      files.push(f);
    }
  }
  if (await removeStateDir(cfg.dir)) files.push(cfg.dir);
  // remove the directories `up` created, deepest first, only while empty
  const made = [...(state?.createdDirs ?? []), ...(createdDir ? [createdDir] : [])];
  for (const { top, dir } of made.sort((a, b) => b.dir.length - a.dir.length)) {
    for (let d = dir; d.length >= top.length && (d === top || d.startsWith(`${top}/`)); d = path.dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') break;
      }
    }
  }
  return { cfg, namespaces: present, processes, files };
}

/**
 * Remove the lab: every process in its namespaces, the namespaces (`<prefix>-*`), the state
 * dir and the env/inventory files it wrote. Idempotent; also clears a half-built lab.
 */
export async function labDown(opts: LabOptions = {}): Promise<LabDownResult> {
  preflight('down');
  const cfg = resolveConfig(opts);
  const t0 = performance.now();
  opts.onProgress?.('removing the lab');
  const unlock = existsSync(cfg.dir) ? await lock(cfg) : undefined;
  try {
    const r = await teardown(cfg);
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await unlock?.().catch(() => {});
  }
}

// ---- status -------------------------------------------------------------------------------

export type SshdState = 'running' | 'not listening' | 'stopped' | 'no namespace';

export interface VmStatus {
  name: string;
  netns: string;
  address: string;
  distro: string;
  version: string;
  sshd: SshdState;
  pid: number | null;
}

export interface LabStatus {
  prefix: string;
  stateDir: string;
  exists: boolean;
  /** the lab's generation id (LabState.generation), null without a lab */
  generation: string | null;
  healthy: boolean;
  subnet: string | null;
  workstation: { netns: string; address: string | null; present: boolean };
  switch: { netns: string; present: boolean };
  vms: VmStatus[];
  envFile: string;
  inventoryFile: string;
  /** namespaces named <prefix>-* that the lab state does not list (debris: lab down removes them) */
  strayNamespaces: string[];
  /** the lab cluster, when the lab has one (lab/cluster/lifecycle.ts) */
  cluster?: ClusterStatus;
}

export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  preflight('status');
  const cfg = resolveConfig(opts);
  const state = await readState(cfg);
  const all = await netnsWithPrefix(cfg.prefix);
  let cluster: ClusterStatus | undefined;
  let clusterNs: string[] = [];
  if (state?.cluster) {
    const lc = await import('./cluster/lifecycle.ts');
    cluster = (await lc.clusterStatus(cfg)) ?? undefined;
    clusterNs = await lc.clusterNamespaces(cfg);
  }
  const listed = new Set(state ? [state.switch.netns, state.workstation.netns, ...state.vms.map((v) => v.netns), ...clusterNs] : []);
  const vms: VmStatus[] = (state?.vms ?? []).map((v) => {
    const ino = netnsInode(v.netns);
    let sshd: SshdState = 'no namespace';
    if (ino !== null) {
      if (!alive(v.sshd) || procNetnsInode(v.sshd!.pid) !== ino) sshd = 'stopped';
      else sshd = listening(v.sshd!.pid, v.address, 22) ? 'running' : 'not listening';
    }
    return {
      name: v.name,
      netns: v.netns,
      address: v.address,
      distro: v.profile,
      version: v.version,
      sshd,
      pid: sshd === 'running' || sshd === 'not listening' ? v.sshd!.pid : null,
    };
  });
  const wsPresent = netnsInode(cfg.wsNetns) !== null;
  const swPresent = netnsInode(cfg.switchNetns) !== null;
  return {
    prefix: cfg.prefix,
    stateDir: cfg.dir,
    exists: !!state,
    generation: state?.generation ?? null,
    healthy:
      !!state &&
      wsPresent &&
      swPresent &&
      vms.every((v) => v.sshd === 'running') &&
      (!state.cluster || (!!cluster && cluster.node.present && cluster.gateway === 'running' && cluster.pods.every((p) => p.ready))),
    subnet: state?.subnet ?? null,
    workstation: { netns: cfg.wsNetns, address: state?.workstation.address ?? null, present: wsPresent },
    switch: { netns: cfg.switchNetns, present: swPresent },
    vms,
    envFile: state?.envFile ?? cfg.envFile,
    inventoryFile: state?.inventoryFile ?? cfg.inventoryFile,
    strayNamespaces: all.filter((n) => !listed.has(n)),
    ...(cluster ? { cluster } : {}),
  };
}

export { createNetns, deleteNetns, killNetnsProcesses, netnsInode } from './sys.ts';

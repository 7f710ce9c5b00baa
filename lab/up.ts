// meshbook lab up: build the lab, or bring it to the requested shape (see lab/README.md).
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
//
// `labUp` checks every input, takes the lock and converges in named steps (k3s install.sh
// style): readPrevious, planLabVms, recordState, ensureSwitch, ensureWorkstation,
// removeGoneVms, ensureVms, ensureCluster, ensureDocker (lab/docker/), writeOutputs.
import { existsSync, promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  BRIDGE,
  DEFAULT_SUBNET,
  DEFAULT_VMS,
  HOST,
  LabError,
  hostAddress,
  parseSubnet,
  planVms,
  resolveConfig,
  type LabConfig,
  type LabUpOptions,
  type Subnet,
  type VmSpec,
} from './config.ts';
import { clusterDown, clusterPreflight, clusterUp } from './cluster/lifecycle.ts';
import { planCluster } from './cluster/state.ts';
import { teardown } from './down.ts';
import { dockerVmNames, ensureDocker, type DockerUpResult } from './docker/lab.ts';
import { ensureClientKey, ensureSecret } from './keys.ts';
import { renderInventory, renderKnownHosts, renderLabEnv, renderSshConfig } from './outputs.ts';
import { preflight } from './preflight.ts';
import {
  foreignEntries,
  isGenerated,
  isStateEntry,
  lock,
  readState,
  refuseForeign,
  saveState,
  type CreatedDir,
  type LabState,
  type VmState,
} from './state.ts';
import { ensureSwitch, ensureWorkstation } from './switch.ts';
import { ensureVms, removeGoneVms, vmDir } from './vm.ts';
import { deleteNetns, killNetnsProcesses, mkdirp, netnsWithPrefix, writeIfChanged } from './sys.ts';

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
  cluster?: {
    created: boolean;
    pods: number;
    seconds: number;
    problems: string[];
    notInLab: string[];
    removed: string[];
  };
  /** the VMs' Docker daemons (lab/docker/): which VMs have one, started and loaded now */
  docker: DockerUpResult;
}

type Progress = (m: string) => void;

/** A lab's generation id: 16 hex digits from the CSPRNG (see LabState.generation). */
export const newGeneration = (): string => randomBytes(8).toString('hex');

/**
 * Before a new lab is built (no lab.json): remove what an earlier lab may have left under
 * this prefix and in this state dir (namespaces, VM disks and host keys, the cluster's
 * objects, known_hosts, keys), so every VM gets a fresh host key and the cluster starts
 * empty. Only the lab's own entries of the state dir are touched; `.lock` is ours.
 */
async function forgetEarlierLab(cfg: LabConfig, progress: Progress): Promise<void> {
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
 * Build the lab, or bring it to the requested shape. Idempotent: what is healthy stays
 * untouched (a second `up` starts nothing and rewrites no file).
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  preflight('up');
  const cfg = resolveConfig(opts);
  const t0 = performance.now();
  const progress = opts.onProgress ?? (() => {});
  await validateInputs(cfg, opts);
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

/** validate_inputs: every option, the state dir and the output paths, before anything is created. */
async function validateInputs(cfg: LabConfig, opts: LabUpOptions): Promise<void> {
  const prev = await readState(cfg);
  const subnet = () => parseSubnet(opts.subnet ?? prev?.subnet ?? DEFAULT_SUBNET);
  const count = opts.vms ?? opts.vmIps?.length ?? prev?.vms.length ?? DEFAULT_VMS;
  planVms(cfg.prefix, subnet(), count, opts.vmIps, opts.profiles);
  if (opts.cluster ?? !!prev?.cluster) {
    planCluster(subnet(), opts.serviceCidr ?? prev?.cluster?.serviceCidr, opts.podCidr ?? prev?.cluster?.podCidr);
    clusterPreflight();
  }
  const foreign = await foreignEntries(cfg.dir);
  if (foreign.length) {
    const some = foreign.slice(0, 3).join(', ');
    throw new LabError(`state dir ${cfg.dir} holds files the lab did not make (${some}): pick a new or empty dir`);
  }
  for (const f of [cfg.envFile, cfg.inventoryFile]) await refuseForeign(f);
}

/** converge: the lab to the requested shape, step by step; what is healthy is left alone. */
async function converge(
  cfg: LabConfig,
  opts: LabUpOptions,
  createdDir: CreatedDir | undefined,
  progress: Progress,
): Promise<LabUpResult> {
  const prev = await readPrevious(cfg, progress);
  const { subnet, plan } = planLabVms(cfg, opts, prev);
  const wsAddress = `${hostAddress(subnet, HOST.workstation)}/${subnet.len}`;
  const state = await recordState(cfg, prev, subnet, plan, wsAddress, createdDir);
  progress('checking the lab');
  const clientPub = await ensureClientKey(cfg);
  const secret = await ensureSecret(cfg);
  const ports = await ensureSwitch(cfg, progress);
  await ensureWorkstation(cfg, ports, wsAddress, progress);
  const removed = await removeGoneVms(cfg, prev, plan, progress);
  state.vms = state.vms.filter((v) => plan.some((p) => p.name === v.name));
  const { kept, created } = await ensureVms(cfg, opts, prev, state, { subnet, ports, clientPub }, progress);
  await saveState(cfg, state);
  const cluster = await ensureCluster(cfg, opts, prev, state, subnet, progress);
  const docker = await ensureDocker(cfg, state, opts.dockerVms, progress);
  await saveState(cfg, state);
  const wrote = await writeOutputs(cfg, prev, state, secret);
  return { cfg, state, created, kept, removed, wrote, seconds: 0, cluster, docker };
}

/** read_previous: the lab's state, if any; a new lab inherits nothing of an earlier one. */
async function readPrevious(cfg: LabConfig, progress: Progress): Promise<LabState | null> {
  const prev = await readState(cfg);
  if (prev && prev.prefix !== cfg.prefix) {
    const owner = `the lab with prefix ${prev.prefix}`;
    throw new LabError(`state dir ${cfg.dir} belongs to ${owner}: pass --dir for another lab`);
  }
  // a new lab inherits nothing of an earlier one in this state dir or under this prefix
  if (!prev) await forgetEarlierLab(cfg, progress);
  return prev;
}

/** plan_vms: the VMs to converge to; an existing lab keeps its addresses and profiles unless told. */
function planLabVms(cfg: LabConfig, opts: LabUpOptions, prev: LabState | null): { subnet: Subnet; plan: VmSpec[] } {
  const subnet = parseSubnet(opts.subnet ?? prev?.subnet ?? DEFAULT_SUBNET);
  const count = opts.vms ?? opts.vmIps?.length ?? prev?.vms.length ?? DEFAULT_VMS;
  let plan = planVms(cfg.prefix, subnet, count, opts.vmIps, opts.profiles);
  if (prev && prev.subnet === subnet.cidr) {
    // keep what the existing lab was built with unless asked otherwise
    plan = plan.map((v) => {
      const p = prev.vms.find((x) => x.name === v.name);
      if (!p) return v;
      return { ...v, address: opts.vmIps ? v.address : p.address, profile: opts.profiles ? v.profile : p.profile };
    });
    const seen = new Set<string>();
    for (const v of plan) {
      if (seen.has(v.address)) throw new LabError(`address ${v.address} would be used twice: pass --vm-ips`);
      seen.add(v.address);
    }
  }
  return { subnet, plan };
}

/** record_state: journal first, so `down` can always find what this run is about to create. */
async function recordState(
  cfg: LabConfig,
  prev: LabState | null,
  subnet: Subnet,
  plan: VmSpec[],
  wsAddress: string,
  createdDir: CreatedDir | undefined,
): Promise<LabState> {
  const prevByName = new Map((prev?.vms ?? []).map((v) => [v.name, v]));
  const state: LabState = {
    version: 1,
    prefix: cfg.prefix,
    generation: prev?.generation ?? newGeneration(),
    subnet: subnet.cidr,
    workstation: { netns: cfg.wsNetns, address: wsAddress },
    switch: { netns: cfg.switchNetns, bridge: BRIDGE },
    vms: [
      ...plan.map((v) => {
        const p = prevByName.get(v.name);
        return { ...v, holder: p?.holder, sshd: p?.sshd, dockerd: p?.dockerd };
      }),
      // VMs about to be removed stay listed until they are gone
      ...(prev?.vms ?? []).filter((p) => !plan.some((v) => v.name === p.name)),
    ],
    envFile: cfg.envFile,
    inventoryFile: cfg.inventoryFile,
    createdDirs: [...(prev?.createdDirs ?? []), ...(createdDir ? [createdDir] : [])],
    cluster: prev?.cluster,
  };
  await saveState(cfg, state);
  return state;
}

/**
 * ensure_cluster: the lab cluster beside the VMs (lab/cluster/: node, ingress gateway, pods,
 * sidecars) when asked or already there; removed when the lab had one and `cluster` is false.
 */
async function ensureCluster(
  cfg: LabConfig,
  opts: LabUpOptions,
  prev: LabState | null,
  state: LabState,
  subnet: Subnet,
  progress: Progress,
): Promise<LabUpResult['cluster']> {
  if (opts.cluster ?? !!prev?.cluster) {
    const t = performance.now();
    progress(prev?.cluster ? 'checking the cluster' : 'creating the cluster');
    const serviceCidr = opts.serviceCidr ?? prev?.cluster?.serviceCidr;
    const plan = planCluster(subnet, serviceCidr, opts.podCidr ?? prev?.cluster?.podCidr);
    state.cluster = {
      netns: `${cfg.prefix}-node`,
      nodeAddress: plan.nodeAddress,
      serviceCidr: plan.serviceCidr,
      podCidr: plan.podCidr,
    };
    await saveState(cfg, state);
    const removedVms = goneVms(prev, state);
    const c = await clusterUp(cfg, state, { serviceCidr: plan.serviceCidr, podCidr: plan.podCidr, removedVms });
    return {
      created: c.created,
      pods: c.state.pods.length,
      seconds: (performance.now() - t) / 1000,
      problems: c.report.problems,
      notInLab: c.report.notInLab,
      removed: c.removed,
    };
  }
  if (prev?.cluster) {
    progress('removing the cluster');
    await clusterDown(cfg, state);
    state.cluster = undefined;
    await saveState(cfg, state);
  }
  return undefined;
}

/** VMs gone or moved since the last `up`: the cluster forgets their WorkloadEntries and endpoints. */
function goneVms(prev: LabState | null, state: LabState): Array<{ name: string; address: string; why: string }> {
  const kept = (p: VmState) => state.vms.some((v) => v.name === p.name && v.address === p.address);
  const goneOrMoved = (prev?.vms ?? []).filter((p) => !kept(p));
  return goneOrMoved.map((p) => {
    const moved = state.vms.find((v) => v.name === p.name);
    const why = moved ? `${p.name} moved to ${moved.address}` : `${p.name} is gone`;
    return { name: p.name, address: p.address, why };
  });
}

/**
 * write_outputs: known_hosts, ssh_config, the inventory and the lab env, each only when its
 * content changes (outputs moved since the last `up` are removed if the lab wrote them).
 * Returns the files written.
 */
async function writeOutputs(cfg: LabConfig, prev: LabState | null, state: LabState, secret: string) {
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
  const docker = dockerVmNames(state);
  const env = { cfg, secret, cluster: state.cluster, subnet: state.subnet, generation: state.generation };
  const outputs: Array<[string, string, number]> = [
    [cfg.knownHostsFile, renderKnownHosts(known, hostKeys, forget), 0o600],
    [cfg.sshConfigFile, renderSshConfig(cfg, state.vms), 0o600],
    [cfg.inventoryFile, renderInventory(cfg, state.vms, docker), 0o644],
    [cfg.envFile, renderLabEnv(env), 0o600],
  ];
  for (const [file, text, mode] of outputs) {
    if (await writeIfChanged(file, text, mode)) wrote.push(file);
  }
  return wrote;
}

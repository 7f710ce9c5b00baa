// meshbook lab: the switch - namespace <prefix>-net with bridge br0 (no address, no routes);
// every other namespace of the lab hangs on it by a veth created inside the switch namespace
// with its peer placed straight into the target.
import { BRIDGE, LabError, VM_IFNAME, resolveConfig, type LabConfig, type LabOptions } from './config.ts';
import { parseAddressWithLength } from './ipv4.ts';
import { preflight } from './preflight.ts';
import {
  createNetns,
  deleteNetns,
  ipBatch,
  killNetnsProcesses,
  linkNames,
  netnsInode,
  netnsWithPrefix,
  run,
} from './sys.ts';

const IFNAME_RE = /^[a-z][a-z0-9-]{0,14}$/;

/** veth between the switch and `netns` (peer created straight inside it), address on the peer. */
export async function linkToSwitch(
  switchNs: string,
  netns: string,
  port: string,
  ifname: string,
  cidrAddress: string,
): Promise<void> {
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
  const a = parseAddressWithLength(o.address);
  if (!a || a.len < 1 || a.len > 32) {
    throw new LabError(`address "${o.address}": use a.b.c.d/len, e.g. 192.168.0.100/24`);
  }
  if (netnsInode(cfg.switchNetns) === null) {
    throw new LabError(`lab ${cfg.prefix} is not up: run meshbook lab up first`);
  }
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

/** Stop namespaces attached to the switch: their processes, their switch ports, the namespaces. */
export async function destroyAttached(cfg: LabConfig, items: Array<{ netns: string; port: string }>): Promise<void> {
  if (!items.length) return;
  await killNetnsProcesses(items.map((i) => i.netns));
  if (netnsInode(cfg.switchNetns) !== null) {
    const ports = await linkNames(cfg.switchNetns);
    const del = items.filter((i) => ports.has(i.port)).map((i) => `link del ${i.port}`);
    if (del.length) await ipBatch(cfg.switchNetns, del);
  }
  await deleteNetns(items.map((i) => i.netns));
}

/** ensure_switch: the bridge namespace; without it nothing else is attached, so all namespaces are rebuilt. */
export async function ensureSwitch(cfg: LabConfig, progress: (m: string) => void): Promise<Set<string>> {
  const ports = netnsInode(cfg.switchNetns) !== null ? await linkNames(cfg.switchNetns) : new Set<string>();
  if (ports.has(BRIDGE)) return ports;
  const stale = await netnsWithPrefix(cfg.prefix);
  if (stale.length) {
    progress('rebuilding the switch');
    await killNetnsProcesses(stale);
    await deleteNetns(stale);
  }
  await createNetns([cfg.switchNetns]);
  await ipBatch(cfg.switchNetns, [
    `link add ${BRIDGE} type bridge`,
    `link set ${BRIDGE} addrgenmode none`,
    `link set ${BRIDGE} up`,
  ]);
  return new Set([BRIDGE]);
}

/** ensure_workstation: the workstation namespace on the switch at .2, rebuilt unless it carries its address. */
export async function ensureWorkstation(
  cfg: LabConfig,
  ports: Set<string>,
  wsAddress: string,
  progress: (m: string) => void,
): Promise<void> {
  let wsOk = false;
  if (netnsInode(cfg.wsNetns) !== null && ports.has('ws')) {
    const out = await run(['ip', '-n', cfg.wsNetns, '-o', '-4', 'addr', 'show', 'dev', VM_IFNAME], { nothrow: true });
    wsOk = out.stdout.includes(` ${wsAddress} `);
  }
  if (wsOk) return;
  progress('creating the workstation namespace');
  await destroyAttached(cfg, [{ netns: cfg.wsNetns, port: 'ws' }]);
  await createNetns([cfg.wsNetns]);
  await linkToSwitch(cfg.switchNetns, cfg.wsNetns, 'ws', VM_IFNAME, wsAddress);
}

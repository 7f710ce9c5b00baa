// meshbook lab cluster: the node's and pods' network namespaces.
//
//   <prefix>-node   on the lab switch at .100 (port `node`), IP forwarding on, bridge cbr0
//                   with the pods' gateway address (.1 of the node's pod subnet); no default
//                   route; its nat/filter tables are the kube-proxy rules (kubeproxy.ts)
//   <prefix>-pod-*  one per pod: eth0 (veth, peer `vp<hash>` on cbr0) with an address of
//                   the pod subnet; routes to the lab subnet, the Service CIDR and the pod
//                   CIDR via the node, no default route
//
// Every command runs inside the lab's namespaces; nothing is added to the machine's own.
import { createHash } from 'node:crypto';
import { LabError, type LabConfig } from '../config.ts';
import { attachToSwitch } from '../switch.ts';
import { createNetns, deleteNetns, ipBatch, killNetnsProcesses, linkNames, netnsInode, run } from '../sys.ts';
import { NODE_PORT, POD_BRIDGE, nodeNetns, type ClusterPlan } from './state.ts';

export const NETNS_PATH = (ns: string) => `/run/netns/${ns}`;

/** Run a command in a namespace's network only (no mount namespace copy, unlike `ip netns exec`). */
export const inNetns = (ns: string, argv: string[], opts: { input?: string; nothrow?: boolean } = {}) =>
  run(['nsenter', `--net=${NETNS_PATH(ns)}`, '--', ...argv], opts);

/** Is the node up: namespace, switch port address, bridge? */
export async function nodeHealthy(cfg: LabConfig, plan: ClusterPlan): Promise<boolean> {
  const ns = nodeNetns(cfg.prefix);
  if (netnsInode(ns) === null || netnsInode(cfg.switchNetns) === null) return false;
  if (!(await linkNames(cfg.switchNetns)).has(NODE_PORT)) return false;
  const out = await run(['ip', '-n', ns, '-o', '-4', 'addr', 'show'], { nothrow: true });
  return (
    out.stdout.includes(` ${plan.nodeAddress}/${plan.subnetLen} `) &&
    out.stdout.includes(` ${plan.podGateway}/`) &&
    /\bcbr0\b/.test(out.stdout)
  );
}

/** Build the node namespace (after removing a broken one). Pods do not survive this. */
export async function createNode(cfg: LabConfig, plan: ClusterPlan): Promise<void> {
  const ns = nodeNetns(cfg.prefix);
  await destroyNamespaces(cfg, [ns], [NODE_PORT]);
  await attachToSwitch({
    prefix: cfg.prefix,
    dir: cfg.dir,
    envFile: cfg.envFile,
    inventoryFile: cfg.inventoryFile,
    netns: ns,
    port: NODE_PORT,
    address: `${plan.nodeAddress}/${plan.subnetLen}`,
    create: true,
  });
  const len = plan.podSubnet.split('/')[1];
  await ipBatch(ns, [
    `link add ${POD_BRIDGE} type bridge`,
    `link set ${POD_BRIDGE} addrgenmode none`,
    `addr add ${plan.podGateway}/${len} dev ${POD_BRIDGE}`,
    `link set ${POD_BRIDGE} up`,
    // ClusterIPs from the node itself: a route for the lookup before OUTPUT's DNAT
    `route add ${plan.serviceCidr} dev ${POD_BRIDGE}`,
  ]);
  // the node routes between the lab subnet and its pods; this file is the node namespace's own
  await inNetns(ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
}

/** Kill the processes of namespaces, remove their switch ports and delete them. */
export async function destroyNamespaces(cfg: LabConfig, names: string[], switchPorts: string[] = []): Promise<void> {
  const present = names.filter((n) => netnsInode(n) !== null);
  if (present.length) await killNetnsProcesses(present);
  if (switchPorts.length && netnsInode(cfg.switchNetns) !== null) {
    const ports = await linkNames(cfg.switchNetns);
    const del = switchPorts.filter((p) => ports.has(p)).map((p) => `link del ${p}`);
    if (del.length) await ipBatch(cfg.switchNetns, del);
  }
  await deleteNetns(names);
}

// ---- pods -------------------------------------------------------------------------------------

const hash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** `<prefix>-pod-<name>`, or `<prefix>-pod-<hash>` when that would be long. */
export function podNetnsName(prefix: string, pod: string): string {
  const full = `${prefix}-pod-${pod}`;
  return full.length <= 48 && /^[a-z0-9-]+$/.test(pod) ? full : `${prefix}-pod-${hash(pod, 12)}`;
}

/** The pod's veth on the node's bridge (<= 15 chars). */
export const podHostIf = (pod: string) => `vp${hash(pod, 10)}`;

/**
 * The pod's MAC, derived from its address (0a:58 + the IPv4 bytes, as some CNI plugins do):
 * a replacement pod that gets the address of the one it replaces also has its MAC, so the
 * node's neighbour entry (still the old one for up to a minute) stays right and the first
 * requests to the new pod are not sent into the void.
 */
export const podMac = (ip: string) =>
  ['0a', '58', ...ip.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');

export async function createPodNetwork(
  cfg: LabConfig,
  plan: ClusterPlan,
  netns: string,
  hostIf: string,
  ip: string,
  labSubnet: string,
): Promise<void> {
  const node = nodeNetns(cfg.prefix);
  if (netnsInode(node) === null) throw new LabError(`the lab cluster's node ${node} is missing: run meshbook lab up`);
  await createNetns([netns]);
  await ipBatch(node, [
    `link add ${hostIf} type veth peer name eth0 netns ${netns}`,
    `link set ${hostIf} master ${POD_BRIDGE} addrgenmode none`,
    // hairpin, as kubelet's hairpin-veth: a pod reaching itself through a ClusterIP or a
    // NodePort gets its packets back through the port they came in on
    `link set ${hostIf} type bridge_slave hairpin on`,
    `link set ${hostIf} up`,
  ]);
  const len = plan.podSubnet.split('/')[1];
  const routes = [labSubnet, plan.serviceCidr, ...(plan.podCidr !== plan.podSubnet ? [plan.podCidr] : [])];
  await ipBatch(netns, [
    'link set lo up',
    'link set eth0 addrgenmode none',
    `link set eth0 address ${podMac(ip)}`,
    `addr add ${ip}/${len} dev eth0`,
    'link set eth0 up',
    ...routes.map((r) => `route add ${r} via ${plan.podGateway} dev eth0`),
  ]);
}

/** Remove a pod's namespace (its processes first); the veth pair goes with it. */
export async function deletePodNetwork(cfg: LabConfig, netns: string, hostIf: string): Promise<void> {
  await destroyNamespaces(cfg, [netns]);
  const node = nodeNetns(cfg.prefix);
  if (netnsInode(node) !== null && (await linkNames(node)).has(hostIf)) await ipBatch(node, [`link del ${hostIf}`]);
}

/** Load the node's kube-proxy rules (whole nat and filter tables). */
export async function loadNodeIptables(cfg: LabConfig, rules: string): Promise<void> {
  await inNetns(nodeNetns(cfg.prefix), ['iptables-restore'], { input: rules });
}

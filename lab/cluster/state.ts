// meshbook lab cluster: its options, address plan and state file (<state dir>/cluster/).
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { HOST, LabError, hostAddress, type LabConfig, type Subnet } from '../config.ts';
import { checkCidr, cidrsOverlap, formatIPv4, nthAddress, type Cidr } from '../ipv4.ts';
import { sleep, takeLockFile, writeIfChanged, type ProcRef } from '../sys.ts';
import type { KObject } from './kinds.ts';

export const DEFAULT_SERVICE_CIDR = '172.19.0.0/20';
export const DEFAULT_POD_CIDR = '172.18.0.0/16';
/** Interface names in the node namespace. */
export const NODE_PORT = 'node';
export const POD_BRIDGE = 'cbr0';
/** VIPs below this offset of the Service CIDR stay free (.1 kubernetes, .10 DNS, .20 the lab's ZIPKIN_IP). */
const VIP_FIRST = 32;

export type { Cidr } from '../ipv4.ts';

/** A cluster CIDR option (`what` names it in errors), prefix length 8..maxLen. */
export function parseCidr(s: string, what: string, maxLen = 30): Cidr {
  const c = checkCidr(s, 8, maxLen);
  if (c.ok) return c.cidr;
  if (c.network) throw new LabError(`${what} "${s}" has host bits set: use ${c.network}`);
  const example = what === '--pod-cidr' ? DEFAULT_POD_CIDR : DEFAULT_SERVICE_CIDR;
  throw new LabError(`${what} "${s}" is not valid: use an IPv4 CIDR with prefix length 8..${maxLen}, e.g. ${example}`);
}

export interface ClusterPlan {
  serviceCidr: string;
  podCidr: string;
  /** this node's pod subnet: the first /24 of the pod CIDR (or all of it when smaller) */
  podSubnet: string;
  /** the node's address on the pod bridge: the pods' gateway */
  podGateway: string;
  nodeAddress: string;
  subnetLen: number;
}

/** The cluster's addresses for a lab subnet, checked (nothing may overlap). */
export function planCluster(
  subnet: Subnet,
  serviceCidr = DEFAULT_SERVICE_CIDR,
  podCidr = DEFAULT_POD_CIDR,
): ClusterPlan {
  const svc = parseCidr(serviceCidr, '--service-cidr', 28);
  const pod = parseCidr(podCidr, '--pod-cidr', 28);
  const lab: Cidr = { cidr: subnet.cidr, base: subnet.base, len: subnet.len };
  if (cidrsOverlap(svc, pod))
    throw new LabError(`--service-cidr ${svc.cidr} overlaps --pod-cidr ${pod.cidr}: pick ranges apart`);
  for (const [c, n] of [
    [svc, '--service-cidr'],
    [pod, '--pod-cidr'],
  ] as const) {
    if (cidrsOverlap(c, lab))
      throw new LabError(`${n} ${c.cidr} overlaps the lab subnet ${subnet.cidr}: pick another range`);
  }
  const subLen = Math.max(24, pod.len);
  return {
    serviceCidr: svc.cidr,
    podCidr: pod.cidr,
    podSubnet: `${formatIPv4(pod.base)}/${subLen}`,
    podGateway: nthAddress(pod, 1),
    nodeAddress: hostAddress(subnet, HOST.clusterFirst),
    subnetLen: subnet.len,
  };
}

// ---- state ---------------------------------------------------------------------------------

export interface PodRecord {
  name: string;
  namespace: string;
  deployment: string;
  templateHash: string;
  ip: string;
  netns: string;
  hostIf: string;
  injected: boolean;
  labels: Record<string, string>;
  containers: string[];
  ports: Array<{ name?: string; containerPort: number }>;
  appPort: number;
  created: string;
  holder?: ProcRef;
  pid1?: ProcRef;
  ready: boolean;
  restarts: number;
  /** what was last written into the pod (sha256 of /etc/hosts and nginx.conf) */
  hostsHash?: string;
  proxyHash?: string;
}

export interface StoredObject {
  live: KObject;
  /** the configuration `kubectl apply` was last given (its 3-way merge base) */
  lastApplied?: KObject;
}

export interface VmSidecar {
  address: string;
  sshd: ProcRef;
  proxyHash: string;
}

export interface ClusterState {
  version: 1;
  prefix: string;
  plan: ClusterPlan;
  node: { netns: string; port: string; bridge: string };
  objects: Record<string, StoredObject>;
  autoVips: Record<string, string>;
  pods: PodRecord[];
  vmSidecars: Record<string, VmSidecar>;
  iptablesHash?: string;
  gatewayHash?: string;
  resourceVersion: number;
}

export interface ClusterPaths {
  dir: string;
  stateFile: string;
  lock: string;
  gatewayDir: string;
  podsDir: string;
}

export function clusterPaths(cfg: LabConfig): ClusterPaths {
  const dir = path.join(cfg.dir, 'cluster');
  return {
    dir,
    stateFile: path.join(dir, 'cluster.json'),
    lock: path.join(dir, '.lock'),
    gatewayDir: path.join(dir, 'gateway'),
    podsDir: path.join(dir, 'pods'),
  };
}

export const nodeNetns = (prefix: string) => `${prefix}-node`;

export async function readClusterState(cfg: LabConfig): Promise<ClusterState | null> {
  let text: string;
  try {
    text = await fsp.readFile(clusterPaths(cfg).stateFile, 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as ClusterState;
    if (s.version !== 1 || !s.plan || !Array.isArray(s.pods)) throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new LabError(
      `lab cluster state ${clusterPaths(cfg).stateFile} is unreadable (${(e as Error).message}): run meshbook lab down`,
    );
  }
}

export async function saveClusterState(cfg: LabConfig, s: ClusterState): Promise<void> {
  await writeIfChanged(clusterPaths(cfg).stateFile, JSON.stringify(s, null, 1) + '\n', 0o600);
}

/** Hold the cluster's lock while `fn` runs (other kubectl calls wait, up to `waitMs`). */
export async function withClusterLock<T>(cfg: LabConfig, fn: () => Promise<T>, waitMs = 120_000): Promise<T> {
  const f = clusterPaths(cfg).lock;
  await fsp.mkdir(path.dirname(f), { recursive: true, mode: 0o700 });
  const until = Date.now() + waitMs;
  for (;;) {
    const holder = await takeLockFile(f);
    if (holder === null) break;
    if (Date.now() > until) throw new LabError(`the lab cluster is busy (pid ${holder} holds ${f})`);
    await sleep(25);
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(f, { force: true }).catch(() => {});
  }
}

export const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16);

// ---- address allocation --------------------------------------------------------------------

/** A free VIP for `key`: a stable spot (hash of the key) in the Service CIDR, probing onward. */
export function allocateVip(plan: ClusterPlan, key: string, used: Set<string>): string {
  const c = parseCidr(plan.serviceCidr, 'service CIDR', 28);
  const size = 2 ** (32 - c.len);
  const room = size - VIP_FIRST - 1;
  if (room < 1) throw new LabError(`the Service CIDR ${plan.serviceCidr} is too small`);
  const start = parseInt(sha(key).slice(0, 8), 16) % room;
  for (let i = 0; i < room; i++) {
    const ip = formatIPv4(c.base + VIP_FIRST + ((start + i) % room));
    if (!used.has(ip)) return ip;
  }
  throw new LabError(`the Service CIDR ${plan.serviceCidr} has no free address left`);
}

/** The lowest free pod address of the node's pod subnet (.2 up; .1 is the node). */
export function allocatePodIp(plan: ClusterPlan, used: Set<string>): string {
  const c = parseCidr(plan.podSubnet, 'pod subnet', 30);
  const size = 2 ** (32 - c.len);
  for (let i = 2; i < size - 1; i++) {
    const ip = formatIPv4(c.base + i);
    if (!used.has(ip)) return ip;
  }
  throw new LabError(`the node's pod subnet ${plan.podSubnet} is full`);
}

// meshbook lab cluster: up and down with the lab (called by lab/up.ts labUp and lab/status.ts labStatus).
import { existsSync, promises as fsp } from 'node:fs';
import { HOST, LabError, parseSubnet, type LabConfig } from '../config.ts';
import { isHostOf, parseIPv4 } from '../ipv4.ts';
import type { LabState } from '../state.ts';
import { alive, netnsInode, procNetnsInode } from '../sys.ts';
import { HELLO_APP } from './workloads.ts';
import { forgetGoneVms, reconcile, type Report } from './controller.ts';
import { storedObjects } from './objects.ts';
import { destroyNamespaces } from './network.ts';
import { nginxMasters, stopSidecar } from './proxies.ts';
import {
  NODE_PORT,
  clusterPaths,
  nodeNetns,
  planCluster,
  readClusterState,
  saveClusterState,
  withClusterLock,
  type ClusterState,
} from './state.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export const NGINX = '/usr/sbin/nginx';

export interface ClusterUpOptions {
  serviceCidr?: string;
  podCidr?: string;
  /** VMs this `up` removed or moved (their old name and address): the cluster forgets them */
  removedVms?: Array<{ name: string; address: string; why?: string }>;
}

export interface ClusterUpResult {
  state: ClusterState;
  created: boolean;
  report: Report;
  /** what the cluster forgot of VMs that are gone (forgetGoneVms), one line each */
  removed: string[];
}

/**
 * Addresses of lab VMs that are gone, with why: those `removedVms` held, and any address a
 * WorkloadEntry or ServiceEntry endpoint names where the lab puts VMs (its subnet outside
 * the workstation/infrastructure .2-.9 and the cluster's .100-.149) but no VM is - left by
 * a shrink before the lab did this, or by an `up` that stopped in between. Addresses a
 * current VM holds are never dead.
 */
export function deadVmAddresses(
  st: ClusterState,
  lab: LabState,
  removedVms: Array<{ name: string; address: string; why?: string }> = [],
): Map<string, string> {
  const live = new Set(lab.vms.map((v) => v.address));
  const gone = new Map<string, string>();
  for (const r of removedVms) if (!live.has(r.address)) gone.set(r.address, r.why ?? `${r.name} is gone`);
  const subnet = parseSubnet(lab.subnet);
  for (const o of storedObjects(st)) {
    const named: unknown[] =
      o.kind === 'WorkloadEntry'
        ? [o.spec?.address]
        : o.kind === 'ServiceEntry' && Array.isArray(o.spec?.endpoints)
          ? o.spec.endpoints.map((e: Untyped) => e?.address)
          : [];
    for (const a of named) {
      if (typeof a !== 'string' || live.has(a) || gone.has(a)) continue;
      const ip = parseIPv4(a);
      if (ip === null || !isHostOf(subnet, ip)) continue;
      const host = ip - subnet.base;
      // .1-.9: gateway, workstation, infrastructure
      if (host < 10 || (host >= HOST.clusterFirst && host <= HOST.clusterLast)) continue;
      gone.set(a, 'no lab VM has this address');
    }
  }
  return gone;
}

/** The tools the cluster needs beyond the VMs': one clear LabError when missing. */
export function clusterPreflight(): void {
  if (!existsSync(NGINX))
    throw new LabError(
      `${NGINX} not found: the lab cluster's data plane is NGINX; ` +
        `install the Debian package nginx (apt-get install nginx)`,
    );
  if (!existsSync(HELLO_APP))
    throw new LabError(`${HELLO_APP} not found: the lab's pods run the hello app from the repository`);
}

/** Build or repair the cluster (node, ingress gateway, pods of stored Deployments, sidecars). Idempotent. */
export async function clusterUp(cfg: LabConfig, lab: LabState, opts: ClusterUpOptions = {}): Promise<ClusterUpResult> {
  clusterPreflight();
  return withClusterLock(cfg, async () => {
    const prev = await readClusterState(cfg);
    const plan = planCluster(
      parseSubnet(lab.subnet),
      opts.serviceCidr ?? prev?.plan.serviceCidr,
      opts.podCidr ?? prev?.plan.podCidr,
    );
    let st: ClusterState;
    if (prev && JSON.stringify(prev.plan) === JSON.stringify(plan)) st = prev;
    else {
      if (prev) {
        // new addresses: everything running goes; the stored objects stay, their ClusterIPs are reassigned
        await teardownRunning(cfg, prev, lab);
        for (const o of Object.values(prev.objects)) {
          if (
            o.live.kind === 'Service' &&
            o.live.spec?.clusterIP !== 'None' &&
            o.lastApplied?.spec?.clusterIP === undefined
          ) {
            delete o.live.spec.clusterIP;
            delete o.live.spec.clusterIPs;
          }
        }
      }
      st = {
        version: 1,
        prefix: cfg.prefix,
        plan,
        node: { netns: nodeNetns(cfg.prefix), port: NODE_PORT, bridge: 'cbr0' },
        objects: prev?.objects ?? {},
        autoVips: {},
        pods: [],
        vmSidecars: {},
        resourceVersion: prev?.resourceVersion ?? 1,
      };
    }
    const created = netnsInode(nodeNetns(cfg.prefix)) === null;
    // objects of VMs that are gone go before the data plane is rendered again
    const removed = forgetGoneVms(st, deadVmAddresses(st, lab, opts.removedVms));
    await fsp.mkdir(clusterPaths(cfg).dir, { recursive: true, mode: 0o700 });
    await saveClusterState(cfg, st);
    try {
      const report = await reconcile(cfg, st, lab);
      return { state: st, created, report, removed };
    } finally {
      await saveClusterState(cfg, st);
    }
  });
}

async function teardownRunning(cfg: LabConfig, st: ClusterState, lab: LabState): Promise<void> {
  for (const [name, rec] of Object.entries(st.vmSidecars)) {
    const v = lab.vms.find((x) => x.name === name);
    if (v && alive(v.sshd) && v.sshd!.start === rec.sshd.start) await stopSidecar(v.sshd!.pid);
  }
  await destroyNamespaces(cfg, [...st.pods.map((p) => p.netns), nodeNetns(cfg.prefix)], [NODE_PORT]);
}

/** Remove the cluster but keep the VMs (`lab up --no-cluster`): VM sidecars stop, namespaces and files go. */
export async function clusterDown(cfg: LabConfig, lab: LabState): Promise<void> {
  await withClusterLock(cfg, async () => {
    const st = await readClusterState(cfg).catch(() => null);
    if (st) await teardownRunning(cfg, st, lab);
    const stray = (await fsp.readdir('/run/netns').catch(() => [] as string[])).filter(
      (n) => n === nodeNetns(cfg.prefix) || n.startsWith(`${cfg.prefix}-pod-`),
    );
    await destroyNamespaces(cfg, stray, [NODE_PORT]);
  });
  await fsp.rm(clusterPaths(cfg).dir, { recursive: true, force: true });
}

export interface ClusterStatus {
  node: { netns: string; address: string; present: boolean };
  gateway: 'running' | 'stopped';
  serviceCidr: string;
  podCidr: string;
  pods: Array<{ namespace: string; name: string; ip: string; netns: string; ready: boolean; sidecar: boolean }>;
  vmSidecars: string[];
  objects: number;
}

/** What runs (reads the state file and /proc only). */
export async function clusterStatus(cfg: LabConfig): Promise<ClusterStatus | null> {
  const st = await readClusterState(cfg).catch(() => null);
  if (!st) return null;
  const ino = netnsInode(nodeNetns(cfg.prefix));
  const masters = nginxMasters();
  return {
    node: { netns: nodeNetns(cfg.prefix), address: st.plan.nodeAddress, present: ino !== null },
    gateway: ino !== null && masters.has(ino) ? 'running' : 'stopped',
    serviceCidr: st.plan.serviceCidr,
    podCidr: st.plan.podCidr,
    pods: st.pods.map((p) => ({
      namespace: p.namespace,
      name: p.name,
      ip: p.ip,
      netns: p.netns,
      ready: p.ready && alive(p.pid1),
      sidecar: p.injected && alive(p.pid1) && masters.has(procNetnsInode(p.pid1!.pid) ?? -1),
    })),
    vmSidecars: Object.keys(st.vmSidecars).sort(),
    objects: Object.keys(st.objects).length,
  };
}

/** Namespaces the cluster owns (for lab status: not strays). */
export async function clusterNamespaces(cfg: LabConfig): Promise<string[]> {
  const st = await readClusterState(cfg).catch(() => null);
  return st ? [nodeNetns(cfg.prefix), ...st.pods.map((p) => p.netns)] : [];
}

// meshbook lab cluster: bringing the running lab in line with the stored objects - what the
// Kubernetes controllers, kube-proxy and istiod would do, done at once (there is no
// background loop: every kubectl call through the provider, and `lab up`, reconciles).
//
//   Deployments  -> pods running the lab's app for their image (workloads.ts: article 4's
//                   hello app, the lab's Bookinfo); any other image: "not in lab"
//   Services     -> ClusterIPs (stable per name) and the node's kube-proxy rules
//   everything   -> every pod's /etc/hosts (cluster DNS) and NGINX config: the ingress
//                   gateway, each injected pod's sidecar, each lab VM a WorkloadEntry
//                   points at (its sidecar runs inside the VM, with the interception rules)
//
// One ordered pass (reconcile): ensure_node, drop_stopped_pods, pods_for_deployments,
// assign_addresses, start_new_pods, then the data plane from what runs: load_node_rules,
// apply_gateway, apply_pod_proxies, apply_vm_sidecars. The objects and the mesh built from
// them are in objects.ts, a pod's life in pods.ts, what `get` shows of pods in pod-objects.ts.
import path from 'node:path';
import { randomInt, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { LabConfig } from '../config.ts';
import type { LabState } from '../state.ts';
import { alive, netnsInode, procNetnsInode } from '../sys.ts';
import type { KObject } from './kinds.ts';
import { vmWorkload, type Mesh } from './mesh.ts';
import { renderProxyConfig } from './nginx.ts';
import { renderNodeIptables, renderPodHosts } from './kubeproxy.ts';
import { createNode, loadNodeIptables, nodeHealthy, podHostIf, podNetnsName } from './network.ts';
import { SIDECAR_DIR, applyProxy, nginxMasters, stopSidecar } from './proxies.ts';
import { POD_BRIDGE, allocatePodIp, clusterPaths, nodeNetns, sha, type ClusterState, type PodRecord } from './state.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';
import { deploymentWorkload, injects } from './workloads.ts';
import {
  INGRESS,
  assignAutoVips,
  assignClusterIP,
  currentMesh,
  kindIs,
  namespaceLabels,
  nsOf,
  storedObjects,
} from './objects.ts';
import { RAND, podAlive, podDir, podReady, removePod, sidecarConfig, startPod, tail, waitPod } from './pods.ts';

export interface Report {
  /** Deployments the lab cannot run: `deployment ns/name: why` */
  notInLab: string[];
  warnings: string[];
  /** pods that failed to start or stopped (with their console's last lines) */
  problems: string[];
}

export interface ReconcileOptions {
  /** pods to delete first (kubectl delete pod) */
  deletePods?: string[];
}

/** What a pod that is about to start runs: the app file and its environment. */
type Starts = Map<string, { app: string; env: Record<string, string> }>;

/**
 * Bring the lab in line with the stored objects. Idempotent and quiet when nothing
 * changed (nothing is started, written or reloaded).
 */
export async function reconcile(
  cfg: LabConfig,
  st: ClusterState,
  lab: LabState,
  opts: ReconcileOptions = {},
): Promise<Report> {
  const report: Report = { notInLab: [], warnings: [], problems: [] };
  await ensureNode(cfg, st);
  await dropStoppedPods(cfg, st, opts, report);
  const objects = storedObjects(st);
  const { fresh, starts } = await podsForDeployments(cfg, st, objects, report);
  assignAddresses(st, objects);
  await startNewPods(cfg, st, lab, fresh, starts, report);

  // the data plane, from what runs now; a part that fails is reported and retried by the
  // next call: it never blocks the others (or the kubectl command that would fix it)
  const mesh = currentMesh(st, true);
  report.warnings.push(...mesh.warnings);
  const masters = nginxMasters();
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      report.problems.push(`${what}: ${(e as Error).message}`);
    }
  };
  await guard("the node's kube-proxy rules", () => loadNodeRules(cfg, st, mesh));
  await guard('the ingress gateway', () => applyGateway(cfg, st, mesh, masters, report));
  await Promise.all(
    st.pods.map((p) => guard(`pod ${p.namespace}/${p.name}`, () => applyPodProxy(st, p, mesh, masters, report))),
  );
  await applyVmSidecars(st, lab, mesh, masters, report, guard);

  report.warnings = [...new Set(report.warnings)];
  return report;
}

/** The node namespace, rebuilt when broken (its pods go with it). */
async function ensureNode(cfg: LabConfig, st: ClusterState): Promise<void> {
  if (await nodeHealthy(cfg, st.plan)) return;
  await createNode(cfg, st.plan);
  st.iptablesHash = undefined;
  st.gatewayHash = undefined;
}

/** Pods that stopped (reported, replaced later) or that kubectl deletes. */
async function dropStoppedPods(cfg: LabConfig, st: ClusterState, opts: ReconcileOptions, report: Report) {
  for (const p of [...st.pods]) {
    if (opts.deletePods?.includes(`${p.namespace}/${p.name}`)) await removePod(cfg, st, p);
    else if (!podAlive(p)) {
      report.problems.push(
        `pod ${p.namespace}/${p.name} stopped (it is ` +
          `replaced): ${await tail(path.join(podDir(cfg, p.name), 'console.log'))}`,
      );
      await removePod(cfg, st, p);
    } else p.ready = podReady(p);
  }
}

/** Deployments -> pod records: keep the current ones up to the replica count, add the missing
 *  ones (not started yet), remove the rest. */
async function podsForDeployments(cfg: LabConfig, st: ClusterState, objects: KObject[], report: Report) {
  const starts: Starts = new Map();
  const wanted = new Set<string>();
  const fresh: PodRecord[] = [];
  for (const d of objects.filter((o) => kindIs(o, 'Deployment'))) {
    const ns = nsOf(d);
    const w = deploymentWorkload(d);
    if (!w.ok) {
      report.notInLab.push(w.reason);
      continue;
    }
    const hash = sha(JSON.stringify([ns, d.spec?.template])).slice(0, 10);
    const replicas = d.spec?.replicas === undefined ? 1 : Number(d.spec.replicas);
    const mine = st.pods.filter((p) => p.namespace === ns && p.deployment === d.metadata.name);
    const keep = mine.filter((p) => p.templateHash === hash).slice(0, replicas);
    for (const p of mine.filter((x) => !keep.includes(x))) await removePod(cfg, st, p);
    keep.forEach((p) => wanted.add(p.name));
    // what the lab does not carry out of the pod spec: said when it starts pods from it
    if (keep.length < replicas) report.warnings.push(...w.warnings);
    for (let i = keep.length; i < replicas; i++) {
      const p = newPodRecord(cfg, st, d, hash, w);
      starts.set(p.name, { app: w.app, env: w.env });
      st.pods.push(p);
      fresh.push(p);
      wanted.add(p.name);
    }
  }
  for (const p of st.pods.filter((x) => !wanted.has(x.name))) await removePod(cfg, st, p);
  return { fresh, starts };
}

/** A new pod of Deployment `d` (template hash `hash`), with its address and namespace names. */
function newPodRecord(
  cfg: LabConfig,
  st: ClusterState,
  d: KObject,
  hash: string,
  w: Extract<ReturnType<typeof deploymentWorkload>, { ok: true }>,
): PodRecord {
  const suffix = Array.from({ length: 5 }, () => RAND[randomInt(RAND.length)]).join('');
  const name = `${d.metadata.name}-${hash}-${suffix}`;
  return {
    name,
    namespace: nsOf(d),
    deployment: d.metadata.name,
    templateHash: hash,
    ip: allocatePodIp(st.plan, new Set(st.pods.map((x) => x.ip))),
    netns: podNetnsName(cfg.prefix, name),
    hostIf: podHostIf(name),
    injected: injects(namespaceLabels(st, nsOf(d)), d.spec?.template),
    labels: { ...(d.spec?.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
    containers: w.containers,
    ports: w.ports,
    appPort: w.appPort,
    created: new Date().toISOString(),
    ready: false,
    restarts: 0,
  };
}

/** ClusterIPs of Services missing one, VIPs of ServiceEntry hosts. */
function assignAddresses(st: ClusterState, objects: KObject[]): void {
  for (const o of objects.filter((x) => kindIs(x, 'Service')))
    if (o.spec?.clusterIP === undefined) assignClusterIP(st, o);
  assignAutoVips(st);
}

/** New pods start with the configuration that counts them in; one that fails is reported and removed. */
async function startNewPods(
  cfg: LabConfig,
  st: ClusterState,
  lab: LabState,
  fresh: PodRecord[],
  starts: Starts,
  report: Report,
): Promise<void> {
  if (!fresh.length) return;
  for (const p of fresh) p.ready = true;
  const optimistic = currentMesh(st);
  for (const p of fresh) p.ready = false;
  const results = await Promise.all(
    fresh.map(async (p) => {
      try {
        await startPod(cfg, st, lab, p, starts.get(p.name)!, optimistic);
      } catch (e) {
        return `could not start: ${(e as Error).message}`;
      }
      return waitPod(cfg, p);
    }),
  );
  for (const [i, why] of results.entries()) {
    const p = fresh[i];
    if (why) {
      report.problems.push(`pod ${p.namespace}/${p.name} ${why}`);
      await removePod(cfg, st, p);
    } else p.ready = true;
  }
}

/** The node's kube-proxy rules, loaded when they changed. */
async function loadNodeRules(cfg: LabConfig, st: ClusterState, mesh: Mesh): Promise<void> {
  const rules = renderNodeIptables(mesh, { bridge: POD_BRIDGE, podSubnet: st.plan.podSubnet });
  if (st.iptablesHash === sha(rules)) return;
  await loadNodeIptables(cfg, rules);
  st.iptablesHash = sha(rules);
}

/** The ingress gateway's NGINX in the node namespace, (re)started when its config changed or it is down. */
async function applyGateway(
  cfg: LabConfig,
  st: ClusterState,
  mesh: Mesh,
  masters: Map<number, number>,
  report: Report,
) {
  const nodeIno = netnsInode(nodeNetns(cfg.prefix));
  const gatewayUp = nodeIno !== null && masters.has(nodeIno);
  const gw = renderProxyConfig(mesh, {
    id: 'gateway',
    kind: 'gateway',
    namespace: INGRESS.namespace,
    dir: clusterPaths(cfg).gatewayDir,
    user: 'nobody nogroup',
    labels: INGRESS.labels,
  });
  report.warnings.push(...gw.warnings);
  if (gatewayUp && st.gatewayHash === sha(gw.text)) return;
  await applyProxy(
    { kind: 'gateway', netns: nodeNetns(cfg.prefix), dir: clusterPaths(cfg).gatewayDir },
    gw.text,
    gw.listen,
  );
  st.gatewayHash = sha(gw.text);
}

/** A pod's cluster DNS (its /etc/hosts) and, when injected, its sidecar. */
async function applyPodProxy(st: ClusterState, p: PodRecord, mesh: Mesh, masters: Map<number, number>, report: Report) {
  if (!alive(p.pid1)) return;
  const hosts = renderPodHosts(mesh, p);
  if (p.hostsHash !== sha(hosts)) {
    const file = `/proc/${p.pid1!.pid}/root/etc/hosts`;
    const tmp = `/proc/${p.pid1!.pid}/root/etc/.hosts.${randomUUID().slice(0, 8)}.tmp`;
    await fsp.writeFile(tmp, hosts, { mode: 0o644 });
    await fsp.rename(tmp, file);
    p.hostsHash = sha(hosts);
  }
  if (!p.injected) return;
  const conf = sidecarConfig(mesh, p);
  report.warnings.push(...conf.warnings);
  const ino = procNetnsInode(p.pid1!.pid);
  if (p.proxyHash === sha(conf.text) && ino !== null && masters.has(ino)) return;
  await applyProxy(
    { kind: 'sidecar', pid: p.pid1!.pid, serviceCidr: st.plan.serviceCidr, what: `pod ${p.namespace}/${p.name}` },
    conf.text,
    conf.listen,
  );
  p.proxyHash = sha(conf.text);
}

/** Lab VMs a WorkloadEntry points at: their sidecar runs inside the VM; the others lose theirs. */
async function applyVmSidecars(
  st: ClusterState,
  lab: LabState,
  mesh: Mesh,
  masters: Map<number, number>,
  report: Report,
  guard: (what: string, fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const running = lab.vms.filter((v) => alive(v.sshd));
  await Promise.all(
    running.map((v) =>
      guard(v.name, async () => {
        const wl = vmWorkload(mesh, v.address);
        const rec = st.vmSidecars[v.name];
        if (!wl) {
          if (rec) {
            if (rec.sshd.start === v.sshd!.start) await stopSidecar(v.sshd!.pid);
            delete st.vmSidecars[v.name];
          }
          return;
        }
        const conf = renderProxyConfig(mesh, {
          id: `vm/${v.name}`,
          kind: 'sidecar',
          namespace: wl.namespace,
          dir: SIDECAR_DIR,
          user: 'istio-proxy',
          inboundPorts: wl.ports,
        });
        report.warnings.push(...conf.warnings);
        const ino = procNetnsInode(v.sshd!.pid);
        const same =
          rec &&
          rec.proxyHash === sha(conf.text) &&
          rec.sshd.start === v.sshd!.start &&
          rec.sshd.pid === v.sshd!.pid &&
          ino !== null &&
          masters.has(ino);
        if (same) return;
        await applyProxy(
          { kind: 'sidecar', pid: v.sshd!.pid, serviceCidr: st.plan.serviceCidr, what: v.name },
          conf.text,
          conf.listen,
        );
        st.vmSidecars[v.name] = { address: v.address, sshd: v.sshd!, proxyHash: sha(conf.text) };
      }),
    ),
  );
  for (const name of Object.keys(st.vmSidecars)) if (!running.some((v) => v.name === name)) delete st.vmSidecars[name];
}

// ---- VMs that are gone --------------------------------------------------------------------------

/**
 * Take out of the stored objects what points at lab VMs that are gone (`lab up --vms N`
 * with fewer VMs, or a VM moved to another address): WorkloadEntries whose address was
 * theirs, and such static endpoints of ServiceEntries. Left in, each would stay an upstream
 * of every proxy, where a request waits for a connect timeout to an address nobody holds.
 * `gone` maps an address to why it is dead (`vm4 is gone`); an address a current VM holds
 * is never in it. Returns one line per change. The caller reconciles (the data plane is
 * rendered again from what is left).
 */
export function forgetGoneVms(st: ClusterState, gone: Map<string, string>): string[] {
  const out: string[] = [];
  if (!gone.size) return out;
  const bump = (o: KObject) => {
    o.metadata.resourceVersion = String(++st.resourceVersion);
    o.metadata.generation = Number(o.metadata.generation ?? 1) + 1;
  };
  for (const [key, o] of Object.entries(st.objects)) {
    const obj = o.live;
    if (obj.kind === 'WorkloadEntry' && typeof obj.spec?.address === 'string' && gone.has(obj.spec.address)) {
      delete st.objects[key];
      out.push(
        `removed workloadentry ${nsOf(obj)}/${obj.metadata.name} (${obj.spec.address}: ${gone.get(obj.spec.address)})`,
      );
    } else if (obj.kind === 'ServiceEntry' && Array.isArray(obj.spec?.endpoints)) {
      const dead = (obj.spec.endpoints as Untyped[]).filter((e) => gone.has(e?.address));
      if (!dead.length) continue;
      obj.spec.endpoints = (obj.spec.endpoints as Untyped[]).filter((e) => !gone.has(e?.address));
      // and from the last-applied configuration, so that applying it again puts them back
      if (Array.isArray(o.lastApplied?.spec?.endpoints))
        o.lastApplied!.spec.endpoints = (o.lastApplied!.spec.endpoints as Untyped[]).filter(
          (e) => !gone.has(e?.address),
        );
      bump(obj);
      for (const e of dead)
        out.push(
          `removed endpoint ${e.address} of serviceentry ${nsOf(obj)}/${obj.metadata.name} (${gone.get(e.address)})`,
        );
    }
  }
  return out;
}

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
// shape: over 400 lines, reconcile over 80 (one ordered pass: node, pods, rules, proxies); split deferred (time)
import path from 'node:path';
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import { randomInt, randomUUID } from 'node:crypto';
import { LabError, REPO_ROOT, type LabConfig } from '../config.ts';
import type { LabState } from '../state.ts';
import {
  CLEAN_ENV,
  alive,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  sleep,
  writeIfChanged,
  netnsInode,
} from '../sys.ts';
import { BUILTIN_NAMESPACES, clone, isObj, type KObject } from './kinds.ts';
import { buildMesh, hostsNeedingVip, vmWorkload, type Mesh, type PodInfo } from './mesh.ts';
import { renderProxyConfig, INBOUND_PORT, OUTBOUND_PORT, GATEWAY_HEALTH_PORT } from './nginx.ts';
import { renderNodeIptables, renderPodHosts } from './kubeproxy.ts';
import { ingressServicePorts } from './ingress-ports.ts';
import {
  createNode,
  createPodNetwork,
  deletePodNetwork,
  loadNodeIptables,
  nodeHealthy,
  podHostIf,
  podNetnsName,
} from './network.ts';
import { POD_INIT_SH, SIDECAR_DIR, applyProxy, listeningPorts, nginxMasters, stopSidecar } from './proxies.ts';
import {
  POD_BRIDGE,
  allocatePodIp,
  allocateVip,
  clusterPaths,
  nodeNetns,
  sha,
  type ClusterState,
  type PodRecord,
} from './state.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';
import { deploymentWorkload, injects } from './workloads.ts';

export const INGRESS = {
  namespace: 'istio-system',
  name: 'istio-ingressgateway',
  pod: 'istio-ingressgateway-lab',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' } as Record<string, string>,
};
export const INGRESS_HOST = `${INGRESS.name}.${INGRESS.namespace}.svc.cluster.local`;
const POD_READY_MS = 20_000;

export interface Report {
  /** Deployments the lab cannot run: `deployment ns/name: why` */
  notInLab: string[];
  warnings: string[];
  /** pods that failed to start or stopped (with their console's last lines) */
  problems: string[];
}

const nsOf = (o: KObject) => o.metadata.namespace ?? 'default';
const kindIs = (o: KObject, kind: string) => o.kind === kind;

// ---- the objects as the cluster shows them ----------------------------------------------------

export function storedObjects(st: ClusterState): KObject[] {
  return Object.values(st.objects).map((o) => o.live);
}

export function namespaceLabels(st: ClusterState, ns: string): Record<string, string> | undefined {
  const o = Object.values(st.objects).find((x) => x.live.kind === 'Namespace' && x.live.metadata.name === ns);
  return o?.live.metadata.labels;
}

export function namespaceExists(st: ClusterState, ns: string): boolean {
  return (
    BUILTIN_NAMESPACES.includes(ns) ||
    Object.values(st.objects).some((x) => x.live.kind === 'Namespace' && x.live.metadata.name === ns)
  );
}

/** Gateway server ports served by the lab's ingress gateway (selector istio=ingressgateway or none). */
export function ingressPorts(objects: KObject[]): number[] {
  const ports = new Set<number>();
  for (const gw of objects.filter((o) => kindIs(o, 'Gateway'))) {
    const sel = gw.spec?.selector as Record<string, string> | undefined;
    if (sel && !Object.entries(sel).every(([k, v]) => INGRESS.labels[k] === v)) continue;
    for (const s of (gw.spec?.servers ?? []) as Untyped[])
      if (Number.isInteger(Number(s?.port?.number))) ports.add(Number(s.port.number));
  }
  return [...ports].sort((a, b) => a - b);
}

/** The ingress gateway's Service (type LoadBalancer, the node's address as its ingress IP). */
export function ingressService(st: ClusterState, objects: KObject[]): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: INGRESS.name,
      namespace: INGRESS.namespace,
      labels: { ...INGRESS.labels },
      annotations: { 'meshbook.lab/what': 'the lab ingress gateway: NGINX in the node namespace' },
    },
    spec: {
      type: 'LoadBalancer',
      selector: { ...INGRESS.labels },
      clusterIP: st.autoVips[INGRESS_HOST],
      clusterIPs: st.autoVips[INGRESS_HOST] ? [st.autoVips[INGRESS_HOST]] : undefined,
      // Istio's ports (status-port, http2, https with NodePorts) and one per other Gateway port
      ports: ingressServicePorts(ingressPorts(objects)),
    },
    status: { loadBalancer: { ingress: [{ ip: st.plan.nodeAddress }] } },
  };
}

/** Every object the data plane is built from: stored ones plus the ingress gateway's Service. */
export function meshObjects(st: ClusterState): KObject[] {
  const objects = storedObjects(st);
  const userIngress = objects.some(
    (o) => kindIs(o, 'Service') && o.metadata.name === INGRESS.name && nsOf(o) === INGRESS.namespace,
  );
  return userIngress ? objects : [...objects, ingressService(st, objects)];
}

export function podInfos(st: ClusterState, objects: KObject[], gatewayReady: boolean): PodInfo[] {
  return [
    ...st.pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      ip: p.ip,
      labels: p.labels,
      ready: p.ready,
      ports: p.ports.length ? p.ports : [{ containerPort: p.appPort }],
      injected: p.injected,
    })),
    {
      name: INGRESS.pod,
      namespace: INGRESS.namespace,
      ip: st.plan.nodeAddress,
      labels: INGRESS.labels,
      ready: gatewayReady,
      ports: [...ingressPorts(objects), GATEWAY_HEALTH_PORT].map((p) => ({ name: `http-${p}`, containerPort: p })),
      injected: false,
    },
  ];
}

export function currentMesh(st: ClusterState, gatewayReady = true): Mesh {
  const objects = meshObjects(st);
  return buildMesh({ objects, pods: podInfos(st, objects, gatewayReady), autoVips: st.autoVips });
}

// ---- VIPs ---------------------------------------------------------------------------------------

function usedVips(st: ClusterState): Set<string> {
  const used = new Set<string>(Object.values(st.autoVips));
  for (const o of storedObjects(st))
    if (kindIs(o, 'Service') && typeof o.spec?.clusterIP === 'string') used.add(o.spec.clusterIP);
  return used;
}

/** A ClusterIP for a new Service (its own spec.clusterIP when given). */
export function assignClusterIP(st: ClusterState, svc: KObject): void {
  svc.spec = svc.spec ?? {};
  if (svc.spec.clusterIP === 'None') return;
  if (typeof svc.spec.clusterIP !== 'string' || !svc.spec.clusterIP) {
    svc.spec.clusterIP = allocateVip(st.plan, `svc/${nsOf(svc)}/${svc.metadata.name}`, usedVips(st));
  }
  svc.spec.clusterIPs = [svc.spec.clusterIP];
  svc.spec.type = svc.spec.type ?? 'ClusterIP';
}

function assignAutoVips(st: ClusterState): void {
  const objects = storedObjects(st);
  const want = new Set([...hostsNeedingVip(objects), INGRESS_HOST]);
  for (const h of Object.keys(st.autoVips)) if (!want.has(h)) delete st.autoVips[h];
  for (const h of want) if (!st.autoVips[h]) st.autoVips[h] = allocateVip(st.plan, `host/${h}`, usedVips(st));
}

// ---- pods ---------------------------------------------------------------------------------------

const podDir = (cfg: LabConfig, name: string) => path.join(clusterPaths(cfg).podsDir, name);
const RAND = 'bcdfghjklmnpqrstvwxz2456789';

function podReady(p: PodRecord): boolean {
  if (!alive(p.pid1)) return false;
  const ports = listeningPorts(p.pid1!.pid);
  return ports.has(p.appPort) && (!p.injected || (ports.has(OUTBOUND_PORT) && ports.has(INBOUND_PORT)));
}

/** Is the pod's process tree still there, in its own namespace? */
function podAlive(p: PodRecord): boolean {
  const ino = netnsInode(p.netns);
  return ino !== null && alive(p.holder) && alive(p.pid1) && procNetnsInode(p.pid1!.pid) === ino;
}

async function tail(file: string, lines = 6): Promise<string> {
  const t = await fsp.readFile(file, 'utf8').catch(() => '');
  return t.trim().split('\n').slice(-lines).join(' | ');
}

async function removePod(cfg: LabConfig, st: ClusterState, p: PodRecord): Promise<void> {
  await deletePodNetwork(cfg, p.netns, p.hostIf);
  st.pods = st.pods.filter((x) => x.name !== p.name);
  await fsp.rm(podDir(cfg, p.name), { recursive: true, force: true });
}

function sidecarConfig(mesh: Mesh, p: PodRecord) {
  return renderProxyConfig(mesh, {
    id: `pod/${p.namespace}/${p.name}`,
    kind: 'sidecar',
    namespace: p.namespace,
    dir: SIDECAR_DIR,
    user: 'istio-proxy',
    inboundPorts: p.ports.length ? p.ports.map((x) => x.containerPort) : [p.appPort],
  });
}

/** Prepare the pod's files, its network, and start pod-init.sh (does not wait). */
async function startPod(
  cfg: LabConfig,
  st: ClusterState,
  lab: LabState,
  p: PodRecord,
  run: { app: string; env: Record<string, string> },
  mesh: Mesh,
): Promise<void> {
  const { app, env } = run;
  const dir = podDir(cfg, p.name);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(path.join(dir, 'app'), { recursive: true, mode: 0o755 });
  await fsp.chmod(dir, 0o755);
  const hosts = renderPodHosts(mesh, p);
  await writeIfChanged(path.join(dir, 'hosts'), hosts, 0o644);
  await fsp.copyFile(app, path.join(dir, 'app', path.basename(app)));
  p.hostsHash = sha(hosts);
  if (p.injected) {
    const conf = sidecarConfig(mesh, p);
    await fsp.mkdir(path.join(dir, 'sidecar'), { recursive: true, mode: 0o755 });
    await writeIfChanged(path.join(dir, 'sidecar', 'nginx.conf'), conf.text, 0o644);
    await fsp.copyFile(path.join(path.dirname(POD_INIT_SH), 'sidecar.sh'), path.join(dir, 'sidecar', 'sidecar.sh'));
    await fsp.copyFile(path.join(REPO_ROOT, 'vm', 'istio-iptables.sh'), path.join(dir, 'sidecar', 'istio-iptables.sh'));
    p.proxyHash = sha(conf.text);
  }
  await createPodNetwork(cfg, st.plan, p.netns, p.hostIf, p.ip, lab.subnet);
  const fd = openSync(path.join(dir, 'console.log'), 'a', 0o600);
  let child;
  try {
    child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${p.netns}`,
        '--',
        'unshare',
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        POD_INIT_SH,
        p.name,
        dir,
        p.injected ? '1' : '0',
        st.plan.serviceCidr,
        '--',
        process.execPath,
        `/run/meshlab/app/${path.basename(app)}`,
      ],
      { detached: true, stdio: ['ignore', fd, fd], env: { ...CLEAN_ENV, ...env, HOSTNAME: p.name }, cwd: '/' },
    );
  } finally {
    closeSync(fd);
  }
  child.once('error', () => {});
  child.unref();
  const holder = child.pid ? procRef(child.pid) : null;
  if (!holder) throw new LabError(`pod ${p.namespace}/${p.name}: could not start`);
  p.holder = holder;
}

/** Wait until a started pod's app (and sidecar) listen; false with the reason when it fails. */
async function waitPod(cfg: LabConfig, p: PodRecord): Promise<string | undefined> {
  const until = Date.now() + POD_READY_MS;
  while (Date.now() < until) {
    if (!alive(p.holder)) return `exited: ${await tail(path.join(podDir(cfg, p.name), 'console.log'))}`;
    if (!p.pid1) {
      const c = procChildren(p.holder!.pid)[0];
      if (c) p.pid1 = procRef(c) ?? undefined;
    }
    if (p.pid1 && procComm(p.pid1.pid) === 'node' && podReady(p)) return undefined;
    await sleep(15);
  }
  return `not ready within ${POD_READY_MS / 1000} s: ${await tail(path.join(podDir(cfg, p.name), 'console.log'))}`;
}

// ---- reconcile ------------------------------------------------------------------------------------

export interface ReconcileOptions {
  /** pods to delete first (kubectl delete pod) */
  deletePods?: string[];
}

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
  const plan = st.plan;

  // the node (rebuilt when broken: its pods go with it)
  if (!(await nodeHealthy(cfg, plan))) {
    await createNode(cfg, plan);
    st.iptablesHash = undefined;
    st.gatewayHash = undefined;
  }

  // pods that stopped or were deleted
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

  // Deployments -> pods
  const objects = storedObjects(st);
  const starts = new Map<string, { app: string; env: Record<string, string> }>();
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
      const name =
        `${d.metadata.name}-${hash}-` + `${Array.from({ length: 5 }, () => RAND[randomInt(RAND.length)]).join('')}`;
      const p: PodRecord = {
        name,
        namespace: ns,
        deployment: d.metadata.name,
        templateHash: hash,
        ip: allocatePodIp(plan, new Set(st.pods.map((x) => x.ip))),
        netns: podNetnsName(cfg.prefix, name),
        hostIf: podHostIf(name),
        injected: injects(namespaceLabels(st, ns), d.spec?.template),
        labels: { ...(d.spec?.template?.metadata?.labels ?? {}), 'pod-template-hash': hash },
        containers: w.containers,
        ports: w.ports,
        appPort: w.appPort,
        created: new Date().toISOString(),
        ready: false,
        restarts: 0,
      };
      starts.set(name, { app: w.app, env: w.env });
      st.pods.push(p);
      fresh.push(p);
      wanted.add(name);
    }
  }
  for (const p of st.pods.filter((x) => !wanted.has(x.name))) await removePod(cfg, st, p);

  // addresses: ClusterIPs of Services missing one, VIPs of ServiceEntry hosts
  for (const o of objects.filter((x) => kindIs(x, 'Service')))
    if (o.spec?.clusterIP === undefined) assignClusterIP(st, o);
  assignAutoVips(st);

  // new pods start with the configuration that counts them in
  if (fresh.length) {
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

  // the data plane, from what runs now
  const masters = nginxMasters();
  const nodeIno = netnsInode(nodeNetns(cfg.prefix));
  const gatewayUp = nodeIno !== null && masters.has(nodeIno);
  const mesh = currentMesh(st, true);
  report.warnings.push(...mesh.warnings);

  // a part that fails is reported and retried by the next call; it never blocks the others
  // (or the kubectl command that would fix it)
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      report.problems.push(`${what}: ${(e as Error).message}`);
    }
  };

  const rules = renderNodeIptables(mesh, { bridge: POD_BRIDGE, podSubnet: plan.podSubnet });
  if (st.iptablesHash !== sha(rules)) {
    await guard("the node's kube-proxy rules", async () => {
      await loadNodeIptables(cfg, rules);
      st.iptablesHash = sha(rules);
    });
  }

  const gw = renderProxyConfig(mesh, {
    id: 'gateway',
    kind: 'gateway',
    namespace: INGRESS.namespace,
    dir: clusterPaths(cfg).gatewayDir,
    user: 'nobody nogroup',
    labels: INGRESS.labels,
  });
  report.warnings.push(...gw.warnings);
  if (!gatewayUp || st.gatewayHash !== sha(gw.text)) {
    await guard('the ingress gateway', async () => {
      await applyProxy(
        { kind: 'gateway', netns: nodeNetns(cfg.prefix), dir: clusterPaths(cfg).gatewayDir },
        gw.text,
        gw.listen,
      );
      st.gatewayHash = sha(gw.text);
    });
  }

  await Promise.all(
    st.pods.map((p) =>
      guard(`pod ${p.namespace}/${p.name}`, async () => {
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
        if (p.proxyHash !== sha(conf.text) || ino === null || !masters.has(ino)) {
          await applyProxy(
            { kind: 'sidecar', pid: p.pid1!.pid, serviceCidr: plan.serviceCidr, what: `pod ${p.namespace}/${p.name}` },
            conf.text,
            conf.listen,
          );
          p.proxyHash = sha(conf.text);
        }
      }),
    ),
  );

  // lab VMs a WorkloadEntry points at: their sidecar runs inside the VM
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
        const up = ino !== null && masters.has(ino);
        if (
          !rec ||
          rec.proxyHash !== sha(conf.text) ||
          rec.sshd.start !== v.sshd!.start ||
          rec.sshd.pid !== v.sshd!.pid ||
          !up
        ) {
          await applyProxy(
            { kind: 'sidecar', pid: v.sshd!.pid, serviceCidr: plan.serviceCidr, what: v.name },
            conf.text,
            conf.listen,
          );
          st.vmSidecars[v.name] = { address: v.address, sshd: v.sshd!, proxyHash: sha(conf.text) };
        }
      }),
    ),
  );
  for (const name of Object.keys(st.vmSidecars)) if (!running.some((v) => v.name === name)) delete st.vmSidecars[name];

  report.warnings = [...new Set(report.warnings)];
  return report;
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

// ---- made-up objects for `get` ------------------------------------------------------------------

export function podObject(cfg: LabConfig, st: ClusterState, p: PodRecord): KObject {
  const d = Object.values(st.objects).find(
    (o) => o.live.kind === 'Deployment' && o.live.metadata.name === p.deployment && nsOf(o.live) === p.namespace,
  )?.live;
  const containers = clone((d?.spec?.template?.spec?.containers ?? []) as Untyped[]).filter((c) => isObj(c));
  if (p.injected)
    containers.push({ name: 'istio-proxy', image: 'meshbook-lab/nginx-sidecar (Debian /usr/sbin/nginx)' });
  const ready = p.ready && alive(p.pid1);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: p.labels,
      annotations: p.injected ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : {},
      creationTimestamp: p.created.replace(/\.\d+Z$/, 'Z'),
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${p.deployment}-${p.templateHash}`, controller: true },
      ],
    },
    spec: { containers, nodeName: nodeNetns(cfg.prefix) },
    status: {
      phase: ready ? 'Running' : 'Pending',
      hostIP: st.plan.nodeAddress,
      podIP: p.ip,
      podIPs: [{ ip: p.ip }],
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'PodScheduled', status: 'True' },
      ],
      containerStatuses: containers.map((c: Untyped) => ({
        name: c.name,
        image: c.image,
        ready,
        restartCount: p.restarts,
        started: ready,
      })),
    },
  };
}

export function gatewayPodObject(cfg: LabConfig, st: ClusterState): KObject {
  const ino = netnsInode(nodeNetns(cfg.prefix));
  const ready = ino !== null && nginxMasters().has(ino);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: INGRESS.pod, namespace: INGRESS.namespace, labels: { ...INGRESS.labels } },
    spec: {
      containers: [{ name: 'istio-proxy', image: 'meshbook-lab/nginx-gateway (Debian /usr/sbin/nginx)' }],
      nodeName: nodeNetns(cfg.prefix),
      hostNetwork: true,
    },
    status: {
      phase: ready ? 'Running' : 'Pending',
      hostIP: st.plan.nodeAddress,
      podIP: st.plan.nodeAddress,
      podIPs: [{ ip: st.plan.nodeAddress }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'istio-proxy', ready, restartCount: 0, started: ready }],
    },
  };
}

/** The pods of a Deployment that are ready and current. */
export function deploymentPods(
  st: ClusterState,
  d: KObject,
): { ready: PodRecord[]; all: PodRecord[]; current: PodRecord[] } {
  const hash = sha(JSON.stringify([nsOf(d), d.spec?.template])).slice(0, 10);
  const all = st.pods.filter((p) => p.namespace === nsOf(d) && p.deployment === d.metadata.name);
  const current = all.filter((p) => p.templateHash === hash);
  return { all, current, ready: current.filter((p) => p.ready && alive(p.pid1)) };
}

export function deploymentStatus(st: ClusterState, d: KObject): Record<string, unknown> {
  const { all, current, ready } = deploymentPods(st, d);
  const replicas = d.spec?.replicas === undefined ? 1 : Number(d.spec.replicas);
  return {
    observedGeneration: d.metadata.generation ?? 1,
    replicas: all.length,
    updatedReplicas: current.length,
    readyReplicas: ready.length,
    availableReplicas: ready.length,
    conditions: [
      { type: 'Available', status: ready.length >= replicas ? 'True' : 'False' },
      { type: 'Progressing', status: 'True' },
    ],
  };
}

export const podConsole = (cfg: LabConfig, name: string) => path.join(podDir(cfg, name), 'console.log');

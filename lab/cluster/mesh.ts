// meshbook lab cluster: the service registry the data plane is programmed from (pure).
//
// Built from the applied objects, the way istiod builds its view: Kubernetes Services
// (endpoints = ready pods matching the selector), ServiceEntries (endpoints = the
// WorkloadEntries and pods their workloadSelector picks, or their static endpoints), with
// one host per service (`<svc>.<ns>.svc.cluster.local` or the ServiceEntry's host); a
// Service and a ServiceEntry with the same host merge (ASM's AddVmAppToMesh makes both).
// VirtualServices, DestinationRules and Gateways are kept with their hosts resolved.
import { deepEqual, isObj, selects, type KObject } from './kinds.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export const CLUSTER_DOMAIN = 'svc.cluster.local';

export interface PodInfo {
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  ready: boolean;
  ports: Array<{ name?: string; containerPort: number }>;
  injected: boolean;
}

export interface Endpoint {
  address: string;
  labels: Record<string, string>;
  /** service port number -> the endpoint's port */
  ports: Record<number, number>;
  /** where it came from: pod/ns/name, workloadentry/ns/name, serviceentry/ns/name */
  source: string;
}

export interface ServicePort {
  number: number;
  name: string;
  protocol: string;
}

export interface MeshService {
  host: string;
  namespace: string;
  /** the Kubernetes Service name when the host is <name>.<ns>.svc.cluster.local */
  shortName?: string;
  vips: string[];
  ports: ServicePort[];
  endpoints: Endpoint[];
  /** a Kubernetes Service (kube-proxy programs its ClusterIP) */
  kube?: {
    name: string;
    clusterIP?: string;
    ports: Array<{ port: number; name: string; protocol: string; endpoints: string[]; nodePort?: number }>;
    /** status.loadBalancer.ingress IPs: the Service ports answer there too */
    loadBalancerIPs?: string[];
  };
}

export interface Mesh {
  services: Map<string, MeshService>;
  virtualServices: KObject[];
  destinationRules: KObject[];
  gateways: KObject[];
  workloadEntries: KObject[];
  serviceEntries: KObject[];
  pods: PodInfo[];
  warnings: string[];
}

export interface MeshInput {
  /** live objects of every kind */
  objects: KObject[];
  pods: PodInfo[];
  /** VIPs for ServiceEntry hosts without addresses and without a Service of the same host */
  autoVips?: Record<string, string>;
}

const nsOf = (o: KObject) => o.metadata.namespace ?? 'default';
const byName = (a: KObject, b: KObject) =>
  `${nsOf(a)}/${a.metadata.name}`.localeCompare(`${nsOf(b)}/${b.metadata.name}`);
const ofKind = (objects: KObject[], kind: string, group: string) =>
  objects
    .filter((o) => o.kind === kind && (o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '') === group)
    .sort(byName);

/** Istio's rule: a name without dots is short for <name>.<namespace>.svc.cluster.local. */
export function resolveHost(host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h === '*' || h.includes('.')) return h;
  return `${h}.${namespace}.${CLUSTER_DOMAIN}`;
}

/** Does a host pattern (`*`, `*.example.com`, exact) match a host? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.'))
    return host.endsWith(pattern.slice(1)) || (host.startsWith('*.') && host.endsWith(pattern.slice(1)));
  return pattern === host;
}

/** `ns/host` (Gateway hosts, Sidecar egress): the host part. */
export const stripNsPrefix = (h: string) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h);

/** A target port (number or a container port name) resolved against a pod's ports. */
function podPort(pod: PodInfo, target: unknown, fallback: number): number | undefined {
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  if (typeof target === 'string' && target) return pod.ports.find((p) => p.name === target)?.containerPort;
  return fallback;
}

export function buildMesh(input: MeshInput): Mesh {
  const warnings: string[] = [];
  const services = new Map<string, MeshService>();
  const readyPods = input.pods.filter((p) => p.ready);
  for (const svc of ofKind(input.objects, 'Service', '')) {
    const s = kubeService(svc, readyPods);
    services.set(s.host, s);
  }
  const workloadEntries = ofKind(input.objects, 'WorkloadEntry', 'networking.istio.io');
  const serviceEntries = ofKind(input.objects, 'ServiceEntry', 'networking.istio.io');
  for (const se of serviceEntries) addServiceEntry(se, workloadEntries, readyPods, input.autoVips, services, warnings);
  return {
    services,
    virtualServices: ofKind(input.objects, 'VirtualService', 'networking.istio.io'),
    destinationRules: ofKind(input.objects, 'DestinationRule', 'networking.istio.io'),
    gateways: ofKind(input.objects, 'Gateway', 'networking.istio.io'),
    workloadEntries,
    serviceEntries,
    pods: input.pods,
    warnings,
  };
}

/** A Kubernetes Service: its host, ClusterIP, ports, the ready pods its selector picks (per port the target). */
function kubeService(svc: KObject, readyPods: PodInfo[]): MeshService {
  const ns = nsOf(svc);
  const host = `${svc.metadata.name}.${ns}.${CLUSTER_DOMAIN}`;
  const spec = svc.spec ?? {};
  const cip =
    typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None' && spec.clusterIP ? spec.clusterIP : undefined;
  const ports: ServicePort[] = (spec.ports ?? []).map((p: Untyped) => ({
    number: Number(p.port),
    name: String(p.name ?? `port-${p.port}`),
    protocol: String(p.protocol ?? 'TCP'),
  }));
  const selector =
    isObj(spec.selector) && Object.keys(spec.selector).length ? (spec.selector as Record<string, string>) : undefined;
  const endpoints: Endpoint[] = [];
  const kubePorts = (spec.ports ?? []).map((p: Untyped) => ({
    port: Number(p.port),
    name: String(p.name ?? ''),
    protocol: String(p.protocol ?? 'TCP'),
    endpoints: [] as string[],
    ...(Number.isInteger(Number(p.nodePort)) && p.nodePort ? { nodePort: Number(p.nodePort) } : {}),
  }));
  const lbIps = ((svc.status?.loadBalancer?.ingress ?? []) as Untyped[])
    .map((i) => i?.ip)
    .filter((ip): ip is string => typeof ip === 'string');
  if (selector) {
    for (const pod of readyPods.filter((p) => p.namespace === ns && selects(selector, p.labels))) {
      const map: Record<number, number> = {};
      (spec.ports ?? []).forEach((p: Untyped, i: number) => {
        const tp = podPort(pod, p.targetPort, Number(p.port));
        if (tp !== undefined) {
          map[Number(p.port)] = tp;
          kubePorts[i].endpoints.push(`${pod.ip}:${tp}`);
        }
      });
      endpoints.push({ address: pod.ip, labels: pod.labels, ports: map, source: `pod/${ns}/${pod.name}` });
    }
  }
  return {
    host,
    namespace: ns,
    shortName: svc.metadata.name,
    vips: cip ? [cip] : [],
    ports,
    endpoints,
    kube: {
      name: svc.metadata.name,
      clusterIP: cip,
      ports: kubePorts,
      ...(lbIps.length ? { loadBalancerIPs: lbIps } : {}),
    },
  };
}

/** The endpoints of a ServiceEntry: the WorkloadEntries and pods its workloadSelector picks, else its endpoints. */
function serviceEntryEndpoints(
  se: KObject,
  sePorts: Array<{ number: number; name: string; protocol: string; targetPort?: number }>,
  workloadEntries: KObject[],
  readyPods: PodInfo[],
  warnings: string[],
): Endpoint[] {
  const ns = nsOf(se);
  const spec = se.spec ?? {};
  const eps: Endpoint[] = [];
  const addEp = (
    address: string,
    labels: Record<string, string>,
    named: Record<string, unknown> | undefined,
    source: string,
  ) => {
    const map: Record<number, number> = {};
    for (const p of sePorts) map[p.number] = Number(named?.[p.name] ?? p.targetPort ?? p.number);
    eps.push({ address, labels, ports: map, source });
  };
  const sel = spec.workloadSelector?.labels as Record<string, string> | undefined;
  if (sel) {
    for (const we of workloadEntries.filter((w) => nsOf(w) === ns && selects(sel, w.spec?.labels))) {
      if (typeof we.spec?.address === 'string')
        addEp(we.spec.address, we.spec.labels ?? {}, we.spec.ports, `workloadentry/${ns}/${we.metadata.name}`);
    }
    for (const pod of readyPods.filter((p) => p.namespace === ns && selects(sel, p.labels)))
      addEp(pod.ip, pod.labels, undefined, `pod/${ns}/${pod.name}`);
    if (spec.endpoints?.length)
      warnings.push(
        `ServiceEntry ${ns}/${se.metadata.name}: endpoints are ignored when workloadSelector is set (as in Istio)`,
      );
  } else {
    for (const e of spec.endpoints ?? [])
      if (typeof e.address === 'string')
        addEp(e.address, e.labels ?? {}, e.ports, `serviceentry/${ns}/${se.metadata.name}`);
  }
  return eps;
}

/** A ServiceEntry's hosts as services (+ the WorkloadEntries and pods its workloadSelector picks);
 *  a host a Service has too becomes one service with the endpoints of both. */
function addServiceEntry(
  se: KObject,
  workloadEntries: KObject[],
  readyPods: PodInfo[],
  autoVips: MeshInput['autoVips'],
  services: Map<string, MeshService>,
  warnings: string[],
): void {
  const ns = nsOf(se);
  const spec = se.spec ?? {};
  const sePorts: Array<{ number: number; name: string; protocol: string; targetPort?: number }> = (
    spec.ports ?? []
  ).map((p: Untyped) => ({
    number: Number(p.number),
    name: String(p.name ?? `port-${p.number}`),
    protocol: String(p.protocol ?? 'TCP'),
    targetPort: p.targetPort === undefined ? undefined : Number(p.targetPort),
  }));
  const eps = serviceEntryEndpoints(se, sePorts, workloadEntries, readyPods, warnings);
  if (spec.resolution === 'DNS' && !spec.workloadSelector?.labels && !(spec.endpoints ?? []).length) {
    warnings.push(
      `ServiceEntry ${ns}/${se.metadata.name}: resolution DNS without ` +
        `endpoints needs a DNS server; the lab has none, so it has no endpoints`,
    );
  }
  const addresses: string[] = (spec.addresses ?? []).filter((a: unknown) => typeof a === 'string' && !a.includes('/'));
  for (const rawHost of spec.hosts ?? []) {
    const host = String(rawHost).toLowerCase();
    if (host.startsWith('*')) {
      warnings.push(
        `ServiceEntry ${ns}/${se.metadata.name}: wildcard host ${host} is not routed by the lab data plane`,
      );
      continue;
    }
    const cur = services.get(host);
    if (cur) {
      // a Service and a ServiceEntry of the same host: one service, endpoints of both
      for (const p of sePorts)
        if (!cur.ports.some((x) => x.number === p.number))
          cur.ports.push({ number: p.number, name: p.name, protocol: p.protocol });
      for (const e of eps)
        if (!cur.endpoints.some((x) => x.address === e.address && deepEqual(x.ports, e.ports))) cur.endpoints.push(e);
      for (const a of addresses) if (!cur.vips.includes(a)) cur.vips.push(a);
      continue;
    }
    const m = new RegExp(`^([a-z0-9-]+)\\.([a-z0-9-]+)\\.${CLUSTER_DOMAIN.replace(/\./g, '\\.')}$`).exec(host);
    const auto = autoVips?.[host];
    services.set(host, {
      host,
      namespace: ns,
      shortName: m && m[2] === ns ? m[1] : undefined,
      vips: addresses.length ? addresses : auto ? [auto] : [],
      ports: sePorts.map((p) => ({ number: p.number, name: p.name, protocol: p.protocol })),
      endpoints: [...eps],
    });
  }
}

/** ServiceEntry hosts that need a lab VIP (no addresses, no Service of the same host). */
export function hostsNeedingVip(objects: KObject[]): string[] {
  const kube = new Set(ofKind(objects, 'Service', '').map((s) => `${s.metadata.name}.${nsOf(s)}.${CLUSTER_DOMAIN}`));
  const out: string[] = [];
  for (const se of ofKind(objects, 'ServiceEntry', 'networking.istio.io')) {
    if ((se.spec?.addresses ?? []).length) continue;
    for (const h of se.spec?.hosts ?? []) {
      const host = String(h).toLowerCase();
      if (!host.startsWith('*') && !kube.has(host) && !out.includes(host)) out.push(host);
    }
  }
  return out;
}

/** The names a service is known by from `namespace` (FQDN, <svc>.<ns>.svc, <svc>.<ns>, <svc> in its own namespace). */
export function aliases(s: MeshService, namespace: string | undefined): string[] {
  const out = [s.host];
  const m = new RegExp(`^([a-z0-9-]+)\\.([a-z0-9-]+)\\.${CLUSTER_DOMAIN.replace(/\./g, '\\.')}$`).exec(s.host);
  if (m) {
    out.push(`${m[1]}.${m[2]}.svc`, `${m[1]}.${m[2]}`);
    if (namespace === m[2]) out.push(m[1]);
  }
  return out;
}

/** The workload labels and ports of a lab VM that a WorkloadEntry points at. */
export function vmWorkload(
  mesh: Mesh,
  address: string,
): { namespace: string; labels: Record<string, string>; ports: number[] } | undefined {
  const we = mesh.workloadEntries.find((w) => w.spec?.address === address);
  if (!we) return undefined;
  const ns = nsOf(we);
  const ports = new Set<number>();
  for (const s of mesh.services.values()) {
    for (const e of s.endpoints)
      if (e.source === `workloadentry/${ns}/${we.metadata.name}`) Object.values(e.ports).forEach((p) => ports.add(p));
  }
  return { namespace: ns, labels: we.spec?.labels ?? {}, ports: [...ports].sort((a, b) => a - b) };
}

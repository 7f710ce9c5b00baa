// meshbook lab cluster: the objects as the cluster shows them (stored ones plus the ingress
// gateway's Service), the mesh built from them, and the addresses it hands out (ClusterIPs,
// VIPs of ServiceEntry hosts).
import { BUILTIN_NAMESPACES, type KObject } from './kinds.ts';
import { buildMesh, hostsNeedingVip, type Mesh, type PodInfo } from './mesh.ts';
import { GATEWAY_HEALTH_PORT } from './nginx.ts';
import { ingressServicePorts } from './ingress-ports.ts';
import { allocateVip, type ClusterState } from './state.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export const INGRESS = {
  namespace: 'istio-system',
  name: 'istio-ingressgateway',
  pod: 'istio-ingressgateway-lab',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' } as Record<string, string>,
};
export const INGRESS_HOST = `${INGRESS.name}.${INGRESS.namespace}.svc.cluster.local`;

export const nsOf = (o: KObject) => o.metadata.namespace ?? 'default';
export const kindIs = (o: KObject, kind: string) => o.kind === kind;

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

/** VIPs for the ServiceEntry hosts that need one, and the ingress gateway (stable per host). */
export function assignAutoVips(st: ClusterState): void {
  const objects = storedObjects(st);
  const want = new Set([...hostsNeedingVip(objects), INGRESS_HOST]);
  for (const h of Object.keys(st.autoVips)) if (!want.has(h)) delete st.autoVips[h];
  for (const h of want) if (!st.autoVips[h]) st.autoVips[h] = allocateVip(st.plan, `host/${h}`, usedVips(st));
}

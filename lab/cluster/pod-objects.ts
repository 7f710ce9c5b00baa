// meshbook lab cluster: the objects `kubectl get` shows that nobody stored - pods of the
// Deployments, the ingress gateway's pod, a Deployment's status - made up from what runs.
import type { LabConfig } from '../config.ts';
import { alive, netnsInode } from '../sys.ts';
import { clone, isObj, type KObject } from './kinds.ts';
import { nginxMasters } from './proxies.ts';
import { nodeNetns, sha, type ClusterState, type PodRecord } from './state.ts';
import { INGRESS, nsOf } from './objects.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

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

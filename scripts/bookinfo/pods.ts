// Which pods are not READY 2/2 (the app and its istio-proxy sidecar), from
// `kubectl get pods -o json`: the article reads `kubectl get pods` by eye. A sidecar
// injected as a native sidecar (an init container with restartPolicy Always, Istio on
// Kubernetes 1.29+) counts as kubectl counts it. Pure.
import type { Untyped } from '../engine/untyped.ts';

export interface PodState {
  name: string;
  ready: number;
  total: number;
  phase: string;
  hostIP?: string;
  ok: boolean;
  why?: string;
}

export function podStates(
  json: string | object,
  want = 2,
): { pods: PodState[]; notReady: PodState[]; nodeIp?: string } | { error: string } {
  let list: Untyped;
  try {
    list = typeof json === 'string' ? JSON.parse(json) : json;
  } catch {
    return { error: 'not JSON (kubectl get pods -o json)' };
  }
  if (!Array.isArray(list?.items)) return { error: 'not a list of pods (no items)' };
  const pods: PodState[] = [];
  for (const p of list.items) {
    const phase = p.status?.phase ?? 'Unknown';
    if (phase === 'Succeeded') continue; // a finished Job's pod
    const sidecars = (p.spec?.initContainers ?? [])
      .filter((c: Untyped) => c.restartPolicy === 'Always')
      .map((c: Untyped) => c.name);
    const total = (p.spec?.containers ?? []).length + sidecars.length;
    const ready =
      (p.status?.containerStatuses ?? []).filter((s: Untyped) => s.ready).length +
      (p.status?.initContainerStatuses ?? []).filter((s: Untyped) => sidecars.includes(s.name) && s.ready).length;
    const s: PodState = {
      name: p.metadata?.name ?? '(no name)',
      ready,
      total,
      phase,
      hostIP: p.status?.hostIP,
      ok: false,
    };
    const waiting = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]
      .map((c: Untyped) => c.state?.waiting?.reason && `${c.name}: ${c.state.waiting.reason}`)
      .filter(Boolean);
    if (p.metadata?.deletionTimestamp) s.why = 'terminating';
    else if (total < want)
      s.why =
        `${total} container(s), no sidecar: label the namespace istio-injection=enabled ` +
        `before deploying, or kubectl rollout restart the deployment`;
    else if (phase !== 'Running') s.why = `phase ${phase}${waiting.length ? ` (${waiting.join(', ')})` : ''}`;
    else if (ready < total) s.why = `${ready}/${total} ready${waiting.length ? ` (${waiting.join(', ')})` : ''}`;
    else s.ok = total === want;
    if (!s.ok && !s.why) s.why = `${ready}/${total} containers, expected ${want}/${want}`;
    pods.push(s);
  }
  const nodeIp = pods.find((p) => p.ok && p.hostIP)?.hostIP;
  return { pods, notReady: pods.filter((p) => !p.ok), nodeIp };
}

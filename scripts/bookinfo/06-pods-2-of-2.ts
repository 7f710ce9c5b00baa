// Article "检查 Pod 已就绪": READY must be 2/2 (the app and the injected istio-proxy) and
// STATUS Running. Reads `kubectl get pods -o json` and names every pod that is not, with
// the reason (a single container means no sidecar: the namespace was not labelled before
// the deployment). Also notes a node IP (a pod's hostIP) for NodePort access later.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { podStates } from './pods.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '06-pods-2-of-2',
  title: 'Every Bookinfo pod READY 2/2 (app + sidecar)',
  article: '检查 Pod 已就绪 (READY 2/2)',
  notes: ['each pod needs the istio-init container (NET_ADMIN, NET_RAW) to start unless istio-cni is used'],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => ({
    probe: probeCmd(kubectl(ctx.env, 'get', 'pods', '-n', NAMESPACE, '-o', 'json')),
    interpret: (out) => {
      if (out.code !== 0) return { ok: false, lines: [`error: kubectl get pods failed (exit ${out.code})`] };
      const r = podStates(out.stdout, 2);
      if ('error' in r) return { ok: false, lines: [`error: ${r.error}`] };
      if (r.nodeIp) ctx.facts.nodeIp = r.nodeIp;
      const lines = r.pods.map(
        (p) =>
          `${p.ok ? 'ready' : 'not ready'}: ${p.name} ${p.ready}/${p.total} ${p.phase}${p.why ? `: ${p.why}` : ''}`,
      );
      if (!r.pods.length)
        return { ok: false, lines: [`error: no pods in namespace ${NAMESPACE}; deploy Bookinfo (step 04)`] };
      if (r.notReady.length)
        lines.push(
          `error: ${r.notReady.length} of ${r.pods.length} pod(s) not ` +
            `2/2 Running: ${r.notReady.map((p) => p.name).join(', ')}`,
        );
      return { ok: !r.notReady.length, lines };
    },
  }),
};
export default step;

// Article "检查 Pod 已就绪": "wait until every pod is 2/2 Running; it may take minutes".
// A bounded wait instead of watching `kubectl get pods`: every pod gets up to five minutes.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '05-wait-pods',
  title: 'Wait for the Bookinfo pods to be Ready (300 s at most)',
  article: '检查 Pod 已就绪 (pods ready)',
  notes: ['bounded: kubectl wait --timeout=300s rather than watching kubectl get pods'],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(
      kubectl(ctx.env, 'wait', '--for=condition=Ready', 'pod', '--all', '-n', NAMESPACE, '--timeout=300s'),
    ),
  }),
};
export default step;

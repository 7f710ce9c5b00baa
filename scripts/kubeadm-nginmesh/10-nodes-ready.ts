// Article "使用kubectl 命令检查cluster中的节点情况" (kubectl get nodes: every node Ready).
// The article reads the table by eye; here `kubectl wait` gives every node up to five
// minutes to become Ready and fails naming the ones that did not.
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { kube, noteVms } from './common.ts';

const step: Step = {
  id: '10-nodes-ready',
  title: 'Every node Ready',
  article: '检查cluster中的节点情况 (kubectl get nodes)',
  notes: ['bounded wait (300 s) instead of reading `kubectl get nodes` by eye'],
  target: 'cluster',
  cluster: (ctx) => {
    noteVms(ctx);
    return { probe: probeCmd(kube(ctx, 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s')) };
  },
};
export default step;

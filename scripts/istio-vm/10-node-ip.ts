// Article "接入准备" / "配置虚机加入k8s网络": the VMs route the pod and Service networks via a
// node (the article uses its master, 10.253.17.27), and without a LoadBalancer istiod is
// reached at that node's NodePort. NODE_IP from the env wins; otherwise the InternalIP of
// the first Ready node from `kubectl get nodes -o json`.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { withFacts } from './common.ts';
import { parseNodes } from './parse.ts';

const step: Step = {
  id: '10-node-ip',
  title: 'Pick the node the VMs route through',
  article: '配置虚机加入k8s网络 (VM joins the cluster network)',
  notes: ["the article hard-codes its master's IP: NODE_IP, or a Ready node's InternalIP from kubectl"],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => {
    if (ctx.env.NODE_IP)
      return {
        skip: `NODE_IP=${ctx.env.NODE_IP} is set in the env (unset it to take a Ready node's InternalIP from kubectl)`,
      };
    return {
      probe: probeCmd(kubectl(ctx.env, 'get', 'nodes', '-o', 'json')),
      interpret: (out) => {
        if (out.code !== 0)
          return {
            ok: false,
            lines: [`error: kubectl get nodes exited ${out.code}: ${out.stderr.trim().split('\n').pop()}`],
          };
        const n = parseNodes(out.stdout);
        if ('error' in n) return { ok: false, lines: [`error: ${n.error}`] };
        return { ok: true, lines: [`node ${n.name}: InternalIP ${n.ip}`], facts: withFacts(ctx.facts, { node: n }) };
      },
    };
  },
};
export default step;

// Article "配置虚机加入k8s网络": the article's premise is that the VM and the nodes share a
// network ("虚机的网络需要跟k8s node节点在同一网络,相互能通"). This checks it (the note),
// with the route the VM would take; an unreachable node fails the VM (nothing after it
// could work).
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { NODE_IP_PLACEHOLDER, ivFacts, nodeIp } from './common.ts';

const step: Step = {
  id: '13-reach-node',
  title: 'Check the VM reaches the node',
  article: '配置虚机加入k8s网络 (VM joins the cluster network)',
  notes: [
    'the article assumes VM and nodes reach each other; this checks it ' +
      '(TCP to the istiod NodePort or REACH_PORT, else ping) and reports it',
  ],
  target: 'vm',
  vm: (ctx) => {
    const node = nodeIp(ctx.cluster, ctx.env) ?? NODE_IP_PLACEHOLDER;
    const port = String(ivFacts(ctx.cluster).istiod?.nodePort ?? ctx.env.REACH_PORT ?? '');
    return {
      probe: probe`
        node=${node}
        port=${port}
        echo "path: $(ip -4 route get "$node" 2>&1 | head -n 1)"
        if [ -n "$port" ]; then
          if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$node" "$port" 2>/dev/null; then echo "reachable: tcp $node:$port answers"
          else echo "not reachable: tcp $node:$port does not answer within 2 s"; fi
        elif command -v ping >/dev/null 2>&1; then
          if ping -c 1 -W 2 "$node" >/dev/null 2>&1; then echo "reachable: ping $node answers"
          else echo "not reachable: ping $node gets no answer within 2 s"; fi
        else
          echo "unknown: no ping on this VM and no port to try; set REACH_PORT to a TCP port the node answers on"
        fi
      `,
      interpret: (out) => {
        const lines = out.stdout.trim().split('\n').filter(Boolean);
        if (out.code !== 0)
          return { ok: false, lines: [...lines, `error: the check exited ${out.code}: ${out.stderr.trim()}`] };
        if (!lines.some((l) => l.startsWith('not reachable'))) return { ok: true, lines };
        return {
          ok: false,
          lines: [
            ...lines,
            `error: node ${node} is not reachable from this VM; the VM must share a network ` +
              `with the nodes (article premise): check NODE_IP, security groups and firewalls`,
          ],
        };
      },
    };
  },
};
export default step;

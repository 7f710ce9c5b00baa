// Article "如不能配置云环境提供Loadbalancer特性...使用集群中的一个节点IP:Nodeport访问": without
// a cloud LoadBalancer the ingress Service's EXTERNAL-IP stays <pending>; it is reached at
// a node's IP and the Service's NodePort. Reads the Service as JSON and prints the
// address(es). The article's `istio-ingress` Service (Istio 0.2) is `istio-ingressgateway`
// today (INGRESS_SERVICE); nginmesh itself is archived (last release 0.3, for Istio 0.2/0.3),
// so the mesh and Bookinfo come from Istio (see the bookinfo runbook).
import type { Step } from '../engine/types.ts';
import { probeCmd } from '../engine/local.ts';
import { kube, isRoles, noteVms, rolesOf } from './common.ts';
import { ingressAddress } from '../shared/ingress.ts';

const step: Step = {
  id: '11-nodeport',
  title: 'Reach the ingress at NODE_IP:NodePort when there is no LoadBalancer',
  article: '访问Bookinfo: 节点IP:Nodeport (NodePort access)',
  notes: [
    "the article's istio-ingress Service is istio-ingressgateway today; nginmesh is " +
      'archived (0.3, Istio 0.2/0.3): install the mesh with Istio itself (bookinfo runbook)',
    "the node IP is INGRESS_NODE_IP when set, else the control plane's private IP (every node answers on a NodePort)",
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => {
    noteVms(ctx);
    const roles = rolesOf(ctx.vms);
    const nodeIp = ctx.env.INGRESS_NODE_IP || (isRoles(roles) ? roles.controlPlane.privateIp : '') || undefined;
    return {
      probe: probeCmd(
        kube(ctx, '-n', ctx.env.INGRESS_NAMESPACE, 'get', 'service', ctx.env.INGRESS_SERVICE, '-o', 'json'),
      ),
      interpret: (out) => {
        if (out.code !== 0)
          return {
            ok: false,
            lines: [
              `error: kubectl could not read Service ${ctx.env.INGRESS_NAMESPACE}/${ctx.env.INGRESS_SERVICE} ` +
                `(exit ${out.code}); install the mesh's ingress gateway first`,
            ],
          };
        const r = ingressAddress(out.stdout, { nodeIp });
        if ('error' in r) return { ok: false, lines: [`error: ${r.error}`] };
        ctx.facts.ingressHost = r.host;
        ctx.facts.ingressPort = r.port;
        return { ok: true, lines: r.lines };
      },
    };
  },
};
export default step;

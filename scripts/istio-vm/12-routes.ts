// Article "配置虚机加入k8s网络" (VM joins the cluster network): a route to the pod and
// Service CIDRs via a node, so the VM reaches pods and ClusterIPs directly (the check,
// change and verify are in scripts/shared/vm-routes.ts: article 4 uses them too).
import type { Step } from '../engine/types.ts';
import { NODE_IP_PLACEHOLDER, ROUTE_NOTES, nodeIp, routes, routesVia } from '../shared/vm-routes.ts';

const step: Step = {
  id: '12-routes',
  title: 'Route the pod and Service CIDRs via a node',
  article: '配置虚机加入k8s网络 (VM joins the cluster network)',
  notes: ROUTE_NOTES,
  target: 'vm',
  vm: (ctx) => routesVia(routes(ctx.env), nodeIp(ctx.cluster, ctx.env) ?? NODE_IP_PLACEHOLDER),
};
export default step;

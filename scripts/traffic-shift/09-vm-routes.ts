// Article 4 builds on the VMs onboarded in article 2 ("配置虚机加入k8s网络": the VM joins the
// cluster network): without a route to the pod and Service CIDRs via a node, a VM cannot
// reach hello3-svc's clusterIP, whatever its /etc/hosts says. When VM_ROUTES is set (the
// lab sets it) this runs istio-vm's route check and change unchanged; when it is not, the VMs are
// taken to be onboarded already and the step says so.
import type { Step } from '../engine/types.ts';
import { NODE_IP_PLACEHOLDER, ROUTE_NOTES, nodeIp, routes, routesVia } from '../shared/vm-routes.ts';

const step: Step = {
  id: '09-vm-routes',
  title: 'Routes to the pod and Service CIDRs via a node (from article 2)',
  article: '前提: 虚机已加入k8s网络 (article 2: the VM joins the cluster network)',
  notes: ROUTE_NOTES,
  target: 'vm',
  vm: (ctx) =>
    ctx.env.VM_ROUTES
      ? routesVia(routes(ctx.env), nodeIp(ctx.cluster, ctx.env) ?? NODE_IP_PLACEHOLDER)
      : {
          skip:
            'VM_ROUTES is not set: the VMs are taken to be onboarded ' +
            '(article 2, meshbook rebuild istio-vm sets these routes)',
        },
};
export default step;

// Article "在每台工作节点上执行上述kubeadm join命令" (run the join command on every worker),
// first half: which workers still need to join. A worker that has joined has
// /etc/kubernetes/kubelet.conf. The tally goes to the run's shared facts, so step 07
// makes a bootstrap token only when some worker needs one (a re-run makes none).
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { KUBELET_CONF, failWith, isRoles, rolesFor } from './common.ts';
import { recordJoinStatus } from './join.ts';

const step: Step = {
  id: '06-join-status',
  title: 'Which workers still have to join',
  article: '在每台工作节点上执行kubeadm join (join the workers)',
  target: 'vm',
  gathersFacts: true,
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane === ctx.vm) return { skip: 'the control plane does not join' };
    return {
      probe: probe`
        if [ -f ${KUBELET_CONF} ]; then echo joined; else echo 'not joined'; fi
      `,
      interpret: (out) => {
        const joined = out.stdout.trim() === 'joined';
        if (out.code !== 0) return { ok: false, lines: [`error: could not read ${KUBELET_CONF}`] };
        recordJoinStatus(ctx.cluster, ctx.vm.name, joined);
        return {
          ok: true,
          lines: [joined ? `${ctx.vm.name} has joined (${KUBELET_CONF} exists)` : `${ctx.vm.name} has not joined yet`],
        };
      },
    };
  },
};
export default step;

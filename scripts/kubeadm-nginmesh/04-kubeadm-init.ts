// Article "kubeadm init --config kubeadm-conf": create the control plane. Its output goes
// to a 0600 log on the VM, not to the run's output, and --skip-token-print keeps the
// bootstrap token out of it (the article copies the printed join line by hand; step 07
// makes a fresh token for the workers instead). Unchanged once /etc/kubernetes/admin.conf
// exists.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { ADMIN_CONF, CONFIG_FILE, INIT_LOG, failWith, isRoles, rolesFor } from './common.ts';

const step: Step = {
  id: '04-kubeadm-init',
  title: 'kubeadm init on the control plane',
  article: '使用kubeadmin安装kubernetes cluster (kubeadm init)',
  notes: [
    'the output goes to a 0600 log on the VM and --skip-token-print keeps ' +
      'the bootstrap token out of it; the workers get a fresh token in step 07',
    "the article's note that kubeadm makes a single control plane is dated (kubeadm " +
      'join --control-plane adds more today); this runbook makes one, as the article does',
  ],
  target: 'vm',
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane !== ctx.vm)
      return { skip: `a worker: kubeadm init runs on the control plane ${roles.controlPlane.name}` };
    return {
      check: probe`
        if [ -f ${ADMIN_CONF} ]; then echo ${`the control plane is initialized (${ADMIN_CONF} exists)`}; exit 0; fi
        echo ${`not initialized yet (no ${ADMIN_CONF})`}
        exit 10
      `,
      apply: mutate`
        rc=0; ( umask 077; kubeadm init --config ${CONFIG_FILE} --skip-token-print > ${INIT_LOG} 2>&1 ) || rc=$?
        if [ "$rc" != 0 ]; then
          grep -E '\[ERROR|^error' ${INIT_LOG} >&2 || true
          echo ${`kubeadm init failed; its output is in ${INIT_LOG} on this VM`} "(exit $rc)" >&2
          exit "$rc"
        fi
        grep -m1 'initialized successfully' ${INIT_LOG} || true
      `,
      verify: probe`test -f ${ADMIN_CONF}`,
    };
  },
};
export default step;

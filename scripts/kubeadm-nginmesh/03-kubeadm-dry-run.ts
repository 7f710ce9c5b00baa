// Article "可以先试用 dry-run 参数验证一下配置文件": `kubeadm init --config FILE --dry-run`
// on the control plane before the real init. Fixed against the article: its prose spells
// the flag with an en dash (U+2013), which pasted is a different word; it is --dry-run. Only
// kubeadm's verdict and its [ERROR ...] lines are shown: the dry run's long output also
// prints a join command. Once the control plane is initialized the dry run would only
// report the ports and files in use, so it is not run again.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { ADMIN_CONF, CONFIG_FILE, failWith, isRoles, rolesFor } from './common.ts';

const step: Step = {
  id: '03-kubeadm-dry-run',
  title: 'kubeadm init --dry-run on the control plane',
  article: '使用kubeadmin安装kubernetes cluster (kubeadm init --dry-run)',
  notes: [
    "the article's text spells the flag with an en dash (U+2013) instead " +
      'of --: pasted, kubeadm would not see it; the command is --dry-run',
    'skipped once /etc/kubernetes/admin.conf exists (the control plane is already initialized)',
  ],
  target: 'vm',
  vm: (ctx) => {
    const roles = rolesFor(ctx);
    if (!isRoles(roles)) return failWith(roles.problem);
    if (roles.controlPlane !== ctx.vm)
      return { skip: `a worker: kubeadm init runs on the control plane ${roles.controlPlane.name}` };
    return {
      probe: probe`
        if [ -f ${ADMIN_CONF} ]; then echo ${`already initialized (${ADMIN_CONF} exists): no dry run needed`}; exit 0; fi
        rc=0; out=$(kubeadm init --config ${CONFIG_FILE} --dry-run 2>&1) || rc=$?
        if [ "$rc" != 0 ]; then
          grep -E '\[ERROR|^error' <<<"$out" >&2 || echo "kubeadm init --dry-run failed (exit $rc); run it on the VM to see its full output" >&2
          exit "$rc"
        fi
        grep -m1 'Finished dry-running successfully' <<<"$out" || { echo 'kubeadm did not report "Finished dry-running successfully"' >&2; exit 1; }
      `,
    };
  },
};
export default step;

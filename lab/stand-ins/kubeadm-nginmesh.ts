// What the lab does with the kubeadm-nginmesh steps (article 2): it has no kubelet and no
// container runtime, so kubeadm never runs; on the control plane the steps that would run
// it only read whether kubeadm is installed and say what they would run, and init and
// join are "not in lab". The config file, the proxy-init rules and their check run for real.
import type { HostCtx, Interpretation, RemoteResult, VmAction, VmLabRule } from '../../scripts/engine/types.ts';
import { probe } from '../../scripts/engine/sh.ts';
import { ADMIN_CONF, CONFIG_FILE, isRoles, rolesFor } from '../../scripts/kubeadm-nginmesh/common.ts';
import { TOKEN_TTL } from '../../scripts/kubeadm-nginmesh/07-join-token.ts';

export const NO_KUBELET = 'the lab has no kubelet and no container runtime, so kubeadm cannot run here';

/** In the lab a kubeadm step only reads: is kubeadm installed here at all. */
export function kubeadmStandIn(what: string): VmAction {
  return {
    probe: probe`
      if command -v kubeadm >/dev/null 2>&1; then echo "kubeadm $(kubeadm version -o short 2>/dev/null) is installed on this VM"
      else echo 'kubeadm is not installed on this VM'; fi
    `,
    interpret: (out: RemoteResult): Interpretation => ({
      ok: out.code === 0,
      lines: [...out.stdout.trim().split('\n').filter(Boolean), `would run: ${what}`],
    }),
    notInLab: NO_KUBELET,
  };
}

/** The stand-in where the step would run kubeadm; its skips (a worker, ...) and a problem
 *  with the roles stay the step's own. */
const readOnly = (what: (ctx: HostCtx) => string): VmLabRule => ({
  inLab: (real, ctx) => {
    const a = real();
    return a.skip || !isRoles(rolesFor(ctx)) ? a : kubeadmStandIn(what(ctx));
  },
});

/** Not in lab, unless the roles are wrong (then the step fails as it would anywhere). */
const noKubelet: VmLabRule = { notInLab: (ctx) => (isRoles(rolesFor(ctx)) ? NO_KUBELET : undefined) };

export const kubeadmNginmeshRules: Record<string, VmLabRule> = {
  '03-kubeadm-dry-run': readOnly(() => `kubeadm init --config ${CONFIG_FILE} --dry-run`),
  '04-kubeadm-init': noKubelet,
  '05-kubeconfig': readOnly((ctx) => `read ${ADMIN_CONF} and save it as ${ctx.env.KUBECONFIG_FILE}`),
  '07-join-token': readOnly(() => `kubeadm token create --print-join-command --ttl ${TOKEN_TTL}`),
  '08-join-workers': noKubelet,
};

// What the lab does with the kubeadm-nginmesh steps (article 3): it has no kubelet and no
// container runtime, so kubeadm never runs; on the control plane the steps that would run
// it only read whether kubeadm is installed and say what they would run, and init and
// join are "not in lab". The config file runs for real; 11-nodeport reads the lab's
// ingress gateway Service (Istio's ports, lab/cluster/ingress-ports.ts). With the lab's
// cluster, proxy_init (12) and its check (13) run for real in a pod of the lab cluster
// (nginmesh-pod.ts), once, on the control plane's row; without it, as the steps are written
// (a network namespace standing for the pod on each VM).
import type { HostCtx, Interpretation, RemoteResult, VmAction, VmLabRule } from '../../scripts/engine/types.ts';
import { proxySpec } from '../../scripts/kubeadm-nginmesh/12-proxy-init.ts';
import { POD_APP, POD_NS, checkOnRunner, judgeRequests, parseRequests, proxyInitOnRunner } from './nginmesh-pod.ts';
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

const POD = `the Deployment ${POD_NS}/${POD_APP} of the lab cluster`;

/** In a lab with its cluster, the pod's part runs once, on the control plane's row, in a
 *  pod of the lab cluster (all its pods run on its one node); elsewhere the step's own. */
const inPod = (onCp: (real: () => VmAction, ctx: HostCtx) => VmAction): VmLabRule => ({
  inLab: (real, ctx) => {
    const roles = rolesFor(ctx);
    if (ctx.env.LAB_CLUSTER !== '1' || !isRoles(roles)) return real();
    if (ctx.vm !== roles.controlPlane)
      return {
        skip:
          `in the lab this runs once, on the control plane's row (${roles.controlPlane.name}), ` +
          `in the pod of ${POD} (the lab cluster's pods all run on its one node)`,
      };
    return onCp(real, ctx);
  },
});

export const kubeadmNginmeshRules: Record<string, VmLabRule> = {
  '03-kubeadm-dry-run': readOnly(() => `kubeadm init --config ${CONFIG_FILE} --dry-run`),
  '04-kubeadm-init': noKubelet,
  '05-kubeconfig': readOnly((ctx) => `read ${ADMIN_CONF} and save it as ${ctx.env.KUBECONFIG_FILE}`),
  '07-join-token': readOnly(() => `kubeadm token create --print-join-command --ttl ${TOKEN_TTL}`),
  '08-join-workers': noKubelet,
  '12-proxy-init': inPod((_real, ctx) => ({
    onRunner: { what: `kubectl exec into the pod of ${POD}`, ...proxyInitOnRunner(proxySpec(ctx.env)) },
  })),
  '13-check-interception': inPod((real, ctx) => {
    const spec = proxySpec(ctx.env);
    const rules = real().interpret!;
    return {
      onRunner: { what: `kubectl exec into the pod of ${POD}`, probe: checkOnRunner(spec) },
      // the step's own rule-by-rule reading of the NAT table, then what the requests proved
      interpret: (out, c) => {
        const r = rules(out, c);
        if (out.code !== 0) return r;
        const req = judgeRequests(parseRequests(out.stdout), spec);
        return {
          ok: r.ok && req.ok,
          lines: [...r.lines.map((l) => l.replace(/network namespace \S+/, `the pod of ${POD}`)), ...req.lines],
        };
      },
    };
  }),
};

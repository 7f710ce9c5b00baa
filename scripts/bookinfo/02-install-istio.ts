// Article "安装 Istio": `istioctl install --set profile=demo -y` (the demo profile: istiod,
// ingress and egress gateways). Unchanged when istiod is already deployed.
import type { Step } from '../engine/types.ts';
import { istioctl, kubectl, mutateCmd, probeCmd } from '../engine/local.ts';

const step: Step = {
  id: '02-install-istio',
  title: 'istioctl install --set profile=demo',
  article: '安装 Istio (install Istio)',
  notes: [
    'the demo profile is for trying Istio (high trace sampling, egress gateway); use default or minimal in production',
  ],
  target: 'cluster',
  cluster: (ctx) => ({
    check: probeCmd(kubectl(ctx.env, '-n', 'istio-system', 'get', 'deployment', 'istiod'), { changeCodes: [1] }),
    apply: [mutateCmd(istioctl(ctx.env, 'install', '--set', 'profile=demo', '-y'))],
    verify: probeCmd(
      kubectl(ctx.env, '-n', 'istio-system', 'rollout', 'status', 'deployment/istiod', '--timeout=300s'),
    ),
  }),
};
export default step;

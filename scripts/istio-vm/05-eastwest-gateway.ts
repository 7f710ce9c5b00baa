// Article "部署东西向开关" (east-west gateway), second half: `istioctl install -y -f -` with
// the IstioOperator 04 generated on stdin. Checked first: when the istio-eastwestgateway
// Service exists the gateway is installed and nothing runs.
import type { Step } from '../engine/types.ts';
import { istioctl, kubectl, mutateCmd, probeCmd } from '../engine/local.ts';
import { EASTWEST_SVC, ISTIO_NS, hasFacts, ivFacts } from './common.ts';

const step: Step = {
  id: '05-eastwest-gateway',
  title: 'Install the east-west gateway',
  article: '部署东西向开关 (east-west gateway)',
  notes: [
    'the article pipes the generator into istioctl; here 04 ran ' +
      'the generator and its checked output goes to istioctl on stdin',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const iop = ivFacts(ctx.facts).eastwestIop;
    // at run time 02 and 04 always ran before (they gather facts); only a plan lacks them
    if (!iop && hasFacts(ctx.facts)) return { skip: '04-eastwest-manifest produced no IstioOperator' };
    return {
      // exit 1 = not found: install; kubectl errors other than NotFound also exit 1, and
      // then the install shows the same error
      check: probeCmd(kubectl(ctx.env, '-n', ISTIO_NS, 'get', 'service', EASTWEST_SVC, '-o', 'name'), {
        changeCodes: [1],
      }),
      apply: [
        mutateCmd(istioctl(ctx.env, 'install', '-y', '-f', '-'), {
          stdin:
            iop ?? '# (plan) the IstioOperator gen-eastwest-gateway.sh --single-cluster prints in 04, at run time\n',
          stdinLabel: 'the IstioOperator gen-eastwest-gateway.sh --single-cluster printed (04)',
        }),
      ],
      verify: probeCmd(
        kubectl(ctx.env, '-n', ISTIO_NS, 'rollout', 'status', `deployment/${EASTWEST_SVC}`, '--timeout=180s'),
      ),
    };
  },
};
export default step;

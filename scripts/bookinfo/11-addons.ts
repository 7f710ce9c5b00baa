// Article "首先安装 Kiali 和其他插件": `kubectl apply -f samples/addons` (Prometheus, Grafana,
// Jaeger, Kiali, Loki; the files of the directory in name order, as kubectl takes them,
// each validated), then `kubectl rollout status deployment/kiali -n istio-system`, bounded.
// `istioctl dashboard kiali` opens a browser through a port-forward and blocks: it is
// shown, not run.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { SAMPLES, sampleAction } from './samples.ts';

const step: Step = {
  id: '11-addons',
  title: 'Addons (Kiali, Prometheus, Grafana, Jaeger) and the Kiali rollout',
  article: '安装 Kiali 和其他插件 (addons)',
  notes: [
    'rollout status is bounded (300 s); the article waits without a limit',
    '`istioctl dashboard kiali` blocks and opens a browser: run it yourself afterwards',
  ],
  target: 'cluster',
  cluster: (ctx) => ({
    ...sampleAction(ctx.env, SAMPLES.addons),
    verify: probeCmd(kubectl(ctx.env, 'rollout', 'status', 'deployment/kiali', '-n', 'istio-system', '--timeout=300s')),
  }),
};
export default step;

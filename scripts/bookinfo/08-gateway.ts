// Article "把应用关联到 Istio 网关": `kubectl apply -f samples/bookinfo/networking/bookinfo-gateway.yaml`
// (Gateway bookinfo-gateway on the ingress gateway, VirtualService bookinfo -> productpage),
// validated from ISTIO_DIR first.
import type { Step } from '../engine/types.ts';
import { SAMPLES, sampleAction } from './samples.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '08-gateway',
  title: 'Bookinfo gateway and its VirtualService',
  article: '把应用关联到 Istio 网关 (bookinfo-gateway)',
  notes: ['validated (Istio schemas, unknown fields) before it is applied'],
  target: 'cluster',
  cluster: (ctx) => sampleAction(ctx.env, SAMPLES.gateway, NAMESPACE),
};
export default step;

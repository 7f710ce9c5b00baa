// Article "启用基于用户的路由": virtual-service-reviews-test-v2.yaml: requests to reviews
// carrying `end-user: jason` go to v2, the rest to v1; validated first (the header match
// must be headers.end-user.exact).
import type { Step } from '../engine/types.ts';
import { SAMPLES, sampleAction } from './samples.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '14-route-jason',
  title: 'Route end-user jason to reviews v2',
  article: '启用基于用户的路由 (end-user=jason)',
  target: 'cluster',
  cluster: (ctx) => sampleAction(ctx.env, SAMPLES.reviewsJason, NAMESPACE),
};
export default step;

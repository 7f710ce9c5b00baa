// Article "路由所有流量到 v1 版本": virtual-service-all-v1.yaml sends every service's traffic
// to its v1 subset (reviews v1 shows no stars), validated first.
import type { Step } from '../engine/types.ts';
import { SAMPLES, sampleAction } from './samples.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '13-route-all-v1',
  title: 'Route all traffic to v1',
  article: '路由所有流量到 v1 版本 (all traffic to v1)',
  target: 'cluster',
  cluster: (ctx) => sampleAction(ctx.env, SAMPLES.allV1, NAMESPACE),
};
export default step;

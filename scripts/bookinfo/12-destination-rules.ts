// Article "为 Bookinfo 服务创建默认的目标规则": destination-rule-all.yaml (productpage,
// reviews, ratings, details; subsets by the pods' version label), validated first.
import type { Step } from '../engine/types.ts';
import { SAMPLES, sampleAction } from './samples.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '12-destination-rules',
  title: 'DestinationRules with the version subsets',
  article: '在目标规则中定义可用的版本 (destination rules)',
  target: 'cluster',
  cluster: (ctx) => sampleAction(ctx.env, SAMPLES.destinationRules, NAMESPACE),
};
export default step;

// Article "部署 Bookinfo 示例应用": `kubectl apply -f samples/bookinfo/platform/kube/bookinfo.yaml`
// (details, ratings, reviews v1-v3, productpage; port 9080) in the labelled namespace.
// The file comes from ISTIO_DIR and is validated before it is applied.
import type { Step } from '../engine/types.ts';
import { SAMPLES, sampleAction } from './samples.ts';
import { NAMESPACE } from './03-label-namespace.ts';

const step: Step = {
  id: '04-deploy-bookinfo',
  title: 'Deploy Bookinfo',
  article: '部署 Bookinfo 示例应用 (deploy Bookinfo)',
  notes: [
    'the file is read from ISTIO_DIR and validated (file, object, field) before it is applied; `kubectl diff` first',
  ],
  target: 'cluster',
  cluster: (ctx) => sampleAction(ctx.env, SAMPLES.bookinfo, NAMESPACE),
};
export default step;

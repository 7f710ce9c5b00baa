// Article "使用东西向网关暴露集群内部服务" (expose istiod through the east-west gateway):
// `kubectl apply -n istio-system -f samples/multicluster/expose-istiod.yaml` (Gateway
// istiod-gateway, TLS PASSTHROUGH 15012 and 15017 -> istiod), with `kubectl diff` first.
import path from 'node:path';
import type { Step } from '../engine/types.ts';
import { kubectl, mutateCmd, probeCmd } from '../engine/local.ts';
import { ISTIO_NS } from './common.ts';

export const exposeFile = (env: Record<string, string>) =>
  path.join(env.ISTIO_DIR, 'samples/multicluster/expose-istiod.yaml');

const step: Step = {
  id: '06-expose-istiod',
  title: 'Expose istiod through the east-west gateway',
  article: '使用东西向网关暴露集群内部服务 (expose istiod)',
  notes: ['the article writes -n istio-system apply -f with Unicode hyphens (U+2010): plain ASCII here'],
  target: 'cluster',
  cluster: (ctx) => ({
    check: probeCmd(kubectl(ctx.env, 'diff', '-n', ISTIO_NS, '-f', exposeFile(ctx.env)), { changeCodes: [1] }),
    apply: [mutateCmd(kubectl(ctx.env, 'apply', '-n', ISTIO_NS, '-f', exposeFile(ctx.env)))],
  }),
};
export default step;

// Article §1 "啟動hello1/hello3 POD" (ack.deploy.sh's first lines): the namespace with
// sidecar injection. The article deletes and recreates it (`k delete namespace`, `k create
// ns`, `k label ns`) on every run, which wipes whatever ran there; here one idempotent
// `kubectl apply` of manifests/traffic-shift/namespace.yaml, with `kubectl diff` as the check.
import type { Step } from '../engine/types.ts';
import { render } from '../engine/manifests.ts';
import { applyRendered, ns } from './common.ts';

const step: Step = {
  id: '02-namespace',
  title: 'Namespace with istio-injection=enabled',
  article: '§1 啟動hello1/hello3 POD (ack.deploy.sh)',
  notes: [
    'the demo scripts delete and recreate the namespace on every run; here it is applied (a re-run changes nothing)',
  ],
  target: 'cluster',
  cluster: ({ env }) => {
    const m = render('traffic-shift/namespace.yaml', { HELLO_NS: ns(env) });
    const { check, apply } = applyRendered(env, m);
    return { check, apply: [apply] };
  },
};
export default step;

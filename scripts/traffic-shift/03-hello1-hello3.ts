// Article §1 "啟動hello1/hello3 POD": hello1-deploy (calls hello2-svc) and hello3-deploy
// (hello2's backend), hello1-svc 8004 -> 8001 and hello3-svc 8001, from
// manifests/traffic-shift/hello1-hello3.yaml. After a change, the rollout of both is waited
// for (bounded, 120 s each) instead of the article's unbounded `kubectl wait`.
// Fixed against the article/demo: the demo YAML pulls :1.0.0 with imagePullPolicy Always
// while the VMs run :1.0.1; both use IMAGE_TAG here (IfNotPresent: a tag does not move).
import type { Step } from '../engine/types.ts';
import { kubectl, mutateCmd } from '../engine/local.ts';
import { render } from '../engine/manifests.ts';
import { applyRendered, ns } from './common.ts';

export const ROLLOUT_TIMEOUT = '--timeout=120s';

const step: Step = {
  id: '03-hello1-hello3',
  title: 'hello1 and hello3: Deployments and Services',
  article: '§1 啟動hello1/hello3 POD (start the hello1/hello3 pods)',
  notes: [
    "the demo's pods pull :1.0.0 (imagePullPolicy Always) while " +
      'the VMs run :1.0.1; every hello image uses IMAGE_TAG here',
    'the demo waits with an unbounded `kubectl wait`; here `kubectl ' +
      'rollout status --timeout=120s` per Deployment after a change',
  ],
  target: 'cluster',
  cluster: ({ env }) => {
    const m = render('traffic-shift/hello1-hello3.yaml', { HELLO_NS: ns(env), IMAGE_TAG: env.IMAGE_TAG || '1.0.1' });
    const { check, apply } = applyRendered(env, m);
    const wait = (d: string) =>
      mutateCmd(kubectl(env, '-n', ns(env), 'rollout', 'status', `deploy/${d}`, ROLLOUT_TIMEOUT));
    return { check, apply: [apply, wait('hello1-deploy'), wait('hello3-deploy')] };
  },
};
export default step;

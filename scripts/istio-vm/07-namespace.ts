// Article "配置虚机命名空间及帐户" (the VM's namespace and service account):
// manifests/istio-vm/namespace.yaml, applied with a `kubectl diff` check. The article's
// `kubectl create namespace` / `kubectl create serviceaccount` fail on a second run.
import type { Step } from '../engine/types.ts';
import { applyManifest } from '../engine/local.ts';
import { render } from '../engine/manifests.ts';

export const renderNamespace = (env: Record<string, string>) =>
  render('istio-vm/namespace.yaml', { VM_NAMESPACE: env.VM_NAMESPACE, SERVICE_ACCOUNT: env.SERVICE_ACCOUNT });

const step: Step = {
  id: '07-namespace',
  title: 'Namespace and ServiceAccount for the VMs',
  article: '配置虚机命名空间及帐户 (namespace and service account)',
  notes: [
    '`kubectl create` fails when the object exists: applied with ' +
      'a kubectl diff check instead, so a re-run changes nothing',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const { check, apply } = applyManifest(ctx.env, renderNamespace(ctx.env));
    return { check, apply: [apply] };
  },
};
export default step;

// Article "Kubeadm并不会安装Pod需要的网络...这里采用的是Calico": a pod network. Fixed against
// the article: its docs.projectcalico.org/v2.6/.../kubeadm/1.6/calico.yaml is long gone; the
// manifest is versioned in Calico's repository,
// https://raw.githubusercontent.com/projectcalico/calico/v<CALICO_VERSION>/manifests/calico.yaml.
// With kubeadm, Calico takes the pod CIDR from the cluster's configuration (POD_CIDR), so
// the manifest is applied as published. `kubectl diff` first: unchanged when it matches.
import type { Step } from '../engine/types.ts';
import { probeCmd, mutateCmd } from '../engine/local.ts';
import { kube, noteVms } from './common.ts';

export const calicoUrl = (version: string) =>
  `https://raw.githubusercontent.com/projectcalico/calico/v${version}/manifests/calico.yaml`;

const step: Step = {
  id: '09-pod-network',
  title: 'Pod network: Calico',
  article: '安装Pod网络 Calico (pod network)',
  notes: [
    "the article's docs.projectcalico.org v2.6 manifest URL is gone: the " +
      "versioned manifest from Calico's repository is applied (CALICO_VERSION)",
    'Calico reads the pod CIDR from the kubeadm configuration (POD_CIDR): CALICO_IPV4POOL_CIDR needs no edit',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    noteVms(ctx);
    const url = calicoUrl(ctx.env.CALICO_VERSION);
    return {
      check: probeCmd(kube(ctx, 'diff', '-f', url), { changeCodes: [1] }),
      apply: [mutateCmd(kube(ctx, 'apply', '-f', url))],
      verify: probeCmd(kube(ctx, '-n', 'kube-system', 'rollout', 'status', 'daemonset/calico-node', '--timeout=300s')),
    };
  },
};
export default step;

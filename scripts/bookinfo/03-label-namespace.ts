// Article: `kubectl label namespace default istio-injection=enabled`, so pods deployed
// there get the Envoy sidecar. --overwrite makes it rerunnable (the article's command fails
// when the label exists with another value). The check reads the label (kubectl wait on a
// jsonpath with no waiting: exit 0 when it is "enabled").
import type { Step } from '../engine/types.ts';
import { kubectl, mutateCmd, probeCmd } from '../engine/local.ts';

export const NAMESPACE = 'default';

const step: Step = {
  id: '03-label-namespace',
  title: `Label namespace ${NAMESPACE} istio-injection=enabled`,
  article: '安装 Istio: 给命名空间添加标签 (label the namespace)',
  notes: [
    '--overwrite: the label is set whatever value it had',
    'injection adds the istio-init container, which needs NET_ADMIN and NET_RAW to set up iptables ' +
      'in the pod, unless the istio-cni plugin is installed (the article checks ASK allows both)',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const labelled = kubectl(
      ctx.env,
      'wait',
      '--for=jsonpath={.metadata.labels.istio-injection}=enabled',
      `namespace/${NAMESPACE}`,
      '--timeout=0s',
    );
    return {
      check: probeCmd(labelled, { changeCodes: [1] }),
      apply: [mutateCmd(kubectl(ctx.env, 'label', 'namespace', NAMESPACE, 'istio-injection=enabled', '--overwrite'))],
      verify: probeCmd(labelled),
    };
  },
};
export default step;

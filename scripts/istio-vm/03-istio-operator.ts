// Article "istio 控制面配置" (control plane): the IstioOperator with meshID, clusterName
// and network (manifests/istio-vm/vm-cluster.yaml, validated before use). Two ways, as in
// the article: `patch` merges it into an in-cluster IstioOperator `istio` (the article's
// `kubectl patch --type merge`; the in-cluster operator was removed in Istio 1.24) and
// `install` runs `istioctl install -y -f -` with it on stdin. Nothing runs when 02 found
// the values already set.
// Fixed against the article: PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION and
// PILOT_ENABLE_WORKLOAD_ENTRY_HEALTHCHECKS default to true since Istio 1.10, so the
// article's --set flags are left out; `istioctl install` without -y waits for a prompt.
import type { Step } from '../engine/types.ts';
import { istioctl, kubectl, mutateCmd } from '../engine/local.ts';
import { ISTIO_NS, ivFacts, showValues, wantedValues } from './common.ts';
import { renderIstioOperator } from './istio-operator.ts';
import { sameValues } from './parse.ts';

export const renderVmCluster = (env: Record<string, string>) =>
  renderIstioOperator('istio-vm/vm-cluster.yaml', {
    MESH_ID: env.MESH_ID,
    CLUSTER_NAME: env.CLUSTER_NAME,
    NETWORK: env.NETWORK,
  });

const step: Step = {
  id: '03-istio-operator',
  title: 'Set meshID, clusterName and network (IstioOperator)',
  article: 'istio 控制面配置 (control plane)',
  notes: [
    'PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION / _HEALTHCHECKS are ' +
      "default (true) since Istio 1.10: the article's --set flags are not needed",
    'install mode re-runs `istioctl install` with the default profile plus these values, as the article ' +
      'does; if Istio was installed from your own IstioOperator, merge the three values into it instead',
    'the article runs istioctl install without -y, which stops at a prompt: -y is passed',
    'patch mode merges the same YAML into the in-cluster IstioOperator istio (kubectl ' +
      'patch --type merge, from stdin); the in-cluster operator is gone since Istio 1.24',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const want = wantedValues(ctx.env);
    const cur = ivFacts(ctx.facts).meshValues;
    if (cur && sameValues(cur, want)) return { skip: `Istio already runs with ${showValues(want)}: nothing to change` };
    const m = renderVmCluster(ctx.env);
    const stdin = { stdin: m.text, stdinLabel: `${m.file} (rendered)` };
    if (ctx.env.ISTIO_CONFIG_MODE === 'patch') {
      return {
        apply: [
          mutateCmd(
            kubectl(
              ctx.env,
              '-n',
              ISTIO_NS,
              'patch',
              'istiooperators.install.istio.io',
              'istio',
              '--type',
              'merge',
              '--patch-file',
              '/dev/stdin',
            ),
            stdin,
          ),
        ],
        consent: cur
          ? `the in-cluster operator reconfigures the running Istio (now ${showValues(cur)}) with these values`
          : undefined,
      };
    }
    return {
      apply: [mutateCmd(istioctl(ctx.env, 'install', '-y', '-f', '-'), stdin)],
      consent: cur
        ? `istioctl install re-installs the running Istio ` +
          `(now ${showValues(cur)}) with the default profile plus these values`
        : undefined,
    };
  },
};
export default step;

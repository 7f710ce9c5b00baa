// Article "创建workloadGroup模版" and "配置探针【非必须】" (the WorkloadGroup, with an optional
// HTTP readiness probe): manifests/istio-vm/workloadgroup.yaml, or workloadgroup-probe.yaml
// when PROBE_PORT is set; validated against the WorkloadGroup schema before it is applied.
// Fixed against the article: both of its WorkloadGroups are mis-indented (`template:` and
// `probe:` one column off, which YAML rejects), and the probe version uses ${NETWORK},
// which the article never sets.
import type { Step } from '../engine/types.ts';
import { applyManifest } from '../engine/local.ts';
import { render } from '../engine/manifests.ts';

export function renderWorkloadGroup(env: Record<string, string>) {
  const vars = {
    VM_APP: env.VM_APP,
    VM_NAMESPACE: env.VM_NAMESPACE,
    SERVICE_ACCOUNT: env.SERVICE_ACCOUNT,
    NETWORK: env.NETWORK,
    PROBE_PORT: env.PROBE_PORT,
    PROBE_PATH: env.PROBE_PATH || '/ready',
  };
  return render(env.PROBE_PORT ? 'istio-vm/workloadgroup-probe.yaml' : 'istio-vm/workloadgroup.yaml', vars);
}

const step: Step = {
  id: '08-workloadgroup',
  title: 'Apply the WorkloadGroup',
  article: '创建workloadGroup模版 / 配置探针 (WorkloadGroup, probe)',
  notes: [
    "the article's WorkloadGroup YAML is mis-indented (template:/probe: one " +
      'column off): ours is validated against the schema before it is applied',
    'the probe variant used ${NETWORK}, which the article never set: NETWORK is used for the cluster and the VM alike',
  ],
  target: 'cluster',
  cluster: (ctx) => {
    const { check, apply } = applyManifest(ctx.env, renderWorkloadGroup(ctx.env), ctx.env.VM_NAMESPACE);
    return { check, apply: [apply] };
  },
};
export default step;

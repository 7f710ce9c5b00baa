// Article §1 "配置WorkloadEntry等設施" (asm_traffic_shift.sh: `m apply -f
// control_plane/http-reciprocal-hello-all.yaml`): Gateway hello-gateway (port 8004),
// VirtualService gateway-vs (8004 -> hello1-svc), DestinationRule hello2-dr (subsets
// v1/v2/v3 by the WorkloadEntries' version label) and VirtualService hello2-vs, which splits
// /hello over the subsets by WEIGHTS. From manifests/traffic-shift/routing.yaml, validated.
// WEIGHTS was checked with the inputs (known subsets, whole numbers, sum 100); here it is
// also checked against the inventory: a positive weight for a version no VM runs would send
// that share of the traffic nowhere (503s).
import type { Step } from '../engine/types.ts';
import { render } from '../engine/manifests.ts';
import { applyRendered, VERSIONS, clusterProblem, ns, weightsOf } from './common.ts';

const step: Step = {
  id: '07-routing',
  title: 'Gateway, VirtualServices and DestinationRule with WEIGHTS',
  article: '§1 配置WorkloadEntry等設施 (control plane: gateway, virtualservice, destinationrule)',
  notes: [
    "the demo's weights are fixed in its YAML (30/60/10); here they " +
      'come from WEIGHTS, and a version without a VM cannot get traffic',
  ],
  target: 'cluster',
  cluster: ({ env, vms }) => {
    const w = weightsOf(env);
    const running = new Set(vms.map((vm) => vm.labels.version));
    const orphan = VERSIONS.find((v) => w[v] > 0 && !running.has(v));
    if (orphan)
      return clusterProblem(
        `WEIGHTS sends ${w[orphan]} % to ${orphan}, but no inventory VM has ` +
          `labels.version ${orphan}; give a VM that version or set its weight to 0`,
      );
    const m = render('traffic-shift/routing.yaml', {
      HELLO_NS: ns(env),
      WEIGHT_V1: w.v1,
      WEIGHT_V2: w.v2,
      WEIGHT_V3: w.v3,
    });
    const { check, apply } = applyRendered(env, m);
    return { check, apply: [apply] };
  },
};
export default step;

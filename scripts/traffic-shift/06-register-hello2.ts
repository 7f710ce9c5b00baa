// Article §1 "配置WorkloadEntry等設施" (asm.deploy.sh): make hello2-svc the VMs.
//   VM_REGISTRATION=asm (default when MESH_ID is set): `aliyun servicemesh AddVmAppToMesh`,
//     which creates ServiceEntry mesh-expansion-hello2-svc, WorkloadEntries
//     mesh-expansion-hello2-svc-1..N and the selector-less Service hello2-svc. Checked first
//     with `kubectl get serviceentry mesh-expansion-hello2-svc` (the object the call
//     creates; a read of the cluster needs no cloud credentials, where DescribeVmAppFromMesh
//     would). The aliyun CLI uses its own credentials (aliyun configure / ALIBABA_CLOUD_*
//     variables): meshbook never sees an AccessKey, so none is an input here.
//   VM_REGISTRATION=istio: the same ServiceEntry and Service from
//     manifests/traffic-shift/hello2-registration.yaml (the WorkloadEntries follow in 08).
// Fixed against the article: its AddVmAppToMesh names namespace `external-hello`, while the
// host, the pods and every other object use http-reciprocal-hello: HELLO_NS everywhere.
// With ASM the article applies Istio objects through the mesh's own kubeconfig (`m`) and the
// rest through the cluster's (`k`); meshbook uses one context (KUBE_CONTEXT): enable ASM's
// "access Istio resources through the data-plane cluster's KubeAPI", or apply them by hand.
import type { Step } from '../engine/types.ts';
import { kubectl, mutateCmd, probeCmd } from '../engine/local.ts';
import { render } from '../engine/manifests.ts';
import {
  applyRendered,
  HELLO_PORT,
  SERVICE_ENTRY,
  WORKLOAD_LABEL,
  clusterProblem,
  inventoryProblems,
  ns,
  registration,
} from './common.ts';

const step: Step = {
  id: '06-register-hello2',
  title: 'Register the VMs as hello2-svc (ServiceEntry, Service)',
  article: '§1 配置WorkloadEntry等設施 (WorkloadEntry and friends)',
  notes: [
    "the article's AddVmAppToMesh uses namespace external-hello while " +
      'everything else is in http-reciprocal-hello; HELLO_NS is used',
    'VM_REGISTRATION=asm calls AddVmAppToMesh when the ServiceEntry is absent (the aliyun CLI ' +
      'reads its own credentials); istio applies the same ServiceEntry and selector-less Service',
    'a VM added to the inventory later gets its WorkloadEntry in 08; AddVmAppToMesh is not called again',
  ],
  target: 'cluster',
  cluster: ({ env, vms }) => {
    const problems = inventoryProblems(vms);
    if (problems.length) return clusterProblem(problems[0]);
    if (registration(env) === 'istio') {
      const { check, apply } = applyRendered(
        env,
        render('traffic-shift/hello2-registration.yaml', { HELLO_NS: ns(env) }),
      );
      return { check, apply: [apply] };
    }
    const exists = kubectl(env, '-n', ns(env), 'get', 'serviceentry', SERVICE_ENTRY, '-o', 'name');
    return {
      check: probeCmd(exists, { changeCodes: [1] }),
      apply: [
        mutateCmd([
          'aliyun',
          'servicemesh',
          'AddVmAppToMesh',
          '--ServiceMeshId',
          env.MESH_ID,
          '--Namespace',
          ns(env),
          '--ServiceName',
          'hello2-svc',
          '--Ips',
          vms.map((vm) => vm.privateIp).join(','),
          '--Ports',
          `http:${HELLO_PORT}`,
          '--Labels',
          `app=${WORKLOAD_LABEL}`,
        ]),
      ],
      verify: probeCmd(exists),
    };
  },
};
export default step;

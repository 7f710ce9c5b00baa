// Article §1 "為WorkloadEntry新增version標籤" (add the version label to each WorkloadEntry):
// one WorkloadEntry per inventory VM, mesh-expansion-hello2-svc-<n> (inventory order), with
// the VM's private address and labels app=hello-workload + version from the inventory,
// rendered from manifests/traffic-shift/hello2-workloadentry.yaml and applied together.
// Fixed against the article: it edits the three entries by hand after AddVmAppToMesh. With
// ASM the entries AddVmAppToMesh created are applied over with the same names (address and
// labels are set explicitly, so ASM's numbering of the IPs does not matter); with Istio this
// step creates them. `kubectl apply` does not delete: the entry of a VM removed from the
// inventory stays until `kubectl -n <HELLO_NS> delete workloadentry <name>` (in the lab:
// `meshbook lab kubectl -n <HELLO_NS> delete workloadentry <name>`; a lab shrunk with
// `lab up --vms N` removes the entries of its removed VMs itself).
import type { Step } from '../engine/types.ts';
import { render } from '../engine/manifests.ts';
import { applyRendered, clusterProblem, inventoryProblems, ns, vmVersion, workloadEntryName } from './common.ts';

export const WE_TEMPLATE = 'traffic-shift/hello2-workloadentry.yaml';

const step: Step = {
  id: '08-workloadentry-versions',
  title: 'WorkloadEntries with the version labels',
  article: '§1 為WorkloadEntry新增version標籤 (version labels)',
  notes: [
    'the article labels the three WorkloadEntries by hand; here one entry ' +
      'per inventory VM is rendered from a template with its version and applied',
    'a VM removed from the inventory keeps its WorkloadEntry (apply does not delete): `kubectl -n <HELLO_NS> ' +
      'delete workloadentry mesh-expansion-hello2-svc-<n>`; in the lab `meshbook lab kubectl -n <HELLO_NS> delete ' +
      'workloadentry mesh-expansion-hello2-svc-<n>` (`lab up --vms N` removes the entries of the VMs it removes)',
  ],
  target: 'cluster',
  cluster: ({ env, vms }) => {
    const problems = inventoryProblems(vms);
    if (problems.length) return clusterProblem(problems[0]);
    const docs = vms.map((vm, i) => {
      const v = vmVersion(vm);
      return render(WE_TEMPLATE, {
        HELLO_NS: ns(env),
        WE_NAME: workloadEntryName(i),
        VM_IP: vm.privateIp,
        VERSION: 'version' in v ? v.version : '',
      });
    });
    const { check, apply } = applyRendered(env, {
      file: `manifests/${WE_TEMPLATE} x${docs.length}`,
      text: docs.map((d) => d.text).join('---\n'),
    });
    return { check, apply: [apply] };
  },
};
export default step;

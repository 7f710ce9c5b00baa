// Article "看k8s上面的workloadEntry及workloadGroup已经成功创建" (verify, on the cluster):
// `kubectl -n vm get we` lists a WorkloadEntry with the VM's address, auto-registered by
// istiod from the WorkloadGroup. Each VM's privateIp (inventory) must have one; its
// Healthy condition is shown when the WorkloadGroup has a probe.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { parseWorkloadEntries } from './parse.ts';
import { ISTIO_VM_FAILURES } from './failures.ts';

const missing = ISTIO_VM_FAILURES.find((f) => f.symptom.test('no WorkloadEntry'))!;

const step: Step = {
  id: '20-workloadentry',
  title: 'Check each VM has an auto-registered WorkloadEntry',
  article: '验证: workloadEntry (verify: WorkloadEntry)',
  notes: ["the article reads `kubectl get we` by eye; each inventory VM's privateIp is matched here"],
  target: 'cluster',
  cluster: (ctx) => ({
    probe: probeCmd(
      kubectl(ctx.env, '-n', ctx.env.VM_NAMESPACE, 'get', 'workloadentries.networking.istio.io', '-o', 'json'),
    ),
    interpret: (out) => {
      if (out.code !== 0)
        return { ok: false, lines: [`error: kubectl exited ${out.code}: ${out.stderr.trim().split('\n').pop()}`] };
      const wes = parseWorkloadEntries(out.stdout);
      if ('error' in wes) return { ok: false, lines: [`error: ${wes.error}`] };
      const lines: string[] = [];
      let ok = true;
      for (const vm of ctx.vms) {
        if (!vm.privateIp) {
          ok = false;
          lines.push(`error: ${vm.name} has no privateIp in the inventory: cannot match its WorkloadEntry`);
          continue;
        }
        const we = wes.find((w) => w.address === vm.privateIp);
        if (!we) {
          ok = false;
          lines.push(
            `error: no WorkloadEntry with address ${vm.privateIp} (${vm.name}): ${missing.cause}; fix: ${missing.fix}`,
          );
          continue;
        }
        lines.push(
          `${vm.name} ${vm.privateIp}: ` +
            (`WorkloadEntry ${we.name}${we.autoRegistered ? ' (auto-registered)' : ''}` +
              `${we.healthy === undefined ? '' : we.healthy ? ', Healthy' : ', NOT healthy (probe failing)'}`),
        );
      }
      return { ok, lines };
    },
  }),
};
export default step;

// Article §2 "KUBE驗證-POD和VM互訪" (pods and VMs reach each other), from hello1's pod:
//   each VM directly (<privateIp>:8001: the VM's greeting, then hello3's: VM -> pod works),
//   hello2-svc:8001 (ServiceEntry + WorkloadEntries: pod -> VM through the mesh),
//   hello1-svc:8004 (the whole chain hello1 -> hello2 -> hello3),
// reported as a matrix (rows: source, columns: target). Read-only.
// The article runs one `kubectl exec ... -- curl` per target; a cluster step runs one
// command, so here one `kubectl exec deploy/hello1-deploy -c hello-v1-deploy -- sh -c LOOP`
// curls every target (the URLs are arguments of the loop, never part of its text).
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { CURL_LOOP, parseCurlLoop, renderMatrix, type Target } from './matrix.ts';
import {
  GREETINGS,
  HELLO1_PORT,
  HELLO_PORT,
  clusterProblem,
  hints,
  inventoryProblems,
  ns,
  svcHost,
  vmVersion,
} from './common.ts';
import type { Vm } from '../engine/inventory.ts';

export const SOURCE = 'hello1 pod';
const G = `(${Object.values(GREETINGS).join('|')})`;

export function targets(env: Record<string, string>, vms: Vm[]): Target[] {
  const vmTargets = vms.map((vm): Target => {
    const v = vmVersion(vm);
    const greeting = 'version' in v ? GREETINGS[v.version] : 'Hello';
    return {
      label: `${vm.name} ${vm.privateIp}:${HELLO_PORT}`,
      url: `http://${vm.privateIp}:${HELLO_PORT}/hello/eric`,
      expect: new RegExp(`^${greeting} eric\\([^)]*\\)<-${G} eric\\([^)]*\\)$`),
      expectText: `"${greeting} eric(<vm>)<-Hello eric(<hello3>)"`,
    };
  });
  return [
    ...vmTargets,
    {
      label: `hello2-svc:${HELLO_PORT}`,
      url: `http://${svcHost(env, 'hello2-svc')}:${HELLO_PORT}/hello/eric`,
      expect: new RegExp(`^${G} eric\\([^)]*\\)<-${G} eric\\([^)]*\\)$`),
      expectText: '"<greeting> eric(<vm>)<-Hello eric(<hello3>)"',
    },
    {
      label: `hello1-svc:${HELLO1_PORT}`,
      url: `http://${svcHost(env, 'hello1-svc')}:${HELLO1_PORT}/hello/eric`,
      expect: new RegExp(`^Hello eric\\([^)]*\\)<-${G} eric\\([^)]*\\)<-${G} eric\\([^)]*\\)$`),
      expectText: '"Hello eric(<hello1>)<-<greeting> eric(<vm>)<-Hello eric(<hello3>)"',
    },
  ];
}

const step: Step = {
  id: '12-pod-vm-checks',
  title: 'From hello1: each VM, hello2-svc, the whole chain (matrix)',
  article: '§2 KUBE驗證-POD和VM互訪 (pods and VMs reach each other)',
  notes: [
    "one `kubectl exec` runs the article's curls for every target (a " +
      'cluster step runs one command); the results are a source x target matrix',
  ],
  target: 'cluster',
  cluster: ({ env, vms }) => {
    const problems = inventoryProblems(vms);
    if (problems.length) return clusterProblem(problems[0]);
    const ts = targets(env, vms);
    return {
      probe: probeCmd(
        kubectl(
          env,
          '-n',
          ns(env),
          'exec',
          'deploy/hello1-deploy',
          '-c',
          'hello-v1-deploy',
          '--',
          'sh',
          '-c',
          CURL_LOOP,
          'meshbook-check',
          ...ts.map((t) => t.url),
        ),
      ),
      interpret: (out) => {
        const first = out.stderr.trim().split('\n')[0] ?? '';
        const probes = parseCurlLoop(out.stdout, SOURCE, ts, out.code === 0 ? 'not probed' : `not probed: ${first}`);
        const lines = renderMatrix(probes, 'pod <-> VM');
        const failed = probes.filter((p) => !p.ok);
        if (!failed.length) return { ok: true, lines };
        return {
          ok: false,
          lines: [
            `error: ${failed.length} of ${probes.length} checks from ${SOURCE} ` +
              `failed (first: ${failed[0].target}: ${failed[0].detail})`,
            ...lines,
            ...hints(failed.map((p) => p.detail)),
          ],
        };
      },
    };
  },
};
export default step;

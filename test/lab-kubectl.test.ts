// `meshbook lab kubectl ...`: the lab has no kubectl of its own; this passes the words to the
// lab's ClusterProvider (the code that carries out the runbooks' kubectl commands in the
// lab), prints what it prints and exits with its code. So a step's "delete it with kubectl
// -n NS delete workloadentry NAME" works in the lab as `meshbook lab kubectl -n NS delete
// workloadentry NAME`: get, delete and their effect on the data plane (the VM's sidecar).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labDown, labStatus } from '../lab/vms.ts';
import { labKubectl } from '../lab/cli.ts';

const enabled = process.platform === 'linux' && process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nginx');
const serial = enabled ? test.serial : test.serial.skip;

const NS = 'http-reciprocal-hello';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-kubectl-'));
const prefix = `mbk${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const labArgs = [
  '--prefix',
  prefix,
  '--dir',
  dir,
  '--lab-env',
  envFile,
  '--inventory',
  path.join(tmp, 'lab-inventory.yaml'),
];
const where = ['--prefix', prefix, '--dir', dir];
const run = $({
  nothrow: true,
  quiet: true,
  env: { ...process.env, FORCE_COLOR: '0', MESHBOOK_LAB_PREFIX: '', MESHBOOK_LAB_DIR: '' },
});
const meshbook = (args: string[], input?: string) => run({ input })`node bin/meshbook.js ${args}`;
const kubectl = (args: string[], input?: string) => meshbook(['lab', 'kubectl', ...where, ...args], input);

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
---
${[1, 2]
  .map(
    (n) => `apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: mesh-expansion-hello2-svc-${n}
  namespace: ${NS}
spec:
  address: 192.168.0.${249 + n}
  labels: { app: hello-workload, version: v${n} }
  ports: { http: 8001 }
`,
  )
  .join('---\n')}---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: mesh-expansion-hello2-svc
  namespace: ${NS}
spec:
  hosts: [hello2-svc.${NS}.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 8001, name: http, protocol: HTTP }]
  resolution: STATIC
  workloadSelector: { labels: { app: hello-workload } }
`;

test.after.always(async () => {
  // in-process, not through the CLI: the lab goes even when the CLI cannot start
  if (enabled)
    await labDown({ prefix, dir, envFile, inventoryFile: path.join(tmp, 'lab-inventory.yaml') }).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

serial('without a lab: one clear line, exit 1', async (t) => {
  const r = await kubectl(['get', 'pods']);
  t.is(r.exitCode, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^meshbook lab: no lab is up \(prefix mbk\d+, state dir \S+\): run meshbook lab up\n/);
});

serial('--help explains it, with the delete example', async (t) => {
  const r = await meshbook(['lab', 'kubectl', '--help']);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /Usage: meshbook lab kubectl \[--prefix P\] \[--dir D\] \[--lab-env F\] <kubectl arguments\.\.\.>/);
  t.regex(r.stdout, /meshbook lab kubectl -n http-reciprocal-hello delete workloadentry mesh-expansion-hello2-svc-4/);
  t.regex(
    (await meshbook(['lab', '--help'])).stdout,
    /kubectl \[args\.\.\.\]\s+run a kubectl command against the lab cluster/,
  );
});

serial('apply, get, delete a WorkloadEntry: output and exit codes as kubectl, the VM loses its sidecar', async (t) => {
  const up = await meshbook(['lab', 'up', '--vms', '2', ...labArgs]);
  t.is(up.exitCode, 0, up.stderr);

  const apply = await kubectl(['apply', '-f', '-'], MANIFEST);
  t.is(apply.exitCode, 0, apply.stderr);
  t.regex(apply.stdout, /workloadentry\.networking\.istio\.io\/mesh-expansion-hello2-svc-2 created/);
  const sidecars = async () => (await labStatus({ prefix, dir })).cluster?.vmSidecars;
  t.deepEqual(await sidecars(), ['vm1', 'vm2']);

  // the lab found through the lab env (LAB_PREFIX, LAB_DIR), --context dropped
  const get = await meshbook([
    'lab',
    'kubectl',
    '--lab-env',
    envFile,
    '--context',
    'prod',
    '-n',
    NS,
    'get',
    'workloadentries',
    '-o',
    'name',
  ]);
  t.is(get.exitCode, 0, get.stderr);
  t.is(
    get.stdout,
    'workloadentry.networking.istio.io/mesh-expansion-hello2-svc-1\n' +
      'workloadentry.networking.istio.io/mesh-expansion-hello2-svc-2\n',
  );

  // the command step 08 names for a VM taken out of the inventory
  const del = await kubectl(['-n', NS, 'delete', 'workloadentry', 'mesh-expansion-hello2-svc-2']);
  t.is(del.exitCode, 0, del.stderr);
  t.regex(del.stdout, /^workloadentry(\.networking\.istio\.io)? "mesh-expansion-hello2-svc-2" deleted\n/);
  // (in-process: the function behind the command)
  const after = await labKubectl({ prefix, dir }, ['-n', NS, 'get', 'we', '-o', 'jsonpath={.items[*].spec.address}']);
  t.is(after.stdout.trim(), '192.168.0.250');
  t.deepEqual(await sidecars(), ['vm1'], "vm2's sidecar went with its WorkloadEntry");

  // kubectl's own errors and exit codes
  const again = await kubectl(['-n', NS, 'delete', 'workloadentry', 'mesh-expansion-hello2-svc-2']);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /NotFound.*mesh-expansion-hello2-svc-2/);
  t.is(
    (
      await labKubectl({ prefix, dir }, [
        '-n',
        NS,
        'delete',
        'workloadentry',
        'mesh-expansion-hello2-svc-2',
        '--ignore-not-found',
      ])
    ).code,
    0,
  );
  const notInLab = await kubectl(['port-forward', 'svc/x', '8080:80']);
  t.is(notInLab.exitCode, 1);
  t.regex(notInLab.stderr, /^meshbook lab: not in lab: kubectl port-forward is not in the lab/);
});

serial('a lab without a cluster says so', async (t) => {
  const up = await meshbook(['lab', 'up', '--no-cluster', ...labArgs]);
  t.is(up.exitCode, 0, up.stderr);
  const r = await kubectl(['get', 'ns']);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /the lab has no cluster: run meshbook lab up \(without --no-cluster\)/);
});

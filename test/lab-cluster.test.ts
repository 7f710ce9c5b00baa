// The lab cluster for real: `lab up` with the cluster beside 3 VMs, the traffic-shift
// objects applied through the ClusterProvider (the runbook's exact `kubectl apply -f -` with
// the YAML on stdin), the hello app started on the VMs as the runbook would, each VM given
// the route to the cluster and the hello3 hosts line; then the whole chain from the
// workstation through the ingress gateway, the split over ~1000 requests, a VM without the
// route, what is "not in lab", a second `up` that changes nothing, and `lab down` leaving
// the machine as it was. Needs root on Linux and /usr/sbin/nginx (skipped otherwise).
import test from 'ava';
import { $ } from 'zx';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  labDown,
  labStatus,
  labUp,
  readState,
  resolveConfig,
  vmExec,
  wsExec,
  type LabOptions,
  type LabState,
} from '../lab/vms.ts';
import { hasLabCluster, labClusterProvider } from '../lab/cluster/provider.ts';
import { REPO_ROOT } from '../lab/config.ts';
import { parseSave, expectAsmProxy } from '../scripts/engine/iptables.ts';
import type { ClusterProvider, RemoteResult } from '../scripts/engine/types.ts';
import { hostState } from './helpers/host-state.ts';

const enabled = process.platform === 'linux' && process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nginx');
const serial = enabled ? test.serial : test.serial.skip;

const NS = 'http-reciprocal-hello';
const PREFIX = `mbcl${process.pid % 100000}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshbook-labcluster-'));
const opts: LabOptions = {
  prefix: PREFIX,
  dir: path.join(tmp, 'state'),
  envFile: path.join(tmp, 'out', 'lab.env'),
  inventoryFile: path.join(tmp, 'out', 'lab-inventory.yaml'),
};
const cfg = resolveConfig(opts);
const FIXTURE = fs.readFileSync(
  path.join(import.meta.dirname, 'fixtures', 'lab-cluster', 'traffic-shift.yaml'),
  'utf8',
);
const HELLO = fs.readFileSync(path.join(REPO_ROOT, 'vm', 'hello', 'hello.mjs'), 'utf8');
const sh = $({ quiet: true, nothrow: true });

let before: Record<string, string>;
let forwarding: string;
let state: LabState;
let env: Record<string, string>;
let provider: ClusterProvider;
const timings: string[] = [];

const kubectl = (args: string[], stdin?: string, timeoutMs = 60_000): Promise<RemoteResult> =>
  provider.run(
    { kind: stdin === undefined ? 'probe' : 'mutate', argv: ['kubectl', '--context', 'lab', ...args], stdin },
    timeoutMs,
  );

/** Requests from the workstation namespace (a Node client with keep-alive): status+body -> count. */
async function fromWorkstation(url: string, n: number, concurrency = 8): Promise<Record<string, number>> {
  const script =
    `
    const http = require('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: ${concurrency} });
    const counts = {}; let next = 0;
    const one = () => new Promise((res) => http.get(process.argv[1], { agent, timeout: 10000 ` +
    `}, (r) => { let b = ''; r.setEncoding('utf8'); r.on('data', (c) => b += c); r.on('end', () ` +
    `=> res(r.statusCode + ' ' + b.trim())); }).on('error', (e) => res('ERR ' + e.message)));
    Promise.all(Array.from({ length: ${concurrency} }, async () => { while (next++ ` +
    `< ${n}) { const k = await one(); counts[k] = (counts[k] ?? 0) + 1; } }))
      .then(() => { console.log(JSON.stringify(counts)); process.exit(0); });`;
  const r = await wsExec(['timeout', '60', process.execPath, '-e', script, url], { ...opts, nothrow: true });
  if (r.exitCode !== 0) throw new Error(`workstation client failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const podIp = async (app: string) =>
  (
    await kubectl(['-n', NS, 'get', 'pod', '-l', `app=${app}`, '-o', 'jsonpath={.items[*].status.podIP}'])
  ).stdout.trim();

test.before(async () => {
  if (enabled) before = await hostState();
  forwarding = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
});

test.after.always(async () => {
  if (enabled) await labDown(opts).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
  if (timings.length) console.log(`lab cluster timings: ${timings.join('; ')}`);
});

serial('lab up builds 3 VMs and the cluster: node at .100, gateway, env says LAB_CLUSTER=1', async (t) => {
  const r = await labUp({ ...opts, cluster: true });
  state = r.state;
  timings.push(`lab up (3 VMs + cluster) ${r.seconds.toFixed(2)} s (cluster part ${r.cluster!.seconds.toFixed(2)} s)`);
  t.true(r.seconds < 15, `lab up took ${r.seconds} s`);
  t.like(r.cluster, { created: true, pods: 0, problems: [], notInLab: [] });
  env = Object.fromEntries(
    fs
      .readFileSync(cfg.envFile, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  t.like(env, {
    LAB: '1',
    LAB_CLUSTER: '1',
    LAB_PREFIX: PREFIX,
    LAB_DIR: cfg.dir,
    LAB_CLUSTER_NODE_IP: '192.168.0.100',
    SERVICE_CIDR: '172.19.0.0/20',
    POD_CIDR: '172.18.0.0/16',
  });
  t.true(hasLabCluster(env));
  t.false(hasLabCluster({ ...env, LAB_CLUSTER: '' }));
  provider = labClusterProvider({ env });

  const node = `${PREFIX}-node`;
  t.regex((await sh`ip -n ${node} -4 -o addr show dev eth0`).stdout, / 192\.168\.0\.100\/24 /);
  t.regex((await sh`ip -n ${node} -4 -o addr show dev cbr0`).stdout, / 172\.18\.0\.1\/24 /);
  t.is((await sh`ip -n ${node} route show default`).stdout.trim(), '');
  t.is((await sh`ip netns exec ${node} cat /proc/sys/net/ipv4/ip_forward`).stdout.trim(), '1');
  t.is(
    fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'),
    forwarding,
    "the machine's own forwarding setting is untouched",
  );
  const health = await wsExec(['curl', '-s', '-m', '5', 'http://192.168.0.100:15021/healthz/ready'], {
    ...opts,
    nothrow: true,
  });
  t.is(health.stdout, 'ready\n');
  const s = await labStatus(opts);
  t.true(s.healthy);
  t.deepEqual(s.strayNamespaces, []);
  t.like(s.cluster, { node: { present: true, address: '192.168.0.100' }, gateway: 'running' });
});

serial('kubectl apply -f - of the traffic-shift objects: pods, ClusterIPs, diff says unchanged', async (t) => {
  const t0 = performance.now();
  const r = await kubectl(['apply', '-f', '-'], FIXTURE);
  timings.push(`apply (2 pods, 3 VM sidecars, gateway) ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  t.is(r.code, 0, r.stderr);
  t.is(r.notInLab, undefined);
  t.regex(r.stdout, /^namespace\/http-reciprocal-hello created$/m);
  t.regex(r.stdout, /^deployment\.apps\/hello1-deploy created$/m);
  t.regex(r.stdout, /^virtualservice\.networking\.istio\.io\/hello2-vs created$/m);
  t.notRegex(r.stdout, /warning/);

  const again = await kubectl(['apply', '-f', '-'], FIXTURE);
  t.is(again.stdout.split('\n').filter((l) => l && !l.endsWith(' unchanged')).length, 0, again.stdout);
  const diff = await kubectl(['diff', '-f', '-'], FIXTURE);
  t.is(diff.code, 0, diff.stdout);
  const changed = await kubectl(
    ['diff', '-f', '-'],
    FIXTURE.replace('weight: 60', 'weight: 50').replace('weight: 10', 'weight: 20'),
  );
  t.is(changed.code, 1);
  t.regex(changed.stdout, /^-\s+weight: 60$/m);
  t.regex(changed.stdout, /^\+\s+weight: 50$/m);

  const ip = await kubectl(['-n', NS, 'get', 'svc', 'hello3-svc', '-o', 'jsonpath={.spec.clusterIP}']);
  t.regex(ip.stdout, /^172\.19\.([0-9]|1[0-5])\.\d+$/, 'a ClusterIP from SERVICE_CIDR');
  const svc = JSON.parse((await kubectl(['-n', NS, 'get', 'svc', 'hello1-svc', '-o', 'json'])).stdout);
  t.like(svc, { kind: 'Service', spec: { type: 'ClusterIP', ports: [{ port: 8004, targetPort: 8001 }] } });
  const ns = JSON.parse((await kubectl(['get', 'namespace', NS, '-o', 'json'])).stdout);
  t.like(ns, { metadata: { labels: { 'istio-injection': 'enabled' } }, status: { phase: 'Active' } });
  const we = JSON.parse(
    (await kubectl(['-n', NS, 'get', 'workloadentry', 'mesh-expansion-hello2-svc-2', '-o', 'json'])).stdout,
  );
  t.like(we, { spec: { address: '192.168.0.251', labels: { version: 'v2' } } });
  const pods = JSON.parse((await kubectl(['-n', NS, 'get', 'pods', '-o', 'json'])).stdout);
  t.is(pods.items.length, 2);
  for (const p of pods.items) {
    t.like(p, { status: { phase: 'Running' } });
    t.deepEqual(
      p.spec.containers.map((c: { name: string }) => c.name),
      ['hello-v1-deploy', 'istio-proxy'],
    );
  }
  const lb = await kubectl([
    '-n',
    'istio-system',
    'get',
    'svc',
    'istio-ingressgateway',
    '-o',
    'jsonpath={.status.loadBalancer.ingress[0].ip}',
  ]);
  t.is(lb.stdout, '192.168.0.100');
  for (const d of ['hello1-deploy', 'hello3-deploy']) {
    const ro = await kubectl(['-n', NS, 'rollout', 'status', `deploy/${d}`, '--timeout=120s']);
    t.is(ro.stdout.trim(), `deployment "${d}" successfully rolled out`);
  }
  const missing = await kubectl(['-n', NS, 'get', 'svc', 'nope']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /NotFound.*"nope" not found/);

  // a pod: own netns and mount namespace, /etc/hosts as cluster DNS, the istio-proxy user
  const hosts = await kubectl([
    '-n',
    NS,
    'exec',
    'deploy/hello1-deploy',
    '--',
    'sh',
    '-c',
    'cat /etc/hosts; id -u istio-proxy',
  ]);
  t.regex(
    hosts.stdout,
    new RegExp(
      `^${ip.stdout.replace(/\./g, '\\.')}\\thello3-svc\\.${NS}\\.svc\\.cluster\\.local ` +
        `hello3-svc\\.${NS}\\.svc hello3-svc\\.${NS} hello3-svc$`,
      'm',
    ),
  );
  t.regex(hosts.stdout, /^1337$/m);
  t.false(fs.readFileSync('/etc/hosts', 'utf8').includes('hello3-svc'), "the machine's /etc/hosts is not the pod's");
});

serial('the VMs in the mesh get a sidecar with the interception asm-vm-proxy checks for', async (t) => {
  for (const v of state.vms) {
    const nat = await vmExec(v.name, ['iptables-save', '-t', 'nat'], opts);
    const exp = expectAsmProxy(parseSave(nat.stdout), '172.19.0.0/20');
    t.deepEqual(
      exp.filter((e) => !e.ok),
      [],
      `${v.name}: ${nat.stdout}`,
    );
    t.regex(nat.stdout, /--uid-owner 1337 -j RETURN/);
    const ps = await vmExec(v.name, ['sh', '-c', 'ps -o uid=,args= -C nginx; getent passwd istio-proxy'], opts);
    t.regex(ps.stdout, /^\s*0\s+nginx: master process \/usr\/sbin\/nginx -p \/run\/meshlab\/sidecar/m, v.name);
    t.regex(ps.stdout, /^\s*1337\s+nginx: worker process/m, v.name);
    t.regex(ps.stdout, /^istio-proxy:x:1337:1337:/m);
  }
  t.false(fs.readFileSync('/etc/passwd', 'utf8').includes('istio-proxy'), 'the machine has no istio-proxy user');
});

serial('hello2 on the VMs as the runbook starts it; with route and hosts line the whole chain answers', async (t) => {
  const hello3Ip = (
    await kubectl(['-n', NS, 'get', 'svc', 'hello3-svc', '-o', 'jsonpath={.spec.clusterIP}'])
  ).stdout.trim();
  for (const v of state.vms) {
    await vmExec(v.name, ['sh', '-c', 'mkdir -p /opt/hello && cat > /opt/hello/hello.mjs'], { ...opts, input: HELLO });
    const start = await vmExec(
      v.name,
      [
        'env',
        `VERSION=${v.version}`,
        `HTTP_HELLO_BACKEND=hello3-svc.${NS}.svc.cluster.local`,
        'sh',
        '-c',
        'node /opt/hello/hello.mjs >/var/log/hello.log 2>&1 &',
      ],
      { ...opts, nothrow: true },
    );
    t.is(start.exitCode, 0, start.stderr);
    const setup = await vmExec(
      v.name,
      [
        'sh',
        '-c',
        'ip route replace "$1" via "$3" && ip route replace "$2" via "$3" && printf "%s %s\\n" "$4" "$5" >> /etc/hosts',
        'setup',
        '172.18.0.0/16',
        '172.19.0.0/20',
        '192.168.0.100',
        hello3Ip,
        `hello3-svc.${NS}.svc.cluster.local`,
      ],
      { ...opts, nothrow: true },
    );
    t.is(setup.exitCode, 0, setup.stderr);
  }
  const [hello1, hello3] = [await podIp('hello1-deploy'), await podIp('hello3-deploy')];
  t.regex(hello1, /^172\.18\.0\.\d+$/);
  // wait for the apps to listen (bounded)
  for (let i = 0; i < 100; i++) {
    const ok = await Promise.all(
      state.vms.map((v) =>
        vmExec(v.name, ['bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/8001'], { ...opts, nothrow: true }),
      ),
    );
    if (ok.every((r) => r.exitCode === 0)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const greet: Record<string, string> = { v1: 'Hello', v2: 'Bonjour', v3: 'Hola' };
  // from hello1's pod: each VM directly, then hello2-svc (the ServiceEntry + WorkloadEntries)
  for (const v of state.vms) {
    const r = await kubectl([
      '-n',
      NS,
      'exec',
      'deploy/hello1-deploy',
      '-c',
      'hello-v1-deploy',
      '--',
      'curl',
      '-sS',
      '-m',
      '5',
      `${v.address}:8001/hello/eric`,
    ]);
    t.is(r.stdout.trim(), `${greet[v.version]} eric(${v.address})<-Hello eric(${hello3})`, r.stderr);
  }
  const viaSvc = await kubectl([
    '-n',
    NS,
    'exec',
    'deploy/hello1-deploy',
    '--',
    'curl',
    '-sS',
    '-m',
    '5',
    `hello2-svc.${NS}.svc.cluster.local:8001/hello/eric`,
  ]);
  t.regex(
    viaSvc.stdout.trim(),
    new RegExp(
      `^(Hello|Bonjour|Hola) eric\\(192\\.168\\.0\\.25[0-2]\\)<-Hello eric\\(${hello3.replace(/\./g, '\\.')}\\)$`,
    ),
  );
  // the same with the lab's curl stand-in (used when the machine has no curl), as a runbook's sh -c loop calls it
  process.env.MESHBOOK_LAB_CURL_LITE = '1';
  try {
    const lite = await kubectl([
      '-n',
      NS,
      'exec',
      'deploy/hello1-deploy',
      '--',
      'sh',
      '-c',
      `curl -sS -m 5 -w '\\n@@ %{http_code}\\n' "$1"; echo "exit $?"; command -v curl`,
      'loop',
      `hello3-svc:8001/hello/lite`,
    ]);
    t.deepEqual(
      lite.stdout.split('\n'),
      [`Hello lite(${hello3})`, '', '@@ 200', 'exit 0', '/run/meshlab/bin/curl', ''],
      lite.stderr,
    );
    const down = await kubectl([
      '-n',
      NS,
      'exec',
      'deploy/hello1-deploy',
      '--',
      'curl',
      '-sS',
      '-m',
      '2',
      'http://127.0.0.1:1/',
    ]);
    t.is(down.code, 7);
    t.regex(down.stderr, /^curl: \(7\) Failed to connect to 127\.0\.0\.1 port 1/);
  } finally {
    delete process.env.MESHBOOK_LAB_CURL_LITE;
  }

  // from the workstation through the ingress gateway: the whole chain
  const one = await wsExec(['curl', '-sS', '-m', '5', 'http://192.168.0.100:8004/hello/eric'], {
    ...opts,
    nothrow: true,
  });
  const chain = new RegExp(
    `^Hello eric\\(${hello1.replace(/\./g, '\\.')}\\)<-(Hello|Bonjour|Hola) ` +
      `eric\\(192\\.168\\.0\\.25[0-2]\\)<-Hello eric\\(${hello3.replace(/\./g, '\\.')}\\)$`,
  );
  t.regex(one.stdout.trim(), chain, one.stderr);

  const t0 = performance.now();
  const counts = await fromWorkstation('http://192.168.0.100:8004/hello/eric', 1000);
  timings.push(
    `1000 requests through gateway -> hello1 -> VM -> hello3 ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  );
  const by: Record<string, number> = { Hello: 0, Bonjour: 0, Hola: 0 };
  for (const [k, n] of Object.entries(counts)) {
    const m = /^200 (.*)$/.exec(k);
    t.truthy(m && chain.test(m[1]), `unexpected answer: ${k}`);
    by[chain.exec(m![1])![1]] += n;
  }
  timings.push(`split Hello/Bonjour/Hola ${by.Hello}/${by.Bonjour}/${by.Hola}`);
  t.is(by.Hello + by.Bonjour + by.Hola, 1000);
  // a loose sanity bound around 30/60/10 (the statistical verdict is the verifier's job)
  t.true(by.Hello > 220 && by.Hello < 380, JSON.stringify(by));
  t.true(by.Bonjour > 520 && by.Bonjour < 680, JSON.stringify(by));
  t.true(by.Hola > 50 && by.Hola < 150, JSON.stringify(by));
});

serial(
  "without the route to the cluster a VM's hop to hello3 fails (the article's route and hosts steps matter)",
  async (t) => {
    const vm3 = state.vms[2];
    await vmExec(vm3.name, ['sh', '-c', 'ip route del 172.18.0.0/16; ip route del 172.19.0.0/20'], {
      ...opts,
      nothrow: true,
    });
    const broken = await wsExec(
      ['curl', '-sS', '-m', '8', '-w', '\\n%{http_code}', `http://${vm3.address}:8001/hello/eric`],
      { ...opts, nothrow: true },
    );
    const [body, code] = broken.stdout.trim().split('\n').filter(Boolean);
    t.is(code, '503', `${broken.stdout} ${broken.stderr}`);
    // a new connection: network unreachable; one the app kept alive from before: its backend call times out
    t.regex(body, /^Hola eric\(192\.168\.0\.252\)<-ERROR (connect ENETUNREACH|timed out after)/);
    const fine = await wsExec(['curl', '-sS', '-m', '8', `http://${state.vms[0].address}:8001/hello/eric`], {
      ...opts,
      nothrow: true,
    });
    t.regex(fine.stdout, /^Hello eric\(192\.168\.0\.250\)<-Hello eric\(172\.18\.0\.\d+\)$/m);
    // and a VM cannot reach a ClusterIP without the route (only via its sidecar and the node)
    const direct = await vmExec(
      vm3.name,
      [
        'bash',
        '-c',
        'exec 3<>/dev/tcp/"$1"/8001',
        'probe',
        (await kubectl(['-n', NS, 'get', 'svc', 'hello3-svc', '-o', 'jsonpath={.spec.clusterIP}'])).stdout,
      ],
      { ...opts, nothrow: true },
    );
    t.not(direct.exitCode, 0);
    t.regex(direct.stderr, /unreachable/i);
  },
);

serial(
  'a VM out of the mesh loses its sidecar; with the route it reaches a ClusterIP through kube-proxy on the node',
  async (t) => {
    const vm3 = state.vms[2];
    const del = await kubectl(['-n', NS, 'delete', 'workloadentry', 'mesh-expansion-hello2-svc-3']);
    t.is(del.stdout.trim(), 'workloadentry "mesh-expansion-hello2-svc-3" deleted');
    const nat = await vmExec(vm3.name, ['iptables-save', '-t', 'nat'], opts);
    t.notRegex(nat.stdout, /ISTIO/, 'the interception rules are gone with the sidecar');
    t.is((await vmExec(vm3.name, ['sh', '-c', 'ps -C nginx -o pid= | wc -l'], opts)).stdout.trim(), '0');
    await vmExec(
      vm3.name,
      [
        'sh',
        '-c',
        'ip route replace 172.18.0.0/16 via 192.168.0.100 && ip route replace 172.19.0.0/20 via 192.168.0.100',
      ],
      opts,
    );
    const vip = (await kubectl(['-n', NS, 'get', 'svc', 'hello3-svc', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    const viaNode = await vmExec(vm3.name, ['curl', '-sS', '-m', '5', `http://${vip}:8001/hello/kube-proxy`], {
      ...opts,
      nothrow: true,
    });
    t.is(viaNode.stdout.trim(), `Hello kube-proxy(${await podIp('hello3-deploy')})`, viaNode.stderr);
    // hello2's split now goes over v1 and v2 only (v3 has no endpoint: 503 from the sidecar's blackhole)
    const counts = await fromWorkstation('http://192.168.0.100:8004/hello/eric', 200);
    t.false(
      Object.keys(counts).some((k) => k.includes('Hola eric(192.168.0.252)')),
      JSON.stringify(counts),
    );
    const back = await kubectl(['apply', '-f', '-'], FIXTURE);
    t.regex(back.stdout, /^workloadentry\.networking\.istio\.io\/mesh-expansion-hello2-svc-3 created$/m);
    const again = await vmExec(vm3.name, ['iptables-save', '-t', 'nat'], opts);
    t.deepEqual(
      expectAsmProxy(parseSave(again.stdout), '172.19.0.0/20').filter((e) => !e.ok),
      [],
    );
  },
);

serial('what the lab cannot do is "not in lab" with the reason; other commands run in the workstation', async (t) => {
  const ictl = await provider.run({ kind: 'probe', argv: ['istioctl', 'version'] }, 10_000);
  t.regex(ictl.notInLab ?? '', /^istioctl is not in the lab: there is no istiod/);
  const aliyun = await provider.run({ kind: 'mutate', argv: ['aliyun', 'servicemesh', 'AddVmAppToMesh'] }, 10_000);
  t.regex(aliyun.notInLab ?? '', /aliyun CLI .* not in the lab/);
  const verb = await kubectl(['port-forward', 'svc/hello1-svc', '8004']);
  t.regex(verb.notInLab ?? '', /^kubectl port-forward is not in the lab/);
  const other = FIXTURE.split('\n---\n')
    .find((d) => d.includes('name: hello3-deploy'))!
    .replace('http_springboot_v1:1.0.1', 'nginx:1.25')
    .replace(/hello3/g, 'web');
  const img = await kubectl(['apply', '-f', '-'], other);
  t.regex(
    img.notInLab ?? '',
    /deployment http-reciprocal-hello\/web-deploy: image \S+\/nginx:1\.25 is not in the lab: it runs no container engine/,
  );
  t.regex((await kubectl(['-n', NS, 'rollout', 'status', 'deploy/web-deploy'])).notInLab ?? '', /not in the lab/);
  t.regex((await kubectl(['-n', NS, 'delete', 'deploy', 'web-deploy'])).stdout, /deployment "web-deploy" deleted/);
  const secret = await kubectl(
    ['apply', '-f', '-'],
    'apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: {k: v}\n',
  );
  t.regex(secret.notInLab ?? '', /keeps no Secrets/);
  const printf = await provider.run(
    { kind: 'probe', argv: ['sh', '-c', 'ip -o -4 addr show dev eth0 | grep -o "inet [0-9.]*"'] },
    10_000,
  );
  t.is(printf.stdout.trim(), 'inet 192.168.0.2', 'local commands run in the workstation namespace');
  const label = await kubectl(['label', 'namespace', NS, 'team=lab', '--overwrite']);
  t.is(label.stdout.trim(), `namespace/${NS} labeled`);
  t.is((await kubectl(['get', 'ns', NS, '-o', 'jsonpath={.metadata.labels.team}'])).stdout, 'lab');
});

serial('lab up again changes nothing; a pod that dies comes back', async (t) => {
  const pidsOf = async () =>
    (
      await Promise.all(
        [...(await sh`ip netns list`).stdout.split('\n')]
          .map((l) => l.split(' ')[0])
          .filter((n) => n.startsWith(`${PREFIX}-`))
          .map(async (n) => (await sh`ip netns pids ${n}`).stdout.trim()),
      )
    )
      .join(' ')
      .split(/\s+/)
      .sort();
  const pids = await pidsOf();
  const r = await labUp(opts);
  timings.push(`second lab up ${r.seconds.toFixed(2)} s`);
  t.deepEqual(r.created, []);
  t.deepEqual(r.wrote, []);
  t.like(r.cluster, { created: false, pods: 2, problems: [] });
  t.deepEqual(await pidsOf(), pids, 'nothing restarted');
  // kill hello3's app: the next kubectl call replaces the pod (a controller would)
  const st = JSON.parse(fs.readFileSync(path.join(cfg.dir, 'cluster', 'cluster.json'), 'utf8'));
  const h3 = st.pods.find((p: { deployment: string }) => p.deployment === 'hello3-deploy');
  process.kill(h3.holder.pid, 'SIGKILL');
  await new Promise((res) => setTimeout(res, 100));
  const ro = await kubectl(['-n', NS, 'rollout', 'status', 'deploy/hello3-deploy', '--timeout=30s']);
  t.is(ro.code, 0, ro.stderr);
  const one = await wsExec(['curl', '-sS', '-m', '5', `http://${state.vms[0].address}:8001/hello/eric`], {
    ...opts,
    nothrow: true,
  });
  t.regex(one.stdout, new RegExp(`<-Hello eric\\(${(await podIp('hello3-deploy')).replace(/\./g, '\\.')}\\)$`, 'm'));
});

serial('lab down removes every namespace, process, mount and file; the machine is unchanged', async (t) => {
  const s = (await readState(cfg))!;
  t.truthy(s.cluster);
  const r = await labDown(opts);
  timings.push(`lab down ${r.seconds.toFixed(2)} s`);
  t.true(r.namespaces.includes(`${PREFIX}-node`));
  t.true(r.namespaces.filter((n) => n.startsWith(`${PREFIX}-pod-`)).length === 2);
  t.deepEqual(
    (await sh`ip netns list`).stdout.split('\n').filter((l) => l.startsWith(`${PREFIX}-`)),
    [],
  );
  const leftovers = (await sh`ps -eo args`).stdout
    .split('\n')
    .filter((l) => l.includes(cfg.dir) || l.includes(`${PREFIX}-`));
  t.deepEqual(leftovers, []);
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(PREFIX) || l.includes(tmp));
  t.deepEqual(mounts, []);
  for (const f of [cfg.dir, cfg.envFile, cfg.inventoryFile]) t.false(fs.existsSync(f), f);
  t.deepEqual(await hostState(), before);
  t.is(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), forwarding);
});

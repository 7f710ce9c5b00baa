// istio-vm (article 2) without a lab: manifests rendered from the example env validate and
// broken variants are rejected with the field named; the parsers on fixtures (east-west
// gateway Service with and without a LoadBalancer, istioctl's cluster.env / mesh.yaml and
// their NodePort rewrite, an empty hosts file, nodes, WorkloadEntries, istio.log); the
// known-failure matcher; the steps' decisions from facts; the plan per distro.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInputs, InputError } from '../scripts/engine/inputs.ts';
import { plan, planText, planSh } from '../scripts/engine/plan.ts';
import { renderText, ManifestError } from '../scripts/engine/manifests.ts';
import type { ClusterCtx, HostCtx, RemoteResult, Step, VmAction, ClusterAction } from '../scripts/engine/types.ts';
import type { Script } from '../scripts/engine/sh.ts';
import rb from '../scripts/istio-vm/index.ts';
import { ivFacts, VM_FILES, STAMP, type VmFiles } from '../scripts/istio-vm/common.ts';
import { renderIstioOperatorText } from '../scripts/istio-vm/istio-operator.ts';
import {
  checkEastWestIop,
  parseClusterEnv,
  parseEastWestService,
  parseMeshValues,
  parseNodes,
  parseWorkloadEntries,
  prepareVmFiles,
  setClusterEnv,
  tokenExpiry,
  meshDiscovery,
} from '../scripts/istio-vm/parse.ts';
import { ISTIO_VM_FAILURES, explainText, judgeLog, matchLines } from '../scripts/istio-vm/failures.ts';
import { labVmFiles, STAND_IN_MARK } from '../lab/stand-ins/istio-vm-files.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';
import { clusterActionOf, vmActionOf } from '../scripts/engine/action.ts';
import { renderVmCluster } from '../scripts/istio-vm/03-istio-operator.ts';
import { renderNamespace } from '../scripts/istio-vm/07-namespace.ts';
import { renderWorkloadGroup } from '../scripts/istio-vm/08-workloadgroup.ts';
import { currentFiles, inputsDigest } from '../scripts/istio-vm/09-workload-files.ts';

process.env.HOME = '/root';
process.env.TMPDIR = '/tmp';

const EXAMPLE = 'envs/istio-vm.env.example';
const fx = (f: string) => fs.readFileSync(new URL(`./fixtures/istio-vm/${f}`, import.meta.url), 'utf8');
const loaded = loadInputs(EXAMPLE, [rb]);
const ENV = loaded.env;
const step = (id: string): Step => rb.steps.find((s) => s.id.startsWith(id))!;
const ok = (stdout: string, code = 0, stderr = ''): RemoteResult => ({ code, stdout, stderr });

function clusterCtx(over: Partial<ClusterCtx> = {}): ClusterCtx {
  return {
    env: ENV,
    facts: {},
    lab: false,
    vms: loaded.inventory.vms,
    workDir: '/nonexistent/meshbook-work',
    envFile: loaded.envFile,
    ...over,
  };
}
function hostCtx(over: Partial<HostCtx> = {}): HostCtx {
  const vm = loaded.inventory.vms[0];
  return {
    vm,
    env: ENV,
    facts: { distro: vm.distro, family: 'redhat' },
    cluster: {},
    lab: false,
    distro: vm.distro,
    ...over,
  };
}
// a step's action as a run does it: with the lab's rule for it (lab/stand-ins)
const vmAction = (id: string, ctx: HostCtx): VmAction =>
  vmActionOf(step(id), `istio-vm/${step(id).id}`, ctx, LAB_RULES);
const clusterAction = (id: string, ctx: ClusterCtx): ClusterAction =>
  clusterActionOf(step(id), `istio-vm/${step(id).id}`, ctx, LAB_RULES);

function jwt(exp: number): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return (
    `${b({ alg: 'RS256', kid: 'test' })}.` +
    `${b({ aud: ['istio-ca'], exp, sub: 'system:serviceaccount:vm:vm-sa' })}.c2lnbmF0dXJl`
  );
}

// ---- manifests ---------------------------------------------------------------------------

test('every manifest rendered from the example env validates', (t) => {
  const iop = renderVmCluster(ENV);
  t.deepEqual(iop.objects[0].spec.values.global, {
    meshID: 'mesh1',
    multiCluster: { clusterName: 'cluster1' },
    network: 'network1',
  });
  const ns = renderNamespace(ENV);
  t.deepEqual(
    ns.objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ['Namespace/vm', 'ServiceAccount/vm-sa'],
  );
  const wg = renderWorkloadGroup(ENV);
  t.is(wg.file, 'manifests/istio-vm/workloadgroup-probe.yaml');
  t.deepEqual(wg.objects[0].spec.probe, {
    periodSeconds: 5,
    initialDelaySeconds: 1,
    httpGet: { port: 8080, path: '/ready' },
  });
  t.is(wg.objects[0].spec.template.network, 'network1');
  const plain = renderWorkloadGroup({ ...ENV, PROBE_PORT: '' });
  t.is(plain.file, 'manifests/istio-vm/workloadgroup.yaml');
  t.is(plain.objects[0].spec.probe, undefined);
  // a hostile value stays one string: it cannot add YAML structure
  const odd = renderIstioOperatorText('x.yaml', fs.readFileSync('manifests/istio-vm/vm-cluster.yaml', 'utf8'), {
    MESH_ID: 'm',
    CLUSTER_NAME: 'c\n  profile: demo',
    NETWORK: 'n',
  });
  t.is(odd.objects[0].spec.values.global.multiCluster.clusterName, 'c\n  profile: demo');
  t.is(odd.objects[0].spec.profile, undefined);
});

test('broken WorkloadGroups are rejected with the field named', (t) => {
  const err = (f: string) => t.throws(() => renderText(f, fx(f), {}), { instanceOf: ManifestError })!.message;
  t.regex(
    err('workloadgroup-template-under-metadata.yaml'),
    /WorkloadGroup hello-service: spec\.metadata\.template: unknown field \(mis-indented\?\)/,
  );
  t.regex(
    err('workloadgroup-unknown-field.yaml'),
    /WorkloadGroup hello-service: spec\.template\.serviceAcount: unknown field/,
  );
  t.regex(
    err('workloadgroup-article-probe.yaml'),
    /workloadgroup-article-probe\.yaml: not valid YAML: All mapping items must start at the same column/,
  );
});

test('broken IstioOperators are rejected with the field named', (t) => {
  const err = (f: string) =>
    t.throws(() => renderIstioOperatorText(f, fx(f), {}), { instanceOf: ManifestError })!.message;
  t.regex(
    err('vm-cluster-meshid-misindented.yaml'),
    /IstioOperator istio: spec\.values\.global\.multiCluster\.meshID: unknown field \(mis-indented\?\)/,
  );
  t.regex(
    err('vm-cluster-clustername-misindented.yaml'),
    /IstioOperator istio: spec\.values\.global\.clusterName: unknown field/,
  );
  const typo = fx('vm-cluster-meshid-misindented.yaml').replace('  values:', '  valuez:');
  t.regex(t.throws(() => renderIstioOperatorText('t.yaml', typo, {}))!.message, /spec\.valuez: unknown field/);
  t.regex(
    t.throws(() =>
      renderIstioOperatorText(
        't.yaml',
        'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  ' +
          'name: x\nspec:\n  values:\n    global:\n      meshID: ${MESH_ID}\n',
        {},
      ),
    )!.message,
    /\$\{MESH_ID\} not set; set MESH_ID in the env file/,
  );
});

test('the east-west IstioOperator gen-eastwest-gateway.sh prints is checked', (t) => {
  t.deepEqual(checkEastWestIop(fx('eastwest-iop.yaml')).lines, [
    'generated IstioOperator eastwest (profile empty): istio-eastwestgateway with ports 15021, 15443, 15012, 15017',
  ]);
  t.regex(
    checkEastWestIop(
      fx('eastwest-iop.yaml').replace(
        /port: 15012\n\s+targetPort: 15012/,
        'port: 15013\n                targetPort: 15013',
      ),
    ).error!,
    /does not expose 15012/,
  );
  t.regex(
    checkEastWestIop('Must specify either --single-cluster or --network.').error!,
    /printed 1 documents|IstioOperator/,
  );
});

// ---- parsers -----------------------------------------------------------------------------

test('east-west gateway Service: LoadBalancer address, else the nodePort of 15012', (t) => {
  t.like(parseEastWestService(fx('eastwest-svc-nodeport.json')), {
    type: 'LoadBalancer',
    lbIp: undefined,
    lbHostname: undefined,
    nodePort: 31885,
  });
  t.like(parseEastWestService(fx('eastwest-svc-lb.json')), { lbIp: '10.253.17.100', nodePort: 31885 });
  t.like(parseEastWestService(fx('eastwest-svc-lb-hostname.json')), {
    lbIp: undefined,
    lbHostname: 'a1b2c3.elb.example.com',
  });
  t.like(parseEastWestService(fx('eastwest-svc-clusterip.json')), { type: 'ClusterIP', nodePort: undefined });
  t.truthy(parseEastWestService('Error from server (NotFound)').error);
});

test("istioctl's cluster.env: the REFERENCE keys, shell quoting", (t) => {
  const env = parseClusterEnv(fx('cluster.env'));
  for (const k of [
    'ISTIO_NAMESPACE',
    'ISTIO_SERVICE',
    'SERVICE_ACCOUNT',
    'ISTIO_SERVICE_CIDR',
    'ISTIO_INBOUND_PORTS',
    'ISTIO_LOCAL_EXCLUDE_PORTS',
    'ISTIO_META_CLUSTER_ID',
    'ISTIO_META_NETWORK',
    'ISTIO_META_AUTO_REGISTER_GROUP',
  ])
    t.true(k in env, k);
  t.is(env.ISTIO_SERVICE_CIDR, '*');
  t.is(env.ISTIO_LOCAL_EXCLUDE_PORTS, '22,15090,15021,15020');
  t.is(
    env.ISTIO_METAJSON_LABELS,
    JSON.stringify({
      app: 'hello-service',
      'service.istio.io/canonical-name': 'hello-service',
      'service.istio.io/canonical-revision': 'latest',
    }),
  );
  t.deepEqual(parseClusterEnv(`A='it'"'"'s'\nB=plain # comment\nC=""\n`), { A: "it's", B: 'plain', C: '' });
  const set = setClusterEnv(fx('cluster.env'), 'CA_ADDR', 'istiod.istio-system.svc:31885');
  t.is(parseClusterEnv(set).CA_ADDR, 'istiod.istio-system.svc:31885');
  t.is(parseClusterEnv(setClusterEnv(set, 'CA_ADDR', 'x:1')).CA_ADDR, 'x:1');
  t.is(
    setClusterEnv(set, 'CA_ADDR', 'x:1')
      .split('\n')
      .filter((l) => l.startsWith('CA_ADDR=')).length,
    1,
  );
});

const generated = (hosts = 'hosts-empty') => ({
  clusterEnv: fx('cluster.env'),
  meshYaml: fx('mesh.yaml'),
  hosts: fx(hosts),
  rootCert: fx('root-cert.pem'),
});

test('no LoadBalancer: 15012 becomes the NodePort in mesh.yaml and CA_ADDR; empty hosts -> node IP', (t) => {
  const svc = parseEastWestService(fx('eastwest-svc-nodeport.json'));
  const p = prepareVmFiles(generated(), { istiod: svc, nodeIp: '10.253.17.27' });
  t.falsy(p.error);
  const f = p.files!;
  t.deepEqual(meshDiscovery(f.meshYaml), { host: 'istiod.istio-system.svc', port: 31885 });
  t.is(parseClusterEnv(f.clusterEnv).CA_ADDR, 'istiod.istio-system.svc:31885');
  t.is(f.hostsLine, '10.253.17.27 istiod.istio-system.svc');
  t.true(p.lines.some((l) => /istioctl wrote an EMPTY hosts file/.test(l)));
  t.true(
    p.lines.includes('mesh.yaml: discoveryAddress istiod.istio-system.svc:15012 -> istiod.istio-system.svc:31885'),
  );
  t.true(p.lines.some((l) => /CA_ADDR=istiod\.istio-system\.svc:31885 added/.test(l)));
  // everything else in mesh.yaml is kept (the probe, the proxyMetadata)
  t.true(
    f.meshYaml.includes('readinessProbe:') && f.meshYaml.includes('ISTIO_META_AUTO_REGISTER_GROUP: hello-service'),
  );
  // a revisioned install already has CA_ADDR: it is rewritten, not duplicated
  const rev = prepareVmFiles(
    { ...generated(), clusterEnv: setClusterEnv(fx('cluster.env'), 'CA_ADDR', 'istiod.istio-system.svc:15012') },
    { istiod: svc, nodeIp: '10.253.17.27' },
  );
  t.true(rev.lines.includes('cluster.env: CA_ADDR istiod.istio-system.svc:15012 -> istiod.istio-system.svc:31885'));
  // INGRESS_IP wins over the node
  t.is(
    prepareVmFiles(generated(), { istiod: svc, nodeIp: '10.253.17.27', ingressIp: '10.253.17.5' }).files!.hostsLine,
    '10.253.17.5 istiod.istio-system.svc',
  );
  t.regex(prepareVmFiles(generated(), { istiod: svc }).error!, /set NODE_IP/);
  t.regex(
    prepareVmFiles(generated(), {
      istiod: parseEastWestService(fx('eastwest-svc-clusterip.json')),
      nodeIp: '10.253.17.27',
    }).error!,
    /no LoadBalancer address and no nodePort for port 15012/,
  );
});

test('a LoadBalancer: files stay as istioctl wrote them; a hostname needs INGRESS_IP', (t) => {
  const p = prepareVmFiles(generated('hosts'), {
    istiod: parseEastWestService(fx('eastwest-svc-lb.json')),
    nodeIp: '10.253.17.27',
  });
  t.is(p.files!.meshYaml, fx('mesh.yaml'));
  t.is(p.files!.clusterEnv, fx('cluster.env'));
  t.is(p.files!.hostsLine, '10.253.17.100 istiod.istio-system.svc');
  t.deepEqual(p.lines, ['hosts: "10.253.17.100 istiod.istio-system.svc" (from istioctl)']);
  const host = parseEastWestService(fx('eastwest-svc-lb-hostname.json'));
  t.regex(
    prepareVmFiles(generated(), { istiod: host }).error!,
    /hostname \(a1b2c3\.elb\.example\.com\).*set INGRESS_IP/,
  );
  t.is(
    prepareVmFiles(generated(), { istiod: host, ingressIp: '10.253.17.9' }).files!.hostsLine,
    '10.253.17.9 istiod.istio-system.svc',
  );
});

test('nodes, WorkloadEntries, mesh values', (t) => {
  t.deepEqual(parseNodes(fx('nodes.json')), { ip: '10.253.17.27', name: 'node1' });
  t.regex((parseNodes('{"items":[]}') as { error: string }).error, /none of the 0 node\(s\) is Ready/);
  t.deepEqual(parseWorkloadEntries(fx('workloadentries.json')), [
    { name: 'vm/hello-service-10.253.17.29', address: '10.253.17.29', healthy: false, autoRegistered: true },
  ]);
  t.deepEqual(parseMeshValues(fx('sidecar-injector-cm.json'), 'install'), {
    meshID: 'mesh1',
    clusterName: 'cluster1',
    network: 'network1',
  });
  t.deepEqual(parseMeshValues(fx('istiooperator-cr.json'), 'patch'), {
    meshID: 'mesh1',
    clusterName: 'Kubernetes',
    network: '',
  });
});

test('istio.log: good lines mean connected; the healthcheck line is only a warning', (t) => {
  const good = judgeLog(fx('istio-good.log.txt'));
  t.true(good.connected);
  t.regex(good.good!, /SDS: PUSH request .*resource:default/);
  t.deepEqual(
    good.failures.map((m) => m.failure.fatal),
    [false],
  );
  // the article's own (copy-spaced) format counts too
  t.true(
    judgeLog('2023 - 11 - 17T07 : 09 : 12.387317Z info ads SDS : PUSH for node : istio - 3.vm resources : 1').connected,
  );
  const bad = judgeLog(fx('istio-failures.log.txt'));
  t.false(bad.connected);
  // a failure after the last good line: not connected
  t.false(judgeLog(`${fx('istio-good.log.txt')}\n${fx('istio-failures.log.txt').split('\n')[0]}`).connected);
  t.true(judgeLog(`${fx('istio-failures.log.txt').split('\n')[0]}\n${fx('istio-good.log.txt')}`).connected);
});

test('each REFERENCE §3 failure line maps to its fix', (t) => {
  const lines = fx('istio-failures.log.txt').trim().split('\n');
  const fixes = lines.map((l) => matchLines(l)[0]?.failure.fix ?? 'NO MATCH');
  const expect: RegExp[] = [
    /NodePort of 15012 .* mesh\.yaml discoveryAddress and CA_ADDR/, // dial tcp :15012 refused
    /compare discoveryAddress .* with the east-west gateway Service/, // a stale NodePort
    /--ingressIP/, // Could not auto-detect IP
    /--clusterID equal to the IstioOperator clusterName/, // client claims to be in cluster
    /regenerates the files .*TOKEN_DURATION/, // Token has expired
    /regenerates the files .*TOKEN_DURATION/, // no istio-token
    /start the app, or fix spec\.probe/, // healthcheck failure threshold hit
    /apply the WorkloadGroup .*--autoregister/, // no WorkloadEntry
    /route both CIDRs via a node .*\/16/, // DNS resolves, connect hangs
    /same subnet as the VM/, // route via an off-link node
  ];
  t.is(lines.length, expect.length);
  lines.forEach((l, i) => t.regex(fixes[i], expect[i], l));
  t.is(explainText(fx('istio-failures.log.txt')).length, ISTIO_VM_FAILURES.length);
  t.deepEqual(
    matchLines(fx('istio-good.log.txt')).map((m) => m.failure.cause),
    [ISTIO_VM_FAILURES.find((f) => !f.fatal)!.cause],
  );
});

// ---- the work dir, the token ---------------------------------------------------------------

test('09 regenerates only when the inputs changed or the token is about to expire', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ivm-work-'));
  try {
    const wg = renderWorkloadGroup(ENV).text;
    const digest = inputsDigest(ENV, wg);
    const now = 1_700_000_000;
    t.regex(
      currentFiles(dir, digest, now).reason,
      /lacks cluster\.env, hosts, istio-token, mesh\.yaml, root-cert\.pem/,
    );
    for (const f of ['cluster.env', 'mesh.yaml', 'root-cert.pem']) fs.writeFileSync(path.join(dir, f), fx(f));
    fs.writeFileSync(path.join(dir, 'hosts'), '');
    fs.writeFileSync(path.join(dir, 'istio-token'), jwt(now + 3000));
    t.regex(currentFiles(dir, digest, now).reason, /other inputs/);
    fs.writeFileSync(path.join(dir, STAMP), `${digest}\n`);
    t.deepEqual(currentFiles(dir, digest, now), {
      ok: true,
      reason: `the files in ${dir} are current (same inputs; istio-token valid for 50 more minutes)`,
    });
    t.false(currentFiles(dir, inputsDigest({ ...ENV, CLUSTER_NAME: 'other' }, wg), now).ok);
    t.regex(currentFiles(dir, digest, now + 2900).reason, /expires in 100 s/);
    t.regex(currentFiles(dir, digest, now + 4000).reason, /has expired/);
    t.is(tokenExpiry(jwt(42)), 42);
    t.is(tokenExpiry('not-a-jwt'), undefined);
    // the step skips with that reason, or runs istioctl into the work dir with the WG on stdin
    fs.writeFileSync(path.join(dir, 'istio-token'), jwt(Math.floor(Date.now() / 1000) + 3000));
    t.regex(clusterAction('09', clusterCtx({ workDir: dir })).skip ?? '', /are current/);
    const a = clusterAction('09', clusterCtx({ workDir: path.join(dir, 'fresh') }));
    t.deepEqual(a.apply![1].argv, [
      'istioctl',
      'x',
      'workload',
      'entry',
      'configure',
      '-f',
      '/dev/stdin',
      '-o',
      path.join(dir, 'fresh'),
      '--clusterID',
      'cluster1',
      '--autoregister',
      '--tokenDuration',
      '3600',
    ]);
    t.is(a.apply![1].stdin, wg);
    t.deepEqual(a.apply![0].argv, ['install', '-d', '-m', '0700', path.join(dir, 'fresh')]);
    t.deepEqual(a.apply![2].argv, ['chmod', '0600', path.join(dir, 'fresh', 'istio-token')]);
    const ing = clusterAction(
      '09',
      clusterCtx({ env: { ...ENV, INGRESS_IP: '10.253.17.5', KUBE_CONTEXT: 'prod' }, workDir: path.join(dir, 'x') }),
    );
    t.deepEqual(ing.apply![1].argv.slice(0, 3), ['istioctl', '--context', 'prod']);
    t.deepEqual(ing.apply![1].argv.slice(-2), ['--ingressIP', '10.253.17.5']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('11 reads the Service and the work dir, rewrites for the NodePort and hands the files on', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ivm-work-'));
  try {
    const ctx = clusterCtx({ workDir: dir, env: { ...ENV, NODE_IP: '' }, facts: {} });
    ctx.facts['istio-vm'] = { node: { ip: '10.253.17.28', name: 'node2' } };
    const a = clusterAction('11', ctx);
    t.deepEqual(a.probe!.argv, [
      'kubectl',
      '-n',
      'istio-system',
      'get',
      'service',
      'istio-eastwestgateway',
      '-o',
      'json',
    ]);
    const early = a.interpret!(ok(fx('eastwest-svc-nodeport.json')), ctx);
    t.true(early.ok);
    t.regex(early.lines.join('\n'), /no istioctl output in .* yet/);
    for (const f of ['cluster.env', 'mesh.yaml', 'root-cert.pem', 'hosts-empty'])
      fs.writeFileSync(path.join(dir, f.replace('-empty', '')), fx(f));
    const it = a.interpret!(ok(fx('eastwest-svc-nodeport.json')), ctx);
    t.true(it.ok);
    t.is(it.lines[0], 'istio-eastwestgateway: type LoadBalancer, no LoadBalancer address, nodePort 31885 for 15012');
    t.true(
      it.lines.includes(
        'hosts: using "10.253.17.28 istiod.istio-system.svc" (the node IP (no LoadBalancer: NodePort))',
      ),
    );
    Object.assign(ctx.facts, it.facts);
    const files = ivFacts(ctx.facts).vmFiles!;
    t.is(files.source, 'istioctl');
    t.is(ivFacts(ctx.facts).node!.ip, '10.253.17.28'); // earlier facts are kept
    t.is(ivFacts(ctx.facts).workDir, dir);
    t.false(
      a.interpret!(ok('', 1, 'Error from server (NotFound): services "istio-eastwestgateway" not found'), ctx).ok,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- steps from facts ----------------------------------------------------------------------

test('02/03: nothing changes when Istio already runs with the values; patch mode patches', (t) => {
  const ctx = clusterCtx();
  const it = clusterAction('02', ctx).interpret!(ok(fx('sidecar-injector-cm.json')), ctx);
  t.deepEqual(it.lines, [
    'Istio runs with meshID="mesh1", clusterName="cluster1", network="network1"',
    'wanted: meshID="mesh1", clusterName="cluster1", network="network1"',
  ]);
  Object.assign(ctx.facts, it.facts);
  t.regex(clusterAction('03', ctx).skip!, /already runs with/);
  const other = clusterCtx({ env: { ...ENV, CLUSTER_NAME: 'cluster2' }, facts: ctx.facts });
  const a = clusterAction('03', other);
  t.deepEqual(a.apply![0].argv, ['istioctl', 'install', '-y', '-f', '-']);
  t.regex(a.consent!, /re-installs the running Istio/);
  t.regex(a.apply![0].stdin!, /clusterName: "cluster2"/);
  const fresh = clusterCtx();
  const none = clusterAction('02', fresh).interpret!(
    ok('', 1, 'Error from server (NotFound): configmaps "istio-sidecar-injector" not found'),
    fresh,
  );
  t.true(none.ok);
  Object.assign(fresh.facts, none.facts);
  t.is(clusterAction('03', fresh).consent, undefined);
  const patch = clusterCtx({ env: { ...ENV, ISTIO_CONFIG_MODE: 'patch' } });
  t.deepEqual(clusterAction('02', patch).probe!.argv, [
    'kubectl',
    '-n',
    'istio-system',
    'get',
    'istiooperators.install.istio.io',
    'istio',
    '-o',
    'json',
  ]);
  t.regex(
    clusterAction('02', patch).interpret!(ok('', 1, 'NotFound'), patch).lines[0],
    /set ISTIO_CONFIG_MODE=install/,
  );
  t.deepEqual(clusterAction('03', patch).apply![0].argv, [
    'kubectl',
    '-n',
    'istio-system',
    'patch',
    'istiooperators.install.istio.io',
    'istio',
    '--type',
    'merge',
    '--patch-file',
    '/dev/stdin',
  ]);
  t.false(clusterAction('02', ctx).interpret!(ok('', 1, 'Unable to connect to the server'), ctx).ok);
});

test('04/05: the generator runs alone, its output goes to istioctl on stdin', (t) => {
  const ctx = clusterCtx();
  const gen = clusterAction('04', ctx);
  t.deepEqual(gen.probe!.argv, [
    'env',
    'SINGLE_CLUSTER=1',
    'bash',
    '/opt/istio-1.22.3/samples/multicluster/gen-eastwest-gateway.sh',
    '--single-cluster',
  ]);
  const it = gen.interpret!(ok(fx('eastwest-iop.yaml')), ctx);
  t.true(it.ok);
  Object.assign(ctx.facts, it.facts);
  const inst = clusterAction('05', ctx);
  t.deepEqual(inst.apply![0].argv, ['istioctl', 'install', '-y', '-f', '-']);
  t.is(inst.apply![0].stdin, fx('eastwest-iop.yaml'));
  t.deepEqual(inst.check!.changeCodes, [1]);
  t.false(
    gen.interpret!(
      ok('', 1, 'bash: /opt/istio-1.22.3/samples/multicluster/gen-eastwest-gateway.sh: No such file or directory'),
      ctx,
    ).ok,
  );
});

test('13: an unreachable node fails, in the lab too; a lab without a node or port says "not in lab"', (t) => {
  const out = ok(
    'path: 192.168.0.100 dev eth0 src 192.168.0.250\nnot ' +
      'reachable: tcp 192.168.0.100:6443 does not answer within 2 s\n',
  );
  const real = vmAction('13', hostCtx()).interpret!(out, hostCtx());
  t.false(real.ok);
  t.regex(real.lines.at(-1)!, /^error: node 10\.253\.17\.27 is not reachable/);
  for (const more of [{ LAB_CLUSTER: '1' }, { REACH_PORT: '6443' }] as Array<Record<string, string>>) {
    const lab = hostCtx({ lab: true, env: { ...ENV, NODE_IP: '192.168.0.100', ...more } });
    const inLab = vmAction('13', lab);
    t.is(inLab.notInLab, undefined);
    t.false(inLab.interpret!(out, lab).ok, JSON.stringify(more));
  }
  const bare = hostCtx({ lab: true, env: { ...ENV, NODE_IP: '192.168.0.100', REACH_PORT: '' } });
  t.deepEqual(vmAction('13', bare), {
    notInLab:
      'the lab was built without its cluster (lab up --no-cluster): no node answers at 192.168.0.100; ' +
      'set REACH_PORT to a port something in the lab serves there to check the path anyway',
  });
  t.true(vmAction('13', hostCtx()).interpret!(ok('reachable: tcp 10.253.17.27:31885 answers\n'), hostCtx()).ok);
  // the istiod NodePort, when known, is the port tried
  const withPort = hostCtx({ cluster: { 'istio-vm': { istiod: { nodePort: 31885 } } } });
  t.regex((vmAction('13', withPort).probe as Script).display, /port=31885/);
});

test('14: the token is sent inside the script, masked wherever it is shown', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ivm-work-'));
  try {
    const token = jwt(1_900_000_000);
    fs.writeFileSync(path.join(dir, 'istio-token'), token);
    const files: VmFiles = {
      clusterEnv: fx('cluster.env'),
      meshYaml: fx('mesh.yaml'),
      rootCert: fx('root-cert.pem'),
      hostsLine: '10.253.17.27 istiod.istio-system.svc',
      istiodHost: 'istiod.istio-system.svc',
      source: 'istioctl',
    };
    const a = vmAction('14', hostCtx({ cluster: { 'istio-vm': { vmFiles: files, workDir: dir } } }));
    const apply = a.apply as Script;
    t.true(apply.text.includes(token));
    t.false(apply.display.includes(token));
    t.regex(
      apply.display,
      /printf '%s' \$'\*\*\*istio-token\*\*\*' \| write_file \/var\/run\/secrets\/tokens\/istio-token 0600/,
    );
    t.false((a.check as Script).display.includes(token));
    t.false((a.check as Script).text.includes(token)); // the check carries only a digest
    t.true((a.check as Script).text.includes(crypto.createHash('sha256').update(token).digest('hex')));
    for (const f of Object.values(VM_FILES)) t.true(apply.text.includes(f.dest), f.dest);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('14/16 without the generated files: the plan shows placeholders, a run refuses', (t) => {
  for (const id of ['14', '16']) {
    const a = vmAction(id, hostCtx());
    t.regex((a.check as Script).text, /must run first/);
    t.notRegex((a.check as Script).display, /must run first/);
    t.regex((a.apply as Script).text, /^echo .*must run first.* >&2; exit 1$/);
  }
  t.regex((vmAction('14', hostCtx()).apply as Script).display, /<root-cert\.pem from istioctl \(09\), at run time>/);
});

test('lab stand-ins: the REFERENCE keys, marked, the lab node in the hosts line', (t) => {
  const env = { ...ENV, NODE_IP: '192.168.0.100', LAB_ISTIO_TOKEN: 'lab-token-0123456789abcdef' };
  const f = labVmFiles(env);
  const keys = parseClusterEnv(f.clusterEnv);
  for (const k of [
    'ISTIO_NAMESPACE',
    'ISTIO_SERVICE',
    'SERVICE_ACCOUNT',
    'ISTIO_SERVICE_CIDR',
    'ISTIO_INBOUND_PORTS',
    'ISTIO_LOCAL_EXCLUDE_PORTS',
    'ISTIO_META_CLUSTER_ID',
    'ISTIO_META_NETWORK',
    'ISTIO_META_AUTO_REGISTER_GROUP',
    'CA_ADDR',
  ])
    t.true(k in keys, k);
  t.like(keys, {
    ISTIO_SERVICE: 'hello-service.vm',
    ISTIO_SERVICE_CIDR: '*',
    ISTIO_LOCAL_EXCLUDE_PORTS: '22,15090,15021,15020',
    ISTIO_META_CLUSTER_ID: 'cluster1',
  });
  t.deepEqual(meshDiscovery(f.meshYaml), { host: 'istiod.istio-system.svc', port: 15012 });
  for (const text of [f.clusterEnv, f.meshYaml, f.rootCert]) t.true(text.includes(STAND_IN_MARK));
  t.regex(f.rootCert, /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
  t.is(f.hostsLine, '192.168.0.100 istiod.istio-system.svc');
  const a = vmAction('14', hostCtx({ lab: true, env }));
  t.regex((a.check as Script).display, /lab stand-ins: these files were made by meshbook for the lab, NOT by istioctl/);
  t.false((a.apply as Script).display.includes(env.LAB_ISTIO_TOKEN));
  t.regex(
    vmAction('14', hostCtx({ lab: true, env: { ...env, LAB_ISTIO_TOKEN: '' } })).skip!,
    /run `meshbook lab up` again/,
  );
});

test('19/20: logs and WorkloadEntries are judged with cause and fix', (t) => {
  const ctx = hostCtx();
  const logs = vmAction('19', ctx);
  const good = logs.interpret!(ok(`--- istio.log\n${fx('istio-good.log.txt')}--- istio.err.log\n`), ctx);
  t.true(good.ok);
  t.regex(good.lines[0], /^connected: .*SDS: PUSH/);
  t.regex(good.lines.join('\n'), /warning: .*healthcheck failure threshold hit[\s\S]*fix: start the app/);
  const bad = logs.interpret!(ok(`--- istio.log\n--- istio.err.log\n${fx('istio-failures.log.txt')}`), ctx);
  t.false(bad.ok);
  t.regex(
    bad.lines.join('\n'),
    /known failure: .*15012: connect: connection refused[\s\S]*cause: the VM reaches no istiod/,
  );
  t.false(logs.interpret!(ok('no /var/log/istio/istio.log on this VM (istio has not run here)\n'), ctx).ok);
  const labCtx = hostCtx({ lab: true });
  t.true(
    vmAction('19', labCtx).interpret!(ok('no /var/log/istio/istio.log on this VM (istio has not run here)\n'), labCtx)
      .ok,
  );
  const cctx = clusterCtx();
  const we = clusterAction('20', cctx);
  t.deepEqual(we.probe!.argv, ['kubectl', '-n', 'vm', 'get', 'workloadentries.networking.istio.io', '-o', 'json']);
  const r = we.interpret!(ok(fx('workloadentries.json')), cctx);
  t.false(r.ok);
  t.is(
    r.lines[0],
    'vm1 10.253.17.29: WorkloadEntry vm/hello-service-10.253.17.29 (auto-registered), NOT healthy (probe failing)',
  );
  t.regex(r.lines[1], /^error: no WorkloadEntry with address 10\.253\.17\.30 \(vm2\): .*fix: apply the WorkloadGroup/);
});

// ---- inputs and the plan ------------------------------------------------------------------

function problems(over: Record<string, string>): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ivm-val-'));
  try {
    const base = fs
      .readFileSync(EXAMPLE, 'utf8')
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${path.resolve('envs/istio-vm-inventory.example.yaml')}`);
    const lines = Object.entries(over).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    fs.writeFileSync(path.join(dir, 'x.env'), `${base}\n${lines.join('\n')}\n`);
    loadInputs(path.join(dir, 'x.env'), [rb]);
    return [];
  } catch (e) {
    if (e instanceof InputError) return e.problems;
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('inputs: one line per problem, naming the variable', (t) => {
  t.deepEqual(problems({}), []);
  t.deepEqual(problems({ VM_ROUTES: '10.233.0.0/18,10.233.64.0/18' }), []);
  t.deepEqual(problems({ VM_ROUTES: '10.233.0.1/16' }), [
    'VM_ROUTES: "10.233.0.1/16" has host bits set; write 10.233.0.0/16',
  ]);
  t.regex(problems({ VM_ROUTES: '10.233.0.0/16,' })[0], /^VM_ROUTES: .* has an empty entry/);
  t.regex(problems({ ISTIO_VERSION: 'v1.22' })[0], /^ISTIO_VERSION: "v1\.22" is not an Istio release version/);
  t.regex(problems({ ISTIO_DIR: 'istio-1.22.3' })[0], /^ISTIO_DIR: .* is not an absolute path/);
  t.regex(problems({ ISTIO_CONFIG_MODE: 'operator' })[0], /^ISTIO_CONFIG_MODE: .* neither install nor patch/);
  t.regex(problems({ NODE_IP: '10.253.17.300' })[0], /^NODE_IP: "10\.253\.17\.300" is not an IPv4 address/);
  t.regex(problems({ VM_NAMESPACE: 'VM;x' })[0], /^VM_NAMESPACE: .* is not a DNS-1123 label/);
  t.regex(problems({ PROBE_PATH: 'ready' })[0], /^PROBE_PATH: .* is not an HTTP path/);
  t.regex(problems({ TOKEN_DURATION: '60' })[0], /^TOKEN_DURATION: .* from 600/);
  t.deepEqual(problems({ LAB_ISTIO_TOKEN: 'short-canary' }), [
    'LAB_ISTIO_TOKEN: is not a token of at least 16 letters, digits, ' +
      '".", "_" or "-"; run `meshbook lab up` again to rewrite the lab env',
  ]);
  t.regex(problems({ MESH_ID: '' })[0], /^MESH_ID: missing/);
});

test('plan: .rpm on the RedHat family, .deb on the Debian family; ASCII dashes; valid sh', (t) => {
  const steps = plan([rb], loaded, { labRules: LAB_RULES });
  const pkg = steps.find((s) => s.id === 'istio-vm/15-sidecar-package')!;
  const change = (h: string) =>
    pkg.hosts.find((x) => x.host === h)!.branches.map((b) => b.scripts.find((s) => s.role === 'change')!.script);
  t.regex(
    change('vm1')[0],
    /releases\/1\.22\.3\/rpm\/istio-sidecar\.rpm[\s\S]*rpm\.sha256[\s\S]*yum install -y "\$tmp\/"istio-sidecar\.rpm/,
  );
  t.regex(change('vm2')[0], /yum install -y/);
  t.regex(
    change('vm3')[0],
    /releases\/1\.22\.3\/deb\/istio-sidecar\.deb[\s\S]*apt-get install -y --allow-downgrades "\$tmp\/"istio-sidecar\.deb/,
  );
  const text = planText(steps, loaded);
  t.notRegex(text, /[\u2010-\u2015]/);
  t.regex(text, /ip route replace "\$c" via "\$node"/);
  t.regex(text, /node=10\.253\.17\.27/);
  t.regex(text, /'\*\*\*istio-token\*\*\*'/);
  t.regex(
    planSh(steps, loaded),
    /# stdin: manifests\/istio-vm\/workloadgroup-probe\.yaml \(rendered\)\nkubectl apply -n vm -f - <<'MESHBOOK_STDIN'\n[\s\S]*?kind: WorkloadGroup/,
  );
});

test('14/16 at run time before istioctl wrote anything (a first --dry-run): skipped with the reason', (t) => {
  const ctx = hostCtx({ cluster: { 'istio-vm': { workDir: '/x/work' } } });
  for (const id of ['14', '16'])
    t.regex(vmAction(id, ctx).skip!, /no istioctl output in \/x\/work yet: 09-workload-files generates it/);
});

test("05 without 04's output: a placeholder in the plan, a skip at run time", (t) => {
  const plan5 = clusterAction('05', clusterCtx());
  t.regex(plan5.apply![0].stdin!, /^# \(plan\) the IstioOperator gen-eastwest-gateway\.sh/);
  const run = clusterCtx();
  run.facts['istio-vm'] = { meshValues: null };
  t.regex(clusterAction('05', run).skip!, /produced no IstioOperator/);
});

test(
  'in the lab the istiod-side steps say "not in lab" ' + 'themselves, even with a lab cluster that takes kubectl',
  (t) => {
    const lab = clusterCtx({ lab: true });
    for (const id of ['04', '05', '06', '09', '11', '20']) {
      const a = clusterAction(id, lab);
      t.truthy(a.notInLab, id);
      t.falsy(a.probe ?? a.check ?? a.apply, id);
    }
    t.regex(clusterAction('09', lab).notInLab!, /meshbook lab stand-in/);
    // the Kubernetes-only steps stay real: a lab cluster can take them
    for (const id of ['07', '08']) t.truthy(clusterAction(id, lab).apply, id);
  },
);

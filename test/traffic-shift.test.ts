// traffic-shift without a cluster or VMs: inputs (WEIGHTS table), every manifest rendered from
// the example env validates and broken ones are rejected naming the field, the inventory
// checks, both registration modes, the reachability matrix, the ingress check, the hosts
// line's IP source, and the verifier step's verdict (against the loopback split server).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { loadInputs, checkInputs, withDefaults, type Loaded } from '../scripts/engine/inputs.ts';
import { render, renderText, ManifestError } from '../scripts/engine/manifests.ts';
import { plan, planText } from '../scripts/engine/plan.ts';
import { runLocal } from '../scripts/engine/local.ts';
import { PRELUDE } from '../scripts/engine/sh.ts';
import type { ClusterAction, ClusterCtx, HostCtx, LocalCmd, Step, VmAction } from '../scripts/engine/types.ts';
import type { Vm } from '../scripts/engine/inventory.ts';
import rb, { INPUTS } from '../scripts/traffic-shift/index.ts';
import { parseWeights, hello3Ip, HELLO3_IP_PLACEHOLDER } from '../scripts/traffic-shift/common.ts';
import { renderMatrix, parseCurlLoop } from '../scripts/traffic-shift/matrix.ts';
import { targets, SOURCE } from '../scripts/traffic-shift/12-pod-vm-checks.ts';
import { interpretIngress } from '../scripts/traffic-shift/13-ingress-port.ts';
import { interpretHello3 } from '../scripts/traffic-shift/11-vm-to-hello3.ts';
import { interpretVerdict, verifyArgv, HELLO2_CLASSIFY } from '../scripts/traffic-shift/14-verify-traffic.ts';
import { spawnSplitServer } from './fixtures/verify/split-server.ts';
import type { Untyped } from '../scripts/engine/untyped.ts';

const EXAMPLE = 'envs/traffic-shift.env.example';
const fixture = (f: string) => fs.readFileSync(new URL(`./fixtures/traffic-shift/${f}`, import.meta.url), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ts-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const step = (id: string): Step => rb.steps.find((s) => s.id.startsWith(id))!;
const cctx = (loaded: Loaded, facts: Record<string, unknown> = {}): ClusterCtx => ({
  env: loaded.env,
  facts,
  lab: false,
  vms: loaded.inventory.vms,
  workDir: tmp,
  envFile: loaded.envFile,
});
const hctx = (loaded: Loaded, vm: Vm, cluster: Record<string, unknown> = {}): HostCtx => ({
  vm,
  env: loaded.env,
  facts: {},
  cluster,
  lab: false,
  distro: undefined,
});
const cluster = (id: string, loaded: Loaded, facts?: Record<string, unknown>): ClusterAction =>
  step(id).cluster!(cctx(loaded, facts));
const vmAction = (id: string, loaded: Loaded, vm: Vm, facts?: Record<string, unknown>): VmAction =>
  step(id).vm!(hctx(loaded, vm, facts));

/** The example env with some values replaced (and a copied inventory, optionally edited). */
function variant(env: Record<string, string | undefined>, inventory?: (text: string) => string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'v-'));
  let text = fs.readFileSync(EXAMPLE, 'utf8');
  for (const [k, v] of Object.entries(env)) {
    text = text.replace(new RegExp(`^#? ?${k}=.*\\n`, 'm'), '');
    if (v !== undefined) text += `${k}=${v}\n`;
  }
  fs.writeFileSync(path.join(dir, 'ts.env'), text);
  const inv = fs.readFileSync('envs/traffic-shift-inventory.example.yaml', 'utf8');
  fs.writeFileSync(path.join(dir, 'traffic-shift-inventory.example.yaml'), inventory ? inventory(inv) : inv);
  return path.join(dir, 'ts.env');
}

// ---- inputs -------------------------------------------------------------------------------

const WEIGHT_CASES: Array<[string, RegExp | Record<string, number>]> = [
  ['v1=30,v2=60,v3=10', { v1: 30, v2: 60, v3: 10 }],
  [' v1 = 30 , v2=60 ,v3=10 ', { v1: 30, v2: 60, v3: 10 }],
  ['v2=100', { v1: 0, v2: 100, v3: 0 }],
  ['v3=10,v1=90', { v1: 90, v2: 0, v3: 10 }],
  ['v1=0,v2=0,v3=100', { v1: 0, v2: 0, v3: 100 }],
  ['v1=30.5,v2=59.5,v3=10', /weight "30\.5" for v1 is not a whole number from 0 to 100/],
  ['v1=30,v2=60,v3=11', /sums to 101, not 100; make the weights add up to exactly 100/],
  ['v1=30,v2=60', /sums to 90, not 100/],
  ['v1=-10,v2=100,v3=10', /weight "-10" for v1 is not a whole number/],
  ['v1=101,v2=0,v3=0', /weight "101" for v1 is not a whole number from 0 to 100/],
  ['v1=1e2', /weight "1e2" for v1 is not a whole number/],
  ['v1=0x1E,v2=60,v3=10', /weight "0x1E" for v1 is not a whole number/],
  ['v1=thirty,v2=60,v3=10', /weight "thirty" for v1/],
  ['v4=30,v2=60,v3=10', /subset "v4" is not one of v1, v2, v3/],
  ['V1=30,v2=60,v3=10', /subset "V1" is not one of/],
  ['v1=30,v1=60,v3=10', /subset v1 is given twice/],
  ['v1=30,,v2=70', /has an empty entry/],
  ['v1:30,v2=70', /"v1:30" is not subset=weight/],
  ['', /has an empty entry/],
  ['v1=30;v2=70', /weight "30;v2=70" for v1 is not a whole number/],
];

for (const [raw, want] of WEIGHT_CASES) {
  test(`WEIGHTS ${JSON.stringify(raw)}`, (t) => {
    const r = parseWeights(raw);
    if (want instanceof RegExp) {
      t.true('problem' in r);
      if ('problem' in r) t.regex(r.problem, want);
    } else t.deepEqual(r, { weights: want });
  });
}

test('input checks: one line per problem, naming the variable', (t) => {
  const env = withDefaults(INPUTS, {
    WEIGHTS: 'v1=30.5,v2=59.5,v3=10',
    INGRESS_HOST: 'ingress;rm -rf /',
    HELLO_NS: 'Hello_NS',
    INGRESS_PORT: '80000',
    VERIFY_PATH: 'hello eric',
    IMAGE_TAG: ':latest',
    VM_REGISTRATION: 'asm',
    HELLO3_IP: '10.0.0.1',
    SERVICE_CIDR: '172.19.0.0/20',
  });
  const problems = checkInputs(INPUTS, env);
  const by = (name: string) => problems.find((p) => p.startsWith(`${name}: `));
  t.regex(
    by('WEIGHTS')!,
    /^WEIGHTS: "v1=30\.5,v2=59\.5,v3=10": weight "30\.5" for v1 is not a whole number from 0 to 100$/,
  );
  t.regex(by('INGRESS_HOST')!, /is not a hostname or IPv4 address/);
  t.regex(by('HELLO_NS')!, /is not a DNS-1123 label/);
  t.regex(by('INGRESS_PORT')!, /is not a TCP port/);
  t.regex(by('VERIFY_PATH')!, /is not a path/);
  t.regex(by('IMAGE_TAG')!, /is not an image tag/);
  t.regex(by('VM_REGISTRATION')!, /is asm but MESH_ID is not set/);
  t.regex(by('HELLO3_IP')!, /is outside SERVICE_CIDR 172\.19\.0\.0\/20/);
  t.is(problems.length, 8);
  const loadBad = () => loadInputs(variant({ WEIGHTS: 'v1=30,v2=60,v3=11' }), [rb]);
  t.throws(loadBad, { message: /^WEIGHTS: "v1=30,v2=60,v3=11" sums to 101/m });
});

test('defaults: HELLO_NS, INGRESS_PORT, VERIFY_PATH, IMAGE_TAG; registration istio without MESH_ID', (t) => {
  const loaded = loadInputs(
    variant({
      HELLO_NS: undefined,
      INGRESS_PORT: undefined,
      VERIFY_PATH: undefined,
      IMAGE_TAG: undefined,
      VM_REGISTRATION: undefined,
    }),
    [rb],
  );
  t.like(loaded.env, {
    HELLO_NS: 'http-reciprocal-hello',
    INGRESS_PORT: '8004',
    VERIFY_PATH: '/hello/eric',
    IMAGE_TAG: '1.0.1',
  });
  const reg = cluster('06', loaded);
  t.regex(reg.apply![0].stdin!, /kind: ServiceEntry/);
});

// ---- manifests ----------------------------------------------------------------------------

test('every manifest rendered from the example env validates (both registration modes)', (t) => {
  for (const env of [EXAMPLE, variant({ VM_REGISTRATION: 'asm', MESH_ID: 'c0a1b2c3' })]) {
    const loaded = loadInputs(env, [rb]);
    for (const s of rb.steps.filter((x) => x.target === 'cluster')) {
      const a = s.cluster!(cctx(loaded, { hello3Ip: '172.19.3.17' }));
      t.falsy(a.skip, s.id);
      for (const c of [a.check, ...(a.apply ?? []), a.verify].filter(Boolean) as LocalCmd[]) {
        if (c.stdin === undefined) continue;
        const r = renderText(c.stdinLabel ?? s.id, c.stdin, {}); // the applied YAML, validated again as is
        t.true(r.objects.length > 0);
        for (const o of r.objects)
          t.is(
            o.kind === 'Namespace' ? o.metadata.name : o.metadata.namespace,
            'http-reciprocal-hello',
            `${o.kind} ${o.metadata.name}`,
          );
      }
    }
  }
  const files = fs.readdirSync('manifests/traffic-shift');
  t.deepEqual(files.sort(), [
    'hello1-hello3.yaml',
    'hello2-registration.yaml',
    'hello2-workloadentry.yaml',
    'namespace.yaml',
    'routing.yaml',
  ]);
});

test('the rendered objects are what the article describes', (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const objs = (id: string, i = 0) => renderText('x', cluster(id, loaded).apply![i].stdin!, {}).objects;
  const [ns] = objs('02');
  t.deepEqual(ns.metadata.labels, { 'istio-injection': 'enabled' });
  const [hello1, hello1Svc, , hello3Svc] = objs('03');
  t.is(hello1.spec.template.spec.containers[0].name, 'hello-v1-deploy');
  t.is(
    hello1.spec.template.spec.containers[0].image,
    'registry.cn-beijing.aliyuncs.com/asm_repo/http_springboot_v1:1.0.1',
  );
  t.deepEqual(hello1.spec.template.spec.containers[0].env, [
    { name: 'HTTP_HELLO_BACKEND', value: 'hello2-svc.http-reciprocal-hello.svc.cluster.local' },
  ]);
  t.like(hello1Svc.spec.ports[0], { port: 8004, targetPort: 8001 });
  t.like(hello3Svc.spec.ports[0], { port: 8001 });
  const [se, svc] = objs('06');
  t.like(se.spec, {
    hosts: ['hello2-svc.http-reciprocal-hello.svc.cluster.local'],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    workloadSelector: { labels: { app: 'hello-workload' } },
  });
  t.deepEqual(se.spec.ports, [{ name: 'http-8001', number: 8001, protocol: 'HTTP' }]);
  t.is(svc.spec.selector, undefined);
  const wes = objs('08');
  t.deepEqual(
    wes.map((w) => [w.metadata.name, w.spec.address, w.spec.labels.version]),
    [
      ['mesh-expansion-hello2-svc-1', '192.168.0.170', 'v1'],
      ['mesh-expansion-hello2-svc-2', '192.168.0.171', 'v2'],
      ['mesh-expansion-hello2-svc-3', '192.168.0.172', 'v3'],
    ],
  );
  for (const w of wes) t.is(w.spec.labels.app, 'hello-workload');
  const [gw, gvs, dr, vs] = objs('07');
  t.like(gw.spec, { selector: { istio: 'ingressgateway' } });
  t.like(gw.spec.servers[0], { port: { number: 8004, protocol: 'HTTP' }, hosts: ['*'] });
  t.is(gvs.spec.http[0].route[0].destination.host, 'hello1-svc');
  t.deepEqual(
    dr.spec.subsets.map((s: Untyped) => [s.name, s.labels.version]),
    [
      ['v1', 'v1'],
      ['v2', 'v2'],
      ['v3', 'v3'],
    ],
  );
  t.deepEqual(vs.spec.http[0].match, [{ uri: { prefix: '/hello' } }]);
  t.deepEqual(
    vs.spec.http[0].route.map((r: Untyped) => [r.destination.subset, r.weight]),
    [
      ['v1', 30],
      ['v2', 60],
      ['v3', 10],
    ],
  );
  // other weights reach the VirtualService as numbers; a left-out subset gets 0
  const l2 = loadInputs(variant({ WEIGHTS: 'v2=75,v1=25' }), [rb]);
  const vs2 = renderText('x', step('07').cluster!(cctx(l2)).apply![0].stdin!, {}).objects[3];
  t.deepEqual(
    vs2.spec.http[0].route.map((r: Untyped) => r.weight),
    [25, 75, 0],
  );
});

test('broken manifests are rejected naming the field', (t) => {
  const routing = fs.readFileSync('manifests/traffic-shift/routing.yaml', 'utf8');
  const vars = { HELLO_NS: 'http-reciprocal-hello', WEIGHT_V1: 30, WEIGHT_V2: 60, WEIGHT_V3: 10 };
  t.throws(() => renderText('manifests/traffic-shift/routing.yaml', routing, { ...vars, WEIGHT_V1: 'x' }), {
    instanceOf: ManifestError,
    message: /routing\.yaml: VirtualService hello2-vs: spec\.http\[0\]\.route\[0\]\.weight: must be integer/,
  });
  t.throws(() => renderText('r.yaml', routing.replace('weight: ${WEIGHT_V2}', 'weight: "60"'), vars), {
    message: /spec\.http\[0\]\.route\[1\]\.weight: must be integer/,
  });
  t.throws(() => renderText('r.yaml', routing, { ...vars, HELLO_NS: undefined }), {
    message: /\$\{HELLO_NS\} not set/,
  });
  // a mis-indented key (version one level too far out) is an unknown field
  const we = fs.readFileSync('manifests/traffic-shift/hello2-workloadentry.yaml', 'utf8');
  const weVars = { HELLO_NS: 'n', WE_NAME: 'mesh-expansion-hello2-svc-1', VM_IP: '192.168.0.170', VERSION: 'v1' };
  t.throws(() => renderText('we.yaml', we.replace('    version: "${VERSION}"', '  version: "${VERSION}"'), weVars), {
    message: /WorkloadEntry mesh-expansion-hello2-svc-1: spec\.version: unknown field/,
  });
  const reg = fs.readFileSync('manifests/traffic-shift/hello2-registration.yaml', 'utf8');
  t.throws(() => renderText('reg.yaml', reg.replace('resolution: STATIC', 'resolution: STATICS'), { HELLO_NS: 'n' }), {
    message: /ServiceEntry mesh-expansion-hello2-svc: spec\.resolution/,
  });
  t.throws(() => renderText('reg.yaml', reg.replace('number: 8001', 'number: eighty'), { HELLO_NS: 'n' }), {
    message: /spec\.ports\[0\]\.number/,
  });
  // a value cannot add structure: a hostile namespace stays one string (and fails validation elsewhere)
  const r = render('traffic-shift/namespace.yaml', { HELLO_NS: 'kind: Secret' });
  t.is(r.objects[0].kind, 'Namespace');
  t.is(r.objects[0].metadata.name, 'kind: Secret');
});

// ---- inventory ----------------------------------------------------------------------------

test('a VM without a valid version label: preflight fails it, nothing is changed anywhere', (t) => {
  const env = variant({}, (inv) =>
    inv
      .replace('labels: { version: v2 }', 'labels: { tier: web }')
      .replace('labels: { version: v3 }', 'labels: { version: v7 }'),
  );
  const loaded = loadInputs(env, [rb]);
  const [vm1, vm2, vm3] = loaded.inventory.vms;
  const pre = vmAction('01', loaded, vm2);
  const out = { code: 0, stdout: 'uid=0\nhostname=vm2\nnode=v20.1.0\ndocker=yes\n', stderr: '' };
  t.deepEqual(pre.interpret!(out, hctx(loaded, vm2)).lines.slice(-1), [
    'error: inventory VM vm2 has no labels.version; add labels: { ' +
      'version: v1 } (v1, v2 or v3: the hello2 version this VM runs)',
  ]);
  t.regex(
    pre.interpret!(out, hctx(loaded, vm3)).lines.at(-1)!,
    /inventory VM vm3 has labels.version "v7"; use v1, v2 or v3/,
  );
  t.true(pre.interpret!(out, hctx(loaded, vm1)).ok);
  // the VM steps and the cluster steps that need versions fail with the same line, changing nothing
  const h2 = vmAction('05', loaded, vm2);
  t.is(h2.apply, undefined);
  t.false(h2.interpret!({ code: 1, stdout: '', stderr: '' }, hctx(loaded, vm2)).ok);
  for (const id of ['06', '08', '12']) {
    const a = cluster(id, loaded);
    t.is(a.apply, undefined, id);
    t.regex(
      a.interpret!({ code: 0, stdout: '', stderr: '' }, cctx(loaded)).lines[0],
      /^error: inventory VM vm2 has no labels\.version/,
    );
  }
  // runtime: process needs node 18+; docker runtime needs docker (outside the lab)
  t.regex(
    pre.interpret!(
      { ...out, stdout: 'uid=0\nhostname=vm3\nnode=none\ndocker=no\n' },
      hctx(loaded, { ...vm1, runtime: 'process' }),
    ).lines.at(-1)!,
    /node is not installed on vm1/,
  );
  t.regex(
    pre.interpret!(
      { ...out, stdout: 'uid=0\nhostname=vm3\nnode=v16.20.0\ndocker=no\n' },
      hctx(loaded, { ...vm1, runtime: 'process' }),
    ).lines.at(-1)!,
    /node v16\.20\.0 on vm1 is older than 18/,
  );
  t.regex(
    pre.interpret!({ ...out, stdout: 'uid=0\nhostname=vm1\nnode=none\ndocker=no\n' }, hctx(loaded, vm1)).lines.at(-1)!,
    /docker is not installed on vm1/,
  );
  t.regex(
    pre.interpret!({ ...out, stdout: 'uid=1000\nhostname=vm1\nnode=none\ndocker=no\n' }, hctx(loaded, vm1)).lines.at(
      -1,
    )!,
    /not root/,
  );
});

test('a weight for a version no VM runs is refused before routing is applied', (t) => {
  const loaded = loadInputs(
    variant({}, (inv) => inv.replace('labels: { version: v3 }', 'labels: { version: v2 }')),
    [rb],
  );
  const a = cluster('07', loaded);
  t.is(a.apply, undefined);
  t.regex(
    a.interpret!({ code: 0, stdout: '', stderr: '' }, cctx(loaded)).lines[0],
    /WEIGHTS sends 10 % to v3, but no inventory VM has labels\.version v3/,
  );
  const ok = loadInputs(
    variant({ WEIGHTS: 'v1=40,v2=60' }, (inv) => inv.replace('labels: { version: v3 }', 'labels: { version: v2 }')),
    [rb],
  );
  t.truthy(cluster('07', ok).apply);
});

// ---- registration modes -------------------------------------------------------------------

test('ASM registration: AddVmAppToMesh as an argument array, checked by the ServiceEntry it creates', (t) => {
  const loaded = loadInputs(variant({ VM_REGISTRATION: undefined, MESH_ID: 'c0a1b2c3d4', KUBE_CONTEXT: 'ack-prod' }), [
    rb,
  ]);
  const a = cluster('06', loaded);
  t.deepEqual(a.check!.argv, [
    'kubectl',
    '--context',
    'ack-prod',
    '-n',
    'http-reciprocal-hello',
    'get',
    'serviceentry',
    'mesh-expansion-hello2-svc',
    '-o',
    'name',
  ]);
  t.deepEqual(a.check!.changeCodes, [1]);
  t.deepEqual(a.apply![0].argv, [
    'aliyun',
    'servicemesh',
    'AddVmAppToMesh',
    '--ServiceMeshId',
    'c0a1b2c3d4',
    '--Namespace',
    'http-reciprocal-hello',
    '--ServiceName',
    'hello2-svc',
    '--Ips',
    '192.168.0.170,192.168.0.171,192.168.0.172',
    '--Ports',
    'http:8001',
    '--Labels',
    'app=hello-workload',
  ]);
  t.is(a.apply![0].kind, 'mutate');
  t.deepEqual(a.verify!.argv, a.check!.argv);
  // the WorkloadEntries with versions are applied in both modes
  t.regex(cluster('08', loaded).apply![0].stdin!, /name: mesh-expansion-hello2-svc-3[\s\S]*version: "v3"/);
  const text = planText(plan([rb], loaded), loaded);
  t.regex(text, /aliyun servicemesh AddVmAppToMesh --ServiceMeshId c0a1b2c3d4/);
  t.false(/ACCESS_KEY/.test(text));
});

// ---- the hosts line -----------------------------------------------------------------------

test('hello3 DNS: the clusterIP read from the cluster wins over HELLO3_IP; unknown is refused on the VM', async (t) => {
  t.is(hello3Ip({ hello3Ip: '172.19.3.17' }, { HELLO3_IP: '172.19.0.13' }), '172.19.3.17');
  t.is(hello3Ip({}, { HELLO3_IP: '172.19.0.13' }), '172.19.0.13');
  t.is(hello3Ip({}, {}), HELLO3_IP_PLACEHOLDER);
  const loaded = loadInputs(EXAMPLE, [rb]);
  const vm = loaded.inventory.vms[0];
  const known = vmAction('10', loaded, vm, { hello3Ip: '172.19.3.17' });
  t.regex(
    known.apply!.text,
    /write_file \/etc\/hosts 0644 "\$keep"\$'172\.19\.3\.17 hello3-svc\.http-reciprocal-hello\.svc\.cluster\.local'/,
  );
  // the placeholder never reaches /etc/hosts: the script stops first (run here: it only reads)
  const unknown = vmAction('10', loaded, vm);
  for (const s of [unknown.check!, unknown.apply!]) {
    const r = await $({ input: `${PRELUDE}\n${s.text}\n`, nothrow: true, quiet: true })`bash -s`;
    t.is(r.exitCode, 1);
    t.regex(
      r.stdout,
      /^error: hello3-svc's clusterIP is unknown \(<clusterIP of hello3-svc, read by 04-hello3-ip>\); run 04-hello3-ip or set HELLO3_IP$/m,
    );
  }
  const ip = cluster('04', loaded);
  t.deepEqual(ip.interpret!({ code: 0, stdout: '172.19.3.17', stderr: '' }, cctx(loaded)), {
    ok: true,
    lines: ['hello3-svc clusterIP 172.19.3.17'],
    facts: { hello3Ip: '172.19.3.17' },
  });
  t.false(ip.interpret!({ code: 0, stdout: 'None', stderr: '' }, cctx(loaded)).ok);
  t.regex(
    ip.interpret!(
      { code: 1, stdout: '', stderr: 'Error from server (NotFound): services "hello3-svc" not found' },
      cctx(loaded),
    ).lines[0],
    /^error: hello3-svc not found in http-reciprocal-hello: Error from server \(NotFound\)/,
  );
});

// ---- the reachability matrix --------------------------------------------------------------

test('matrix: rows are sources, columns targets, each cell ok/FAILED with its first answer line', (t) => {
  const lines = renderMatrix(
    [
      {
        source: 'hello1 pod',
        target: 'vm1 192.168.0.170:8001',
        ok: true,
        detail: 'Hello eric(192.168.0.170)<-Hello eric(172.18.1.36)',
      },
      {
        source: 'hello1 pod',
        target: 'hello2-svc:8001',
        ok: false,
        detail: 'curl: (6) Could not resolve host: hello2-svc\nsecond line',
      },
      { source: 'vm2', target: 'hello3-svc:8001', ok: false, detail: '' },
    ],
    'pod <-> VM',
  );
  t.deepEqual(lines, [
    'pod <-> VM: 1 of 3 ok (rows: source, columns: target)',
    'source \\ target  vm1 192.168.0.170:8001  hello2-svc:8001  hello3-svc:8001',
    'hello1 pod       ok [1]                  FAILED [2]       -',
    'vm2              -                       -                FAILED [3]',
    '[1] hello1 pod -> vm1 192.168.0.170:8001: ok: Hello eric(192.168.0.170)<-Hello eric(172.18.1.36)',
    '[2] hello1 pod -> hello2-svc:8001: FAILED: curl: (6) Could not resolve host: hello2-svc second line',
    '[3] vm2 -> hello3-svc:8001: FAILED: (empty answer)',
  ]);
  t.deepEqual(renderMatrix([]), ['reachability: nothing was probed']);
  const long = renderMatrix([{ source: 's', target: 't', ok: true, detail: 'x'.repeat(500) }]);
  t.true(long[3].length < 200);
});

test('matrix past the width (30 VMs x 30 targets): per source its count and only the failed targets', (t) => {
  const vms = Array.from({ length: 30 }, (_v, i) => `vm${i + 1}`);
  const targets = vms.map((v, i) => `${v} 192.168.0.${10 + i}:8001`);
  const results = vms.flatMap((s) =>
    targets.map((target) => ({ source: s, target, ok: !(s === 'vm7' && target.startsWith('vm9 ')), detail: 'x' })),
  );
  const lines = renderMatrix(results, 'pod <-> VM', 120);
  t.is(lines[0], 'pod <-> VM: 899 of 900 ok (per source, the targets that failed)');
  t.is(lines.length, 1 + 30 + 1 + 1, 'one line per source, a note per failure only, and what was left out');
  t.is(lines[32], '(899 ok answers not listed)');
  t.is(lines[7], '  vm7: 29 of 30 ok; failed: vm9 192.168.0.18:8001 [189]');
  t.is(lines[8], '  vm8: 30 of 30 ok');
  t.regex(lines[31], /^\[189\] vm7 -> vm9 192\.168\.0\.18:8001: FAILED: x$/);
  t.true(lines.every((l) => l.length <= 120));
  // the same at a width the grid fits in stays a grid
  t.is(renderMatrix(results.slice(0, 2), 'pod <-> VM', 120)[1].startsWith('source \\ target'), true);
});

test("the checks from hello1: the article's answers pass; failures say what was expected", (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const ts = targets(loaded.env, loaded.inventory.vms);
  t.deepEqual(
    ts.map((x) => x.label),
    [
      'vm1 192.168.0.170:8001',
      'vm2 192.168.0.171:8001',
      'vm3 192.168.0.172:8001',
      'hello2-svc:8001',
      'hello1-svc:8004',
    ],
  );
  const good = parseCurlLoop(fixture('curl-loop-ok.txt'), SOURCE, ts);
  t.true(
    good.every((p) => p.ok),
    JSON.stringify(good),
  );
  const a = cluster('12', loaded);
  t.deepEqual(a.probe!.argv.slice(0, 11), [
    'kubectl',
    '-n',
    'http-reciprocal-hello',
    'exec',
    'deploy/hello1-deploy',
    '-c',
    'hello-v1-deploy',
    '--',
    'sh',
    '-c',
    a.probe!.argv[10],
  ]);
  t.deepEqual(a.probe!.argv.slice(11), ['meshbook-check', ...ts.map((x) => x.url)]);
  const ok = a.interpret!({ code: 0, stdout: fixture('curl-loop-ok.txt'), stderr: '' }, cctx(loaded));
  t.true(ok.ok);
  // five targets with their addresses are wider than 120 columns: one line per source
  t.is(ok.lines[0], 'pod <-> VM: 5 of 5 ok (one line per source)');
  t.is(ok.lines[1], '  hello1 pod: 5 of 5 ok');
  const bad = a.interpret!({ code: 0, stdout: fixture('curl-loop-failed.txt'), stderr: '' }, cctx(loaded));
  t.false(bad.ok);
  t.is(
    bad.lines[0],
    'error: 5 of 5 checks from hello1 pod failed (first: vm1 192.168.0.170:8001: HTTP 503: Hello ' +
      'eric(192.168.0.170)<-ERROR getaddrinfo ENOTFOUND hello3-svc.http-reciprocal-hello.svc.cluster.local)',
  );
  t.true(
    bad.lines.includes(
      '[2] hello1 pod -> vm2 192.168.0.171:8001: FAILED: curl: (7) Failed ' +
        'to connect to 192.168.0.171 port 8001 after 3 ms: Connection refused',
    ),
  );
  t.true(
    bad.lines.includes(
      '[3] hello1 pod -> vm3 192.168.0.172:8001: FAILED: Hello eric(192.168.0.172)<-Hello ' +
        'eric(172.18.1.36) (expected "Hola eric(<vm>)<-Hello eric(<hello3>)")',
    ),
  );
  t.true(bad.lines.includes('[5] hello1 pod -> hello1-svc:8004: FAILED: not probed'));
  // known symptoms get their cause and fix, once each
  t.deepEqual(
    bad.lines.filter((l) => l.startsWith('hint: ')),
    [
      'hint: the VM cannot resolve hello3-svc: its /etc/hosts lacks the ' +
        "hello3 line; fix: run 09-hello3-dns (the article's 為VM新增hello3 DNS)",
      "hint: nothing listens on the VM's port 8001; fix: run 05-hello2-on-vms",
      "hint: hello2-svc is not in the cluster's DNS; fix: register the VMs (06-register-hello2)",
    ],
  );
  // the loop itself, run here by sh against nothing: URLs are arguments, never code
  const exec = cluster('12', loaded).probe!.argv;
  t.false(exec[10].includes('192.168.0.170'));
});

test('the loop script runs under sh and marks each target (loopback hello app)', async (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const script = cluster('12', loaded).probe!.argv[10];
  const srv = await spawnSplitServer();
  try {
    const url = `http://127.0.0.1:${srv.port}/status/503`;
    const weird = 'http://127.0.0.1:1/$(touch /tmp/meshbook-ts-pwned)';
    const r = await $({ nothrow: true, quiet: true })`sh -c ${script} meshbook-check ${url} ${weird}`;
    const probes = parseCurlLoop(r.stdout, 'here', [
      { label: 'a', url, expect: /^Hello/, expectText: 'Hello' },
      { label: 'b', url: weird, expect: /x/, expectText: 'x' },
    ]);
    t.false(probes[0].ok);
    t.regex(probes[0].detail, /^HTTP 503: Hello eric/);
    t.false(probes[1].ok);
    t.regex(probes[1].detail, /^curl: \(\d+\)/);
    t.false(fs.existsSync('/tmp/meshbook-ts-pwned'));
  } finally {
    await srv.close();
  }
});

test('VM -> hello3: an answer, a refused connection, an unresolved name', (t) => {
  t.true(interpretHello3('status=HTTP/1.1 200 OK\nbody=Hello svc_testing_msg(172.18.1.36)\n', 'vm1').ok);
  const bad = interpretHello3(
    'rc=1\nerror=bash: line 1: /dev/tcp/hello3-svc.x.svc.cluster.local/8001: Name or service not known\n',
    'vm2',
  );
  t.false(bad.ok);
  t.is(
    bad.lines[3],
    '[1] vm2 -> hello3-svc:8001: FAILED: bash: line 1: ' +
      '/dev/tcp/hello3-svc.x.svc.cluster.local/8001: Name or service not known',
  );
  t.regex(bad.lines[4], /^hint: the VM cannot resolve hello3-svc/);
  t.false(interpretHello3('status=HTTP/1.1 503 Service Unavailable\nbody=Hello x(1.2.3.4)<-ERROR\n', 'vm3').ok);
});

test('ingress port: 8004 exposed (port or nodePort), or the fix', (t) => {
  const env = { INGRESS_HOST: '47.100.1.2', INGRESS_PORT: '8004' };
  t.deepEqual(interpretIngress(fixture('ingress-svc.txt'), env), {
    ok: true,
    lines: [
      'istio-ingressgateway port http-reciprocal 8004 -> 8004 (nodePort 31004)',
      'load balancer address: 47.100.1.2',
    ],
  });
  const node = interpretIngress(fixture('ingress-svc.txt'), { INGRESS_HOST: '192.168.0.100', INGRESS_PORT: '31004' });
  t.true(node.ok);
  t.true(node.lines.includes('note: INGRESS_HOST=192.168.0.100 is not the load balancer address 47.100.1.2'));
  t.false(node.lines.some((l) => l.includes('INGRESS_PORT')));
  const none = interpretIngress(fixture('ingress-svc-no-8004.txt'), env);
  t.false(none.ok);
  t.regex(none.lines[0], /^error: istio-ingressgateway exposes no port 8004 \(it has 15021, 80, 443\); add 8004/);
});

// ---- the verifier step --------------------------------------------------------------------

test("verify step: the verifier CLI with the run's env file, every subset, hello2's greeting", (t) => {
  const loaded = loadInputs(variant({ WEIGHTS: 'v1=50,v2=50' }), [rb]);
  const { argv, cwd } = verifyArgv(loaded.env, loaded.envFile);
  t.is(cwd, undefined); // tests run from the repo root
  t.deepEqual(argv, [
    'node',
    'bin/meshbook.js',
    'verify',
    'traffic',
    '--env',
    path.relative(process.cwd(), loaded.envFile),
    '--url',
    'http://192.168.0.100:8004/hello/eric',
    '--expect',
    'v1=50,v2=50,v3=0',
    '--classify',
    'v1=^[^<]*<-Hello,v2=^[^<]*<-Bonjour,v3=^[^<]*<-Hola',
    '--max-time',
    '300',
    '--extend-once',
    '--exit-with-parent',
    '--json',
  ]);
  const a = cluster('14', loaded);
  t.deepEqual(a.probe!.argv, argv);
  t.is(a.probe!.kind, 'probe');
});

test('verify step: PASS and FAIL from real verifier runs (loopback split server)', async (t) => {
  const srv = await spawnSplitServer();
  try {
    // split-server bodies are `<G[i]> eric(..)<-<G[(i+2)%3]> eric(..)`: weights 10-30-60 over i
    // give the second greeting (hello2's) Hello 30, Bonjour 60, Hola 10
    const run = async (p: string) => {
      const env = variant({ INGRESS_HOST: '127.0.0.1', INGRESS_PORT: String(srv.port), VERIFY_PATH: p });
      const loaded = loadInputs(env, [rb]);
      const cmd = cluster('14', loaded).probe!;
      // the standalone entry takes the same arguments as `meshbook verify` (and does not load the other runbooks)
      const argv = cmd.argv.map((x) => (x === 'scripts/cli.ts' ? 'scripts/verify/main.ts' : x));
      const r = await runLocal({ ...cmd, argv }, 120_000);
      return cluster('14', loaded).interpret!(r, cctx(loaded));
    };
    const pass = await run('/random/11/10-30-60');
    t.true(pass.ok, pass.lines.join('\n'));
    t.regex(
      pass.lines[0],
      /^verdict PASS: \d+ requests to http:\/\/127\.0\.0\.1:\d+\/random\/11\/10-30-60, chi-square p/,
    );
    t.regex(pass.lines[1], /^v1 +\d+ +\d+\.\d % \(expected 30\.0 %, 95 % [\d.]+-[\d.]+ %\) #+$/);
    // the first greeting would be hello1's (always Hello through the ingress); by it this split is 30/60/10,
    // but hello2's share (the second greeting) is 60/10/30: FAIL
    const fail = await run('/random/12/30-60-10');
    t.false(fail.ok);
    t.regex(fail.lines[0], /^error: traffic split FAIL: /);
  } finally {
    await srv.close();
  }
  t.regex(
    interpretVerdict('not json', 'meshbook verify traffic: --url: bad').lines[0],
    /^error: the verifier gave no verdict: meshbook verify traffic: --url: bad/,
  );
  t.regex(
    interpretVerdict(JSON.stringify({ verdict: 'ERROR', error: 'the target never answered', reasons: [] })).lines[0],
    /^error: traffic split ERROR: the target never answered/,
  );
  t.regex(HELLO2_CLASSIFY, /^v1=/);
});

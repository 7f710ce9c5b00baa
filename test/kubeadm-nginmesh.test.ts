// kubeadm-nginmesh without machines: the kubeadm config and its validator, the join
// command's path from the control plane to the workers (secret all the way), roles,
// proxy_init's rules and their checker on iptables-save text, inputs and plans.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import rb from '../scripts/kubeadm-nginmesh/index.ts';
import {
  fill,
  renderInitConfig,
  renderJoinConfig,
  validateKubeadm,
  KubeadmConfigError,
} from '../scripts/kubeadm-nginmesh/kubeadm-config.ts';
import { parseJoinCommand, JOIN_FACT, recordJoinStatus } from '../scripts/kubeadm-nginmesh/join.ts';
import { expectProxyInit, proxyInitRules, sLine } from '../scripts/kubeadm-nginmesh/proxy-init-rules.ts';
import { rolesOf } from '../scripts/kubeadm-nginmesh/common.ts';
import { saveKubeconfig } from '../scripts/kubeadm-nginmesh/05-kubeconfig.ts';
import joinToken from '../scripts/kubeadm-nginmesh/07-join-token.ts';
import joinWorkers from '../scripts/kubeadm-nginmesh/08-join-workers.ts';
import nodePort from '../scripts/kubeadm-nginmesh/11-nodeport.ts';
import { parseSave } from '../scripts/engine/iptables.ts';
import { loadInputs, InputError } from '../scripts/engine/inputs.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';
import { plan, planText, planSh } from '../scripts/engine/plan.ts';
import { redact } from '../scripts/engine/redact.ts';
import type { Vm } from '../scripts/engine/inventory.ts';
import type { HostCtx, VmAction } from '../scripts/engine/types.ts';
import { renderWith, type Script } from '../scripts/engine/sh.ts';

const fixture = (f: string) => fs.readFileSync(new URL(`./fixtures/kubeadm-nginmesh/${f}`, import.meta.url), 'utf8');
const INIT = {
  advertiseAddress: '192.168.0.250',
  kubernetesVersion: 'v1.31.2',
  podCidr: '172.18.0.0/16',
  serviceCidr: '172.19.0.0/20',
};
// the article's join line (its token is published in the article)
const ARTICLE_JOIN =
  'kubeadm join --token fffbf6.13bcb3563428cf23 10.12.5.15:6443 --discovery-token-ca-cert-hash ' +
  'sha256:27ad08b4cd9f02e522334979deaf09e3fae80507afde63acf88892c8b72f143f';
const FAKE_TOKEN = 'zq81kx.p0c4n4ry9secret7';
const FAKE_JOIN =
  `kubeadm join 192.168.0.250:6443 --token ${FAKE_TOKEN} ` +
  `--discovery-token-ca-cert-hash sha256:${'ab'.repeat(32)} \n`;

function validate(text: string, kinds = ['InitConfiguration', 'ClusterConfiguration']) {
  return validateKubeadm(
    'x.yaml',
    YAML.parseAllDocuments(text).map((d) => d.toJS()),
    kinds,
  );
}

// ---- the kubeadm config ---------------------------------------------------------------
test('the init config renders as v1beta4 with extraArgs as a {name, value} list', (t) => {
  const r = renderInitConfig(INIT);
  t.deepEqual(
    r.objects.map((o) => `${o.apiVersion} ${o.kind}`),
    ['kubeadm.k8s.io/v1beta4 InitConfiguration', 'kubeadm.k8s.io/v1beta4 ClusterConfiguration'],
  );
  const cc = r.objects[1];
  t.deepEqual(cc.networking, { podSubnet: '172.18.0.0/16', serviceSubnet: '172.19.0.0/20' });
  t.is(cc.kubernetesVersion, 'v1.31.2');
  t.true(Array.isArray(cc.apiServer.extraArgs));
  t.is(cc.apiServer.extraArgs[0].name, 'enable-admission-plugins');
  t.notRegex(cc.apiServer.extraArgs[0].value, /Initializers|PersistentVolumeLabel/);
  t.regex(cc.apiServer.extraArgs[0].value, /MutatingAdmissionWebhook/);
  t.is(r.objects[0].localAPIEndpoint.advertiseAddress, '192.168.0.250');
  t.false(r.text.includes('---\n---'));
  t.is(YAML.parseAllDocuments(r.text).length, 2);
});

test('the validator rejects extraArgs as a map (the v1beta3 shape), naming file, object and field', (t) => {
  const e = t.throws(() => validate(fixture('kubeadm-config-v1beta3-extraargs.yaml')), {
    instanceOf: KubeadmConfigError,
  });
  t.regex(
    e!.message,
    /^x\.yaml: ClusterConfiguration: apiServer\.extraArgs: is a map \(the v1beta3 shape\); kubeadm\.k8s\.io\/v1beta4 wants a list of \{name, value\}/,
  );
});

test("the validator rejects the article's v1alpha1 MasterConfiguration", (t) => {
  const e = t.throws(() => validate(fixture('kubeadm-config-article-v1alpha1.yaml')), {
    instanceOf: KubeadmConfigError,
  });
  t.regex(e!.message, /MasterConfiguration: apiVersion: "kubeadm\.k8s\.io\/v1alpha1" is not kubeadm\.k8s\.io\/v1beta4/);
});

test('the validator names each bad field', (t) => {
  const good = renderInitConfig(INIT).text;
  const cases: Array<[string, string, RegExp]> = [
    [
      'podSubnet: 172.18.0.0/16',
      'podSubnet: 172.18.0.1/16',
      /ClusterConfiguration: networking\.podSubnet: "172\.18\.0\.1\/16" has host bits set/,
    ],
    [
      'podSubnet: 172.18.0.0/16',
      'podSubnet: 172.19.0.0/16',
      /networking\.serviceSubnet: 172\.19\.0\.0\/20 overlaps podSubnet 172\.19\.0\.0\/16/,
    ],
    ['kubernetesVersion: v1.31.2', 'kubernetesVersion: v1.28.0', /kubernetesVersion: v1\.28\.0 is older than v1\.31/],
    [
      'kubernetesVersion: v1.31.2',
      'kubernetesVersion: "1.31"',
      /kubernetesVersion: "1\.31" is not a Kubernetes version/,
    ],
    [
      '  serviceSubnet: 172.19.0.0/20',
      'serviceSubnet: 172.19.0.0/20',
      /ClusterConfiguration: serviceSubnet: unknown field \(mis-indented\?/,
    ],
    [
      '    - name: enable-admission-plugins',
      '    - name: --enable-admission-plugins',
      /apiServer\.extraArgs\[0\]\.name: "--enable-admission-plugins" is not a flag name/,
    ],
    [
      '  advertiseAddress: 192.168.0.250',
      '  advertiseAddress: 192.168.0.999',
      /InitConfiguration: localAPIEndpoint\.advertiseAddress: "192\.168\.0\.999" is not an IPv4 address/,
    ],
  ];
  for (const [from, to, re] of cases) {
    t.true(good.includes(from), from);
    const e = t.throws(() => validate(good.replace(from, to)), { instanceOf: KubeadmConfigError }, to);
    t.regex(e!.message, re);
  }
  const one = t.throws(() => validate(good.split('---\n')[0]), { instanceOf: KubeadmConfigError });
  t.regex(one!.message, /holds InitConfiguration; expected exactly InitConfiguration and ClusterConfiguration/);
});

test('placeholders are filled in the parsed YAML: a value cannot add structure', (t) => {
  const r = fill('t.yaml', 'a: ${X}\nb: "${X}"\n', { X: 'x\nc: injected' });
  t.deepEqual(r.objects[0], { a: 'x\nc: injected', b: 'x\nc: injected' });
  t.throws(() => fill('t.yaml', 'a: ${MISSING}\n', {}), { message: /\$\{MISSING\} not set/ });
});

test('the join config validates and never echoes a bad token', (t) => {
  const r = renderJoinConfig({
    endpoint: '192.168.0.250:6443',
    token: FAKE_TOKEN,
    caCertHash: `sha256:${'ab'.repeat(32)}`,
  });
  t.is(r.objects[0].discovery.bootstrapToken.token, FAKE_TOKEN);
  const bad = 'tooShort.secretvalue123';
  const e = t.throws(() =>
    renderJoinConfig({ endpoint: '192.168.0.250:6443', token: bad, caCertHash: `sha256:${'ab'.repeat(32)}` }),
  );
  t.regex(e!.message, /JoinConfiguration: discovery\.bootstrapToken\.token: is not a bootstrap token/);
  t.false(e!.message.includes(bad));
});

// ---- the join command -------------------------------------------------------------------
test("the article's join line is taken apart; a malformed one fails without the token in the message", (t) => {
  const r = parseJoinCommand(ARTICLE_JOIN);
  if ('error' in r) return t.fail(r.error);
  t.is(r.endpoint, '10.12.5.15:6443');
  t.is(r.token.value, 'fffbf6.13bcb3563428cf23');
  t.is(String(r.token), '***JOIN_TOKEN***');
  t.is(
    JSON.stringify(r),
    JSON.stringify({
      endpoint: '10.12.5.15:6443',
      token: '***JOIN_TOKEN***',
      caCertHashes: [`sha256:27ad08b4cd9f02e522334979deaf09e3fae80507afde63acf88892c8b72f143f`],
    }),
  );
  const bad = parseJoinCommand('kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef');
  t.true(
    'error' in bad && /discovery-token-ca-cert-hash/.test(bad.error) && !bad.error.includes('abcdef.0123456789abcdef'),
  );
  t.true('error' in parseJoinCommand('Error: something else'));
  t.is(redact(`oops ${r.token.value}`), 'oops ***');
});

// ---- roles ------------------------------------------------------------------------------
const vm = (name: string, labels: Record<string, string> = {}): Vm => ({
  name,
  host: `10.0.0.${name.length}`,
  user: 'root',
  port: 22,
  privateIp: '10.0.0.1',
  labels,
  runtime: 'docker',
});

test('roles: the role label wins, else the first VM is the control plane', (t) => {
  const a = vm('a');
  const b = vm('bb', { role: 'control-plane' });
  const c = vm('ccc', { role: 'worker' });
  t.like(rolesOf([a, b, c]), { controlPlane: b, workers: [a, c] });
  t.like(rolesOf([a, c]), { controlPlane: a, workers: [c] });
  t.regex((rolesOf([b, vm('d', { role: 'control-plane' })]) as { problem: string }).problem, /label only one/);
  t.regex((rolesOf([c, a]) as { problem: string }).problem, /first VM \(ccc\) is labelled role: worker/);
  t.regex(
    (rolesOf([vm('e', { role: 'master' })]) as { problem: string }).problem,
    /role: master; use role: control-plane or role: worker/,
  );
});

// ---- proxy_init's rules -----------------------------------------------------------------
const report = (f: string, cidrs: string[]) => expectProxyInit(parseSave(fixture(f)), 15001, 1337, cidrs);

test('expectProxyInit: every rule of prepare_proxy.sh -i, in order', (t) => {
  const exp = report('iptables-save-cidrs.txt', ['172.19.0.0/20', '172.18.0.0/16']);
  t.true(
    exp.every((e) => e.ok),
    JSON.stringify(exp.filter((e) => !e.ok)),
  );
  t.is(exp.length, 5 + 6);
  t.true(exp.some((e) => e.what === 'ISTIO_OUTPUT #6: everything else returns (final -j RETURN, as with -i)'));
});

test('expectProxyInit: without -i the last rule redirects everything', (t) => {
  t.true(report('iptables-save-no-cidrs.txt', []).every((e) => e.ok));
  const wrong = report('iptables-save-cidrs.txt', []);
  t.deepEqual(
    wrong.filter((e) => !e.ok).map((e) => e.what),
    [
      'ISTIO_OUTPUT: everything else goes to ISTIO_REDIRECT (final -j ISTIO_REDIRECT, no -i)',
      'ISTIO_OUTPUT #4: a rule prepare_proxy.sh does not install (-d 172.19.0.0/20 -j ISTIO_REDIRECT)',
      'ISTIO_OUTPUT #5: a rule prepare_proxy.sh does not install (-d 172.18.0.0/16 -j ISTIO_REDIRECT)',
      'ISTIO_OUTPUT #6: a rule prepare_proxy.sh does not install (-j RETURN)',
    ],
  );
});

test('expectProxyInit: a final RETURN before the CIDR rules is out of order', (t) => {
  const bad = report('iptables-save-wrong-order.txt', ['172.19.0.0/20', '172.18.0.0/16'])
    .filter((e) => !e.ok)
    .map((e) => e.what);
  t.deepEqual(bad, [
    'ISTIO_OUTPUT #4: everything else returns (final -j RETURN, as ' +
      'with -i): not the last rule (2 rule(s) after it are never reached)',
  ]);
});

test('expectProxyInit: a missing uid-owner RETURN is reported and the rest still checked', (t) => {
  const exp = report('iptables-save-missing-uid.txt', ['172.19.0.0/20', '172.18.0.0/16']);
  t.deepEqual(
    exp.filter((e) => !e.ok).map((e) => e.what),
    ["ISTIO_OUTPUT: the proxy's own traffic returns (-m owner --uid-owner 1337 -j RETURN)"],
  );
  t.true(exp.some((e) => e.ok && e.what.startsWith('ISTIO_OUTPUT #2: traffic to 127.0.0.1 returns')));
  t.deepEqual(
    report('iptables-save-cidrs.txt', ['172.19.0.0/20'])
      .filter((e) => !e.ok)
      .map((e) => e.what),
    ['ISTIO_OUTPUT #5: a rule prepare_proxy.sh does not install (-d 172.18.0.0/16 -j ISTIO_REDIRECT)'],
  );
  t.false(
    expectProxyInit(parseSave(fixture('iptables-save-cidrs.txt')), 15006, 1337, [
      '172.19.0.0/20',
      '172.18.0.0/16',
    ]).every((e) => e.ok),
  );
});

test('the rules step 12 compares are exactly the lines iptables prints for them', (t) => {
  const { redirect, output, jumps } = proxyInitRules({
    port: 15001,
    uid: 1337,
    cidrs: ['172.19.0.0/20', '172.18.0.0/16'],
  });
  const saved = fixture('iptables-save-cidrs.txt').split('\n');
  const lines = [...redirect, ...output, ...jumps].map(sLine);
  for (const l of lines) t.true(saved.includes(l), l);
  t.deepEqual(
    saved.filter((l) => l.startsWith('-A ISTIO_OUTPUT')),
    output.map(sLine),
  );
});

// ---- inputs and plans -------------------------------------------------------------------
const EXAMPLE = 'envs/kubeadm-nginmesh.env.example';

const made: string[] = [];
test.after.always(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function withEnv(change: (s: string) => string, inventory?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-kn-'));
  made.push(dir);
  const env = path.join(dir, 'x.env');
  fs.writeFileSync(
    path.join(dir, 'inv.yaml'),
    inventory ?? fs.readFileSync('envs/kubeadm-nginmesh-inventory.example.yaml', 'utf8'),
  );
  fs.writeFileSync(
    env,
    change(fs.readFileSync(EXAMPLE, 'utf8').replace(/^VM_INVENTORY=.*$/m, 'VM_INVENTORY=inv.yaml')),
  );
  return env;
}

test('bad inputs: one line each, naming the variable and the fix', (t) => {
  const env = withEnv((s) =>
    s
      .replace(/^KUBERNETES_VERSION=.*$/m, 'KUBERNETES_VERSION=v1.28.4')
      .replace(/^SERVICE_CIDR=.*$/m, 'SERVICE_CIDR=172.18.16.0/20')
      .replace(/^CALICO_VERSION=.*$/m, 'CALICO_VERSION=v3.28.2')
      .replace(/^PROXY_UID=.*$/m, 'PROXY_UID=istio')
      .replace(/^PROXY_CIDRS=.*$/m, 'PROXY_CIDRS=172.19.0.0/20,'),
  );
  const e = t.throws(() => loadInputs(env, [rb]), { instanceOf: InputError });
  const p = (e as InputError).problems;
  t.true(
    p.some((l) =>
      /^KUBERNETES_VERSION: v1\.28\.4 is older than v1\.31; the kubeadm\.k8s\.io\/v1beta4 config needs kubeadm 1\.31 or later/.test(
        l,
      ),
    ),
    p.join('\n'),
  );
  t.true(p.some((l) => /^SERVICE_CIDR: "172\.18\.16\.0\/20" overlaps POD_CIDR 172\.18\.0\.0\/16/.test(l)));
  t.true(
    p.some((l) => /^CALICO_VERSION: "v3\.28\.2" is not a Calico release; write it as X\.Y\.Z without the v/.test(l)),
  );
  t.true(p.some((l) => /^PROXY_UID: "istio" is not a uid/.test(l)));
  t.true(p.some((l) => /^PROXY_CIDRS: .* has an empty entry/.test(l)));
});

test('plan: the control plane inits, workers join; the token is masked; the chains are rewritten whole', (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const steps = plan([rb], loaded, { labRules: LAB_RULES });
  const host = (id: string, h: string) =>
    steps.find((s) => s.id === `kubeadm-nginmesh/${id}`)!.hosts.find((x) => x.host === h)!.branches[0];
  t.truthy(host('02-kubeadm-config', 'kube-1').scripts.find((s) => s.role === 'change'));
  t.regex(host('02-kubeadm-config', 'kube-2').skip!, /a worker/);
  t.regex(
    host('04-kubeadm-init', 'kube-1').scripts.find((s) => s.role === 'change')!.script,
    /kubeadm init --config \/etc\/kubernetes\/meshbook-kubeadm\.yaml --skip-token-print > \/var\/log/,
  );
  t.regex(host('08-join-workers', 'kube-1').skip!, /does not join/);
  const join = host('08-join-workers', 'kube-2').scripts.find((s) => s.role === 'change')!.script;
  t.regex(join, /'\*\*\*JOIN_TOKEN\*\*\*'/);
  t.regex(join, /apiServerEndpoint: 10\.12\.5\.15:6443/);
  t.regex(join, /kubeadm join --config \/etc\/kubernetes\/meshbook-join\.yaml/);
  t.notRegex(join, /--token/);
  t.regex(
    host('09-pod-network', 'cluster').scripts[0].script,
    /^kubectl --kubeconfig \.meshbook\/kubeadm-nginmesh\/admin\.conf diff -f https:\/\/raw\.githubusercontent\.com\/projectcalico\/calico\/v3\.28\.2\/manifests\/calico\.yaml$/,
  );
  const proxy = host('12-proxy-init', 'kube-2').scripts.find((s) => s.role === 'change')!.script;
  t.regex(proxy, /-N ISTIO_OUTPUT 2>\/dev\/null \|\| ip netns exec nginmesh-pod iptables -w -t nat -F ISTIO_OUTPUT/);
  t.regex(proxy, /-C PREROUTING .* \|\| ip netns exec nginmesh-pod iptables -w -t nat -A PREROUTING/);
  for (const out of [planText(steps, loaded), planSh(steps, loaded), JSON.stringify(steps)])
    t.false(/[a-z0-9]{6}\.[a-z0-9]{16}/.test(out));
});

test('in the lab plan, kubeadm steps only read and say why they cannot run', (t) => {
  const env = withEnv((s) => `LAB=1\n${s}`);
  const loaded = loadInputs(env, [rb]);
  const steps = plan([rb], loaded, { labRules: LAB_RULES });
  const host = (id: string, h: string) =>
    steps.find((s) => s.id === `kubeadm-nginmesh/${id}`)!.hosts.find((x) => x.host === h)!.branches[0];
  for (const id of ['03-kubeadm-dry-run', '05-kubeconfig', '07-join-token']) {
    t.regex(host(id, 'kube-1').notInLab!, /no kubelet and no container runtime/, id);
    t.regex(host(id, 'kube-1').scripts[0].script, /command -v kubeadm/, id);
  }
  t.deepEqual(
    host('04-kubeadm-init', 'kube-1').scripts.map((s) => s.role),
    ['check'],
  );
  t.deepEqual(
    host('08-join-workers', 'kube-2').scripts.map((s) => s.role),
    ['check'],
  );
  t.regex(host('09-pod-network', 'cluster').notInLab!, /no Kubernetes cluster/);
  t.truthy(host('12-proxy-init', 'kube-1').scripts.find((s) => s.role === 'change'));
});

// ---- the join command's path, as the runner drives it ------------------------------------
test("join: the control plane's join command reaches the workers only inside the stdin script", (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const [kube1, kube2] = loaded.inventory.vms;
  const cluster = {};
  const ctx = (v: Vm): HostCtx => ({ vm: v, env: loaded.env, facts: {}, cluster, lab: false, distro: v.distro });
  plan([rb], loaded, { labRules: LAB_RULES }); // the first step notes the VMs, as in a run
  recordJoinStatus(cluster, 'kube-2', false);
  const tokenStep = joinToken.vm!(ctx(kube1)) as VmAction;
  t.regex((tokenStep.probe as Script).display, /^kubeadm token create --print-join-command --ttl 15m/);
  const it = tokenStep.interpret!({ code: 0, stdout: FAKE_JOIN, stderr: '' }, ctx(kube1));
  t.true(it.ok);
  t.false(it.lines.join('\n').includes(FAKE_TOKEN));
  t.false(redact(FAKE_JOIN).includes(FAKE_TOKEN));
  t.truthy((cluster as Record<string, unknown>)[JOIN_FACT]);
  t.false(JSON.stringify(cluster).includes(FAKE_TOKEN));

  const apply = (joinWorkers.vm!(ctx(kube2)) as VmAction).apply!;
  t.true(apply.text.includes(`$'    token: ${FAKE_TOKEN}'`));
  t.false(apply.display.includes(FAKE_TOKEN));
  t.regex(apply.display, /'\*\*\*JOIN_TOKEN\*\*\*'/);
  t.regex(apply.text, /apiServerEndpoint: 192\.168\.0\.250:6443/);
  // only bash builtins see the token: printf into write_file; kubeadm reads the file
  const tokenLines = apply.text.split('\n').filter((l) => l.includes(FAKE_TOKEN));
  t.is(tokenLines.length, 1);
  t.regex(tokenLines[0], /^\s*\$' {4}token: [a-z0-9.]+' \\$/);
  // rendered with secrets as references (the Ansible export), the token stays a reference
  const asRef = renderWith(apply, (s) => `"{{ ${s.name} }}"`);
  t.false(asRef.includes(FAKE_TOKEN));
  t.regex(asRef, /"\{\{ JOIN_TOKEN \}\}" \\\n/);

  // every worker joined: no token is made
  recordJoinStatus(cluster, 'kube-2', true);
  t.regex((joinToken.vm!(ctx(kube1)) as VmAction).skip!, /every worker has joined/);
});

test('the admin kubeconfig is saved 0600 and its key registered as a secret', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-kc-'));
  made.push(dir);
  const file = path.join(dir, 'sub', 'admin.conf');
  const key = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmZha2UK';
  const text = YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: 'https://192.168.0.250:6443' } }],
    users: [{ name: 'kubernetes-admin', user: { 'client-key-data': key } }],
  });
  const r = saveKubeconfig(text, file);
  t.true(r.ok);
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.is(fs.readFileSync(file, 'utf8'), text);
  t.false(r.lines.join('\n').includes(key));
  t.is(redact(key), '***');
  t.regex(saveKubeconfig(text, file).lines[0], /is up to date/);
  t.false(saveKubeconfig('not: a kubeconfig', file).ok);
});

test("NodePort access: the ingress Service's NodePorts on the control plane's IP", (t) => {
  const loaded = loadInputs(EXAMPLE, [rb]);
  const ctx = {
    env: loaded.env,
    facts: {} as Record<string, unknown>,
    lab: false,
    vms: loaded.inventory.vms,
    workDir: os.tmpdir(),
    envFile: loaded.envFile,
  };
  const a = nodePort.cluster!(ctx);
  t.deepEqual(a.probe!.argv, [
    'kubectl',
    '--kubeconfig',
    '.meshbook/kubeadm-nginmesh/admin.conf',
    '-n',
    'istio-system',
    'get',
    'service',
    'istio-ingressgateway',
    '-o',
    'json',
  ]);
  const svc = fs.readFileSync(new URL('./fixtures/bookinfo/svc-pending.json', import.meta.url), 'utf8');
  const it = a.interpret!({ code: 0, stdout: svc, stderr: '' }, ctx);
  t.true(it.ok);
  t.true(it.lines.includes('open http://10.12.5.15:32765/productpage'), it.lines.join('\n'));
  t.true(it.lines.includes('  http2: 10.12.5.15:32765 (NodePort of port 80)'));
  t.is(ctx.facts.ingressPort, 32765);
  const withIp = { ...ctx, env: { ...ctx.env, INGRESS_NODE_IP: '10.12.5.31' } };
  t.true(
    nodePort.cluster!(withIp).interpret!({ code: 0, stdout: svc, stderr: '' }, withIp).lines.includes(
      'GATEWAY_URL=10.12.5.31:32765',
    ),
  );
  t.regex(
    a.interpret!({ code: 1, stdout: '', stderr: 'NotFound' }, ctx).lines[0],
    /install the mesh's ingress gateway first/,
  );
});

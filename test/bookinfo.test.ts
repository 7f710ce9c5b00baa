// bookinfo without a cluster: the sample objects validate (and a misplaced header match
// does not), samples are read and validated at run time, the parsers (pods 2/2, istioctl
// analyze, the ingress Service, the login cookie) on fixtures, and the jason/others checks
// run for real against a stand-in productpage on 127.0.0.1.
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import rb from '../scripts/bookinfo/index.ts';
import { SAMPLES, readSample, sampleAction, validateSampleText } from '../scripts/bookinfo/samples.ts';
import { checkSamples } from '../scripts/bookinfo/01-istio-release.ts';
import { podStates } from '../scripts/bookinfo/pods.ts';
import { analyzeResult } from '../scripts/bookinfo/analyze.ts';
import { ingressAddress } from '../scripts/shared/ingress.ts';
import { sessionCookie, verdictLines } from '../scripts/bookinfo/traffic.ts';
import title from '../scripts/bookinfo/07-productpage-title.ts';
import ingress from '../scripts/bookinfo/10-ingress.ts';
import login from '../scripts/bookinfo/15-login-jason.ts';
import verifyJason from '../scripts/bookinfo/16-verify-jason.ts';
import verifyOthers from '../scripts/bookinfo/17-verify-others.ts';
import { ManifestError } from '../scripts/engine/manifests.ts';
import { runLocal } from '../scripts/engine/local.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { plan } from '../scripts/engine/plan.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import type { ClusterAction, ClusterCtx, LocalCmd } from '../scripts/engine/types.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const FIX = new URL('./fixtures/bookinfo/', import.meta.url).pathname;
const fixture = (f: string) => fs.readFileSync(path.join(FIX, f), 'utf8');

// ---- the sample objects -------------------------------------------------------------------
test('the objects of the networking samples validate', (t) => {
  const kinds = (f: string) => validateSampleText(f, fixture(f)).objects.map((o) => `${o.kind} ${o.metadata.name}`);
  t.deepEqual(kinds('bookinfo-gateway.yaml'), ['Gateway bookinfo-gateway', 'VirtualService bookinfo']);
  t.deepEqual(kinds('destination-rule-all.yaml'), [
    'DestinationRule productpage',
    'DestinationRule reviews',
    'DestinationRule ratings',
    'DestinationRule details',
  ]);
  t.deepEqual(kinds('virtual-service-all-v1.yaml'), [
    'VirtualService productpage',
    'VirtualService reviews',
    'VirtualService ratings',
    'VirtualService details',
  ]);
  t.deepEqual(kinds('virtual-service-reviews-test-v2.yaml'), ['VirtualService reviews']);
  t.deepEqual(kinds('bookinfo.yaml'), ['Service ratings', 'ServiceAccount bookinfo-ratings', 'Deployment ratings-v1']);
  const reviews = validateSampleText('x', fixture('destination-rule-all.yaml')).objects[1];
  t.deepEqual(
    reviews.spec.subsets.map((s: { name: string }) => s.name),
    ['v1', 'v2', 'v3'],
  );
});

test('a header match with exact misplaced is rejected, naming file, object and field', (t) => {
  const beside = t.throws(
    () => validateSampleText('vs.yaml', fixture('virtual-service-reviews-test-v2.exact-misplaced.yaml')),
    { instanceOf: ManifestError },
  );
  t.is(beside!.message, 'vs.yaml: VirtualService reviews: spec.http[0].match[0].exact: unknown field (mis-indented?)');
  const asHeader = t.throws(
    () => validateSampleText('vs.yaml', fixture('virtual-service-reviews-test-v2.exact-as-header.yaml')),
    { instanceOf: ManifestError },
  );
  t.regex(
    asHeader!.message,
    /^vs\.yaml: VirtualService reviews: spec\.http\[0\]\.match\[0\]\.headers\.(end-user|exact): /,
  );
});

// ---- samples at run time ------------------------------------------------------------------
const made: string[] = [];
test.after.always(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function release(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-istio-'));
  made.push(dir);
  const put = (rel: string, from: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.cpSync(path.join(FIX, from), path.join(dir, rel), { recursive: true });
  };
  put(SAMPLES.bookinfo, 'bookinfo.yaml');
  put(SAMPLES.gateway, 'bookinfo-gateway.yaml');
  put(SAMPLES.destinationRules, 'destination-rule-all.yaml');
  put(SAMPLES.allV1, 'virtual-service-all-v1.yaml');
  put(SAMPLES.reviewsJason, 'virtual-service-reviews-test-v2.yaml');
  put(SAMPLES.addons, 'addons');
  fs.writeFileSync(path.join(dir, 'manifest.yaml'), 'name: istio\nversion: 1.22.3\n');
  return dir;
}

test('a sample is validated and applied from stdin; kubectl diff is the check', (t) => {
  const dir = release();
  const a = sampleAction({ ISTIO_DIR: dir }, SAMPLES.reviewsJason, 'default');
  const check = a.check as LocalCmd;
  t.deepEqual(check.argv, ['kubectl', 'diff', '-n', 'default', '-f', '-']);
  t.deepEqual(check.changeCodes, [1]);
  t.deepEqual(a.apply![0].argv, ['kubectl', 'apply', '-n', 'default', '-f', '-']);
  t.regex(a.apply![0].stdin!, /exact: jason/);
  t.is(a.apply![0].stdinLabel, `${path.join(dir, SAMPLES.reviewsJason)} (rendered)`);
});

test('an invalid sample stops the step before anything is applied', (t) => {
  const dir = release();
  fs.copyFileSync(
    path.join(FIX, 'virtual-service-reviews-test-v2.exact-misplaced.yaml'),
    path.join(dir, SAMPLES.reviewsJason),
  );
  const a = sampleAction({ ISTIO_DIR: dir }, SAMPLES.reviewsJason, 'default');
  t.is(a.apply, undefined);
  const it = a.interpret!({ code: 0, stdout: '', stderr: '' }, {} as ClusterCtx);
  t.false(it.ok);
  t.is(
    it.lines[0],
    `error: ${path.join(dir, SAMPLES.reviewsJason)}: VirtualService ` +
      `reviews: spec.http[0].match[0].exact: unknown field (mis-indented?)`,
  );
  const all = checkSamples({ ISTIO_DIR: dir });
  t.false(all.ok);
  t.regex(
    all.lines.at(-1)!,
    /virtual-service-reviews-test-v2\.yaml: VirtualService reviews: spec\.http\[0\]\.match\[0\]\.exact: unknown field/,
  );
});

test("addons: a directory's YAML files in name order, a Grafana ${PLACEHOLDER} kept as written", (t) => {
  const dir = release();
  const r = readSample(path.join(dir, SAMPLES.addons));
  t.deepEqual(
    r.objects.map((o) => `${o.kind} ${o.metadata.name}`),
    ['ConfigMap istio-grafana-dashboards', 'ServiceAccount kiali', 'Deployment kiali'],
  );
  t.true(r.text.includes('"datasource": "${DS_PROMETHEUS}"'));
  const a = sampleAction({ ISTIO_DIR: dir }, SAMPLES.addons);
  t.deepEqual(a.apply![0].argv, ['kubectl', 'apply', '-f', '-']);
  t.deepEqual(checkSamples({ ISTIO_DIR: dir }).lines, [
    'valid: samples/bookinfo/platform/kube/bookinfo.yaml: Service ' +
      'ratings, ServiceAccount bookinfo-ratings, Deployment ratings-v1',
    'valid: samples/bookinfo/networking/bookinfo-gateway.yaml: Gateway bookinfo-gateway, VirtualService bookinfo',
    'valid: samples/addons: ConfigMap istio-grafana-dashboards, ServiceAccount kiali, Deployment kiali',
    'valid: samples/bookinfo/networking/destination-rule-all.yaml: DestinationRule ' +
      'productpage, DestinationRule reviews, DestinationRule ratings, DestinationRule details',
    'valid: samples/bookinfo/networking/virtual-service-all-v1.yaml: VirtualService ' +
      'productpage, VirtualService reviews, VirtualService ratings, VirtualService details',
    'valid: samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml: VirtualService reviews',
  ]);
});

test("before the release is unpacked, the plan shows the article's kubectl apply -f FILE", (t) => {
  const a = sampleAction({ ISTIO_DIR: '/nonexistent/istio-1.22.3' }, SAMPLES.gateway, 'default');
  t.deepEqual(a.apply![0].argv, [
    'kubectl',
    'apply',
    '-n',
    'default',
    '-f',
    '/nonexistent/istio-1.22.3/samples/bookinfo/networking/bookinfo-gateway.yaml',
  ]);
  t.is(a.apply![0].stdin, undefined);
});

// ---- parsers ------------------------------------------------------------------------------
test('pods: all 2/2 (a native sidecar counts), and the node IP is noted', (t) => {
  const r = podStates(fixture('pods-ready.json'));
  if ('error' in r) return t.fail(r.error);
  t.is(r.pods.length, 6);
  t.deepEqual(r.notReady, []);
  t.is(r.nodeIp, '192.168.0.101');
  t.like(r.pods[5], { name: 'reviews-v3-84779c7bbc-jfndj', ready: 2, total: 2, ok: true });
});

test('pods: the ones not 2/2 are named with the reason', (t) => {
  const r = podStates(fixture('pods-not-ready.json'));
  if ('error' in r) return t.fail(r.error);
  t.deepEqual(
    r.notReady.map((p) => `${p.name}: ${p.why}`),
    [
      'productpage-v1-6b746f74dc-qc9lg: 1/2 ready (istio-proxy: CrashLoopBackOff)',
      'ratings-v1-b6994bb9-tmbh6: 1 container(s), no sidecar: label the namespace ' +
        'istio-injection=enabled before deploying, or kubectl rollout restart the deployment',
      'reviews-v1-545db77b95-xdhp4: phase Pending (reviews: ContainerCreating, istio-proxy: PodInitializing)',
    ],
  );
  t.true('error' in podStates('not json'));
});

test('istioctl analyze: clean is ok, anything else fails listing the issues', (t) => {
  t.deepEqual(analyzeResult(fixture('analyze-clean.txt'), 0), {
    ok: true,
    lines: ['No validation issues found when analyzing namespace: default.'],
  });
  const bad = analyzeResult(fixture('analyze-issues.txt'), 79);
  t.false(bad.ok);
  t.deepEqual(
    bad.lines.filter((l) => l.startsWith('issue: ')).map((l) => l.slice(7, 30)),
    ['Warning [IST0108] (Virt', 'Error [IST0101] (Virtua', 'Info [IST0118] (Service'],
  );
  t.regex(bad.lines.at(-1)!, /^error: istioctl analyze found 3 issue\(s\)/);
  t.false(analyzeResult('Error: failed to fetch the cluster', 1).ok);
});

test('ingress: the LoadBalancer address and the http2/https ports', (t) => {
  const r = ingressAddress(fixture('svc-loadbalancer.json'));
  if ('error' in r) return t.fail(r.error);
  t.like(r, { via: 'LoadBalancer', host: '47.88.10.20', port: 80, securePort: 443, gatewayUrl: '47.88.10.20:80' });
  t.true(r.lines.includes('open http://47.88.10.20:80/productpage'));
  const h = ingressAddress(fixture('svc-loadbalancer-hostname.json'));
  t.like(h, { host: 'a1b2c3.elb.example.com', gatewayUrl: 'a1b2c3.elb.example.com:80' });
});

test('ingress: without a LoadBalancer address, a node IP and the NodePorts', (t) => {
  const r = ingressAddress(fixture('svc-pending.json'), { nodeIp: '192.168.0.101' });
  if ('error' in r) return t.fail(r.error);
  t.like(r, {
    via: 'NodePort',
    host: '192.168.0.101',
    port: 32765,
    securePort: 31969,
    gatewayUrl: '192.168.0.101:32765',
  });
  t.regex(r.lines[0], /LoadBalancer address is <pending>/);
  t.true(r.lines.includes('SECURE_INGRESS_PORT=31969'));
  t.regex((ingressAddress(fixture('svc-pending.json')) as { error: string }).error, /set INGRESS_NODE_IP/);
  t.regex(
    (ingressAddress(fixture('svc-clusterip.json'), { nodeIp: '192.168.0.101' }) as { error: string }).error,
    /no LoadBalancer address and no NodePort: it is type ClusterIP/,
  );
});

test('login: the session cookie from Set-Cookie', (t) => {
  t.is(
    sessionCookie(fixture('login-headers.txt')),
    'session=eyJ1c2VyIjoiamFzb24ifQ.Z0BnYA.x3mR4nWq0Bv1Zk9yQe7TtLw2Hs8',
  );
  t.is(sessionCookie('HTTP/1.1 302 FOUND\nSet-Cookie: user=jason; Path=/\n'), 'user=jason');
  t.is(sessionCookie(fixture('login-headers-error.txt')), undefined);
  t.is(sessionCookie('Set-Cookie: session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT\n'), undefined);
});

// ---- the cluster steps' probes, run against a stand-in productpage on loopback --------------
const V1 =
  '<title>Simple Bookstore App</title><h4>Book Reviews</h4><p>"An extremely entertaining play"</p><div ' +
  'class="font-semibold">Reviewer1</div><div>Reviews served by: reviews-v1-545db77b95-xdhp4</div>';
const V2 =
  '<title>Simple Bookstore App</title><div class="flex gap-x-1 text-black-500"><svg></svg></div><div ' +
  'class="font-semibold">Reviewer1</div><div>Reviews served by: reviews-v2-7bf8c9648f-4gn6f</div>';
const V3_OLD =
  '<title>Simple Bookstore App</title><font color="red"><span ' +
  'class="glyphicon glyphicon-star"></span></font><small>Reviewer1</small>';

async function productpage(misrouteEvery = 0) {
  let n = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/login') {
      if (!req.headers.referer) {
        res.writeHead(500).end('no referrer');
        return;
      }
      res
        .writeHead(302, {
          location: req.headers.referer,
          'set-cookie': 'session=eyJ1c2VyIjoiamFzb24ifQ.Z0BnYA.sig; HttpOnly; Path=/',
        })
        .end();
      return;
    }
    if (req.url !== '/productpage') {
      res.writeHead(404).end();
      return;
    }
    const jason = /(^|;\s*)session=eyJ1c2VyIjoiamFzb24ifQ/.test(req.headers.cookie ?? '');
    n++;
    const body = jason ? (misrouteEvery && n % misrouteEvery === 0 ? V3_OLD : V2) : V1;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function runProbe(a: ClusterAction, ctx: ClusterCtx) {
  const out = await runLocal(a.probe!, 60_000);
  return a.interpret!(out, ctx);
}

const cctx = (facts: Record<string, unknown> = {}): ClusterCtx => ({
  env: { ISTIO_DIR: '/opt/istio-1.22.3' },
  facts,
  lab: false,
  vms: [],
  workDir: os.tmpdir(),
  envFile: '/nonexistent/bookinfo.env',
});

test.serial('sign in as jason, then 100 % v2 with the session and 100 % v1 without (real verifier runs)', async (t) => {
  const { server, url } = await productpage();
  try {
    const ctx = cctx({ gatewayUrl: url });
    const li = await runProbe(login.cluster!(ctx), ctx);
    t.true(li.ok, li.lines.join('\n'));
    t.is(ctx.facts.jasonCookie, 'session=eyJ1c2VyIjoiamFzb24ifQ.Z0BnYA.sig');
    const j = await runProbe(verifyJason.cluster!(ctx), ctx);
    t.true(j.ok, j.lines.join('\n'));
    t.regex(j.lines[0], /^signed in as jason: v1 0 \(0\.0 %, expected 0 %\), v2 73 \(100\.0 %, expected 100 %\), v3 0/);
    const o = await runProbe(verifyOthers.cluster!(ctx), ctx);
    t.true(o.ok, o.lines.join('\n'));
    t.regex(o.lines[0], /^not signed in: v1 73 \(100\.0 %/);
  } finally {
    server.close();
  }
});

test.serial('one misrouted page in ten fails the jason check, naming the zero-weight bucket', async (t) => {
  const { server, url } = await productpage(10);
  try {
    const ctx = cctx({ gatewayUrl: url, jasonCookie: 'session=eyJ1c2VyIjoiamFzb24ifQ.Z0BnYA.sig' });
    const j = await runProbe(verifyJason.cluster!(ctx), ctx);
    t.false(j.ok);
    t.regex(j.lines.join('\n'), /verdict FAIL/);
    t.regex(j.lines.at(-1)!, /^error: signed in as jason: FAIL: .*v3/);
  } finally {
    server.close();
  }
});

test('verdictLines: an error result and a non-JSON output fail clearly', (t) => {
  t.deepEqual(verdictLines('{"verdict":"ERROR","error":"the target never answered"}', 3, 'x'), {
    ok: false,
    lines: ['error: x: the verifier could not run: the target never answered'],
  });
  t.false(verdictLines('', 127, 'x').ok);
});

test('the title check and the ingress step read their fixtures', (t) => {
  const ctx = cctx();
  const a = title.cluster!(ctx);
  t.deepEqual(a.probe!.argv, [
    'kubectl',
    'exec',
    '-n',
    'default',
    'deploy/ratings-v1',
    '-c',
    'ratings',
    '--',
    'curl',
    '-sS',
    '--max-time',
    '10',
    'productpage:9080/productpage',
  ]);
  t.true(a.interpret!({ code: 0, stdout: V1, stderr: '' }, ctx).ok);
  t.regex(
    a.interpret!({ code: 0, stdout: '<title>Oops</title>', stderr: '' }, ctx).lines[0],
    /with <title>Oops<\/title>, expected <title>Simple Bookstore App<\/title>/,
  );
  const ctx2 = cctx({ nodeIp: '192.168.0.101' });
  const ing = ingress.cluster!(ctx2).interpret!({ code: 0, stdout: fixture('svc-pending.json'), stderr: '' }, ctx2);
  t.true(ing.ok);
  t.is(ctx2.facts.gatewayUrl, '192.168.0.101:32765');
});

test('plan: every step is cluster-side; no inventory is needed', (t) => {
  const loaded = loadInputs('envs/bookinfo.env.example', [rb]);
  const steps = plan([rb], loaded);
  t.false('VM_INVENTORY' in loaded.env);
  t.is(loaded.inventory.vms.length, 0);
  t.is(steps.length, 17);
  t.true(steps.every((s) => s.hosts.length === 1 && s.hosts[0].host === 'cluster'));
  t.true(rb.steps.every((s) => s.target === 'cluster'));
});

test('in the lab every step is "not in lab" and nothing runs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-bi-'));
  made.push(dir);
  const env = path.join(dir, 'lab.env');
  fs.writeFileSync(env, 'LAB=1\nISTIO_DIR=/opt/istio-1.22.3\n');
  const loaded = loadInputs(env, [rb]);
  const report = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    ssh: { knownHosts: path.join(dir, 'known_hosts'), connectTimeoutS: 5, commandTimeoutMs: 5000 },
  });
  t.false(report.failed);
  t.deepEqual(report.hosts, ['cluster']);
  t.is(report.records.length, 17);
  for (const r of report.records) t.is(r.hosts.cluster.status, 'not in lab', r.id);
});

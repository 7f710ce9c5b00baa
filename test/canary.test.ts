// meshbook canary without a lab: the step arithmetic, hello2-vs read and rewritten (validated
// against Istio's schema), the data plane read from Envoy's route JSON (what istioctl prints)
// and from the lab's NGINX configuration, the gate's decisions, and the command line's errors.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { $ } from 'zx';
import { exactWeights, parseSteps, stepWeights } from '../scripts/canary/weights.ts';
import { applyCmd, weightsOfVs, withWeights } from '../scripts/canary/virtual-service.ts';
import { confirmWeights, routesCmd, weightsOfEnvoyRoutes, type DataPlane } from '../scripts/canary/data-plane.ts';
import { figuresOf, limitBroken, type GateLimits } from '../scripts/canary/gate.ts';
import { weightsOfNginx } from '../lab/cluster/data-plane.ts';
import { buildMesh, type PodInfo } from '../lab/cluster/mesh.ts';
import { renderProxyConfig } from '../lab/cluster/nginx.ts';
import type { KObject } from '../lab/cluster/kinds.ts';
import type { VerifyResult } from '../scripts/verify/cli.ts';
import type { Weights } from '../scripts/traffic-shift/common.ts';

const NS = 'http-reciprocal-hello';
const FIX = path.join(import.meta.dirname, 'fixtures');
const tsObjects = (): KObject[] =>
  YAML.parseAllDocuments(fs.readFileSync(path.join(FIX, 'lab-cluster', 'traffic-shift.yaml'), 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);
const hello2Vs = () => tsObjects().find((o) => o.kind === 'VirtualService' && o.metadata.name === 'hello2-vs')!;
const W = (v1: number, v2: number, v3: number): Weights => ({ v1, v2, v3 });

test('steps: whole percents, increasing, ending at 100', (t) => {
  t.deepEqual(parseSteps('10,25,50,100'), { steps: [10, 25, 50, 100] });
  t.deepEqual(parseSteps(' 20, 50 ,100'), { steps: [20, 50, 100] });
  t.deepEqual(parseSteps('100'), { steps: [100] });
  for (const bad of ['', '10,,100', '10,25.5,100', '50,25,100', '10,50', '0,100', '10,101', 'a,100', '-5,100'])
    t.true('problem' in parseSteps(bad), bad);
});

test('step weights: the canary gets its share, the others keep their proportions, sum 100', (t) => {
  // 30/60/10 toward v3 at 50: v1:v2 stays 1:2 -> exactly 16.67/33.33, rounded 17/33
  t.deepEqual(exactWeights(W(30, 60, 10), 'v3', 50), { v1: 50 / 3, v2: 100 / 3, v3: 50 });
  t.deepEqual(stepWeights(W(30, 60, 10), 'v3', 50), W(17, 33, 50));
  t.deepEqual(stepWeights(W(30, 60, 10), 'v3', 20), W(27, 53, 20));
  t.deepEqual(stepWeights(W(30, 60, 10), 'v3', 100), W(0, 0, 100));
  t.deepEqual(stepWeights(W(30, 60, 10), 'v1', 25), W(25, 64, 11)); // 64.29 + 10.71 -> 64 + 11
  t.deepEqual(stepWeights(W(50, 50, 0), 'v3', 25), W(38, 37, 25)); // a tie: the version listed first
  t.deepEqual(stepWeights(W(0, 100, 0), 'v3', 10), W(0, 90, 10));
  for (let share = 1; share <= 100; share++)
    for (const start of [W(30, 60, 10), W(33, 33, 34), W(1, 98, 1), W(0, 0, 100)]) {
      const w = stepWeights(start, 'v2', share);
      t.is(w.v1 + w.v2 + w.v3, 100);
      t.is(w.v2, share);
      const exact = exactWeights(start, 'v2', share);
      for (const v of ['v1', 'v3'] as const) t.true(Math.abs(w[v] - exact[v]) < 1, `${v} ${w[v]} vs ${exact[v]}`);
    }
  t.throws(() => stepWeights(W(0, 0, 100), 'v3', 50), { message: /nothing to shift from/ });
});

test('hello2-vs: weights read off the live object, rewritten with only the weights changed, schema-valid', (t) => {
  const live = {
    ...hello2Vs(),
    metadata: {
      ...hello2Vs().metadata,
      resourceVersion: '42',
      uid: 'u-1',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'x' },
    },
  };
  live.spec.http[0].retries = { attempts: 3 };
  t.deepEqual(weightsOfVs(live, NS), W(30, 60, 10));
  const obj = withWeights(live, NS, W(17, 33, 50));
  t.deepEqual(weightsOfVs(obj, NS), W(17, 33, 50));
  t.deepEqual(obj.spec.http[0].retries, { attempts: 3 }, 'what else the route has is kept');
  t.deepEqual(obj.metadata, { name: 'hello2-vs', namespace: NS, annotations: { team: 'x' } });
  t.is(live.spec.http[0].route[0].weight, 30, 'the live object is not modified');
  // a subset the route does not list gets a destination of its own
  const two = structuredClone(live);
  two.spec.http[0].route = two.spec.http[0].route
    .slice(0, 2)
    .map((r: KObject, i: number) => ({ ...r, weight: [40, 60][i] }));
  t.deepEqual(weightsOfVs(two, NS), W(40, 60, 0));
  const three = withWeights(two, NS, W(36, 54, 10));
  t.deepEqual(three.spec.http[0].route[2], { destination: { host: 'hello2-svc', subset: 'v3' }, weight: 10 });
  // exactly what is sent
  const cmd = applyCmd({ KUBE_CONTEXT: 'prod' }, obj, 'x');
  t.deepEqual(cmd.argv, ['kubectl', '--context', 'prod', 'apply', '-f', '-']);
  t.deepEqual(YAML.parse(cmd.stdin!), obj);
  // a route without subsets is not the canary's
  const plain = structuredClone(live);
  plain.spec.http[0].route = [{ destination: { host: 'hello2-svc' } }];
  t.throws(() => weightsOfVs(plain, NS), { message: /no http route over hello2-svc's subsets/ });
});

test("istioctl proxy-config routes: hello1's route to hello2 read from Envoy's JSON", (t) => {
  t.deepEqual(routesCmd({}).argv, [
    'istioctl',
    'proxy-config',
    'routes',
    'deploy/hello1-deploy',
    '-n',
    NS,
    '--name',
    '8001',
    '-o',
    'json',
  ]);
  const json = JSON.parse(fs.readFileSync(path.join(FIX, 'canary', 'envoy-routes-8001.json'), 'utf8'));
  t.deepEqual(weightsOfEnvoyRoutes(json, NS), { weights: W(27, 53, 20) });
  // Istio leaves a zero-weight destination out; one left: a plain cluster
  const route = json[0].virtualHosts[1].routes[0].route;
  route.weightedClusters.clusters.splice(0, 1);
  route.weightedClusters.clusters[0].weight = 80;
  t.deepEqual(weightsOfEnvoyRoutes(json, NS), { weights: W(0, 80, 20) });
  delete route.weightedClusters;
  route.cluster = `outbound|8001|v3|hello2-svc.${NS}.svc.cluster.local`;
  t.deepEqual(weightsOfEnvoyRoutes(json, NS), { weights: W(0, 0, 100) });
  t.true('problem' in weightsOfEnvoyRoutes(json, 'other-ns'));
});

test("the lab's data plane: weights read off hello1's rendered NGINX configuration", (t) => {
  const pods: PodInfo[] = [
    {
      name: 'hello1-a',
      namespace: NS,
      ip: '172.18.0.2',
      labels: { app: 'hello1-deploy', version: 'v1' },
      ready: true,
      ports: [{ containerPort: 8001 }],
      injected: true,
    },
  ];
  const conf = (w: Weights) => {
    const vs = withWeights(hello2Vs(), NS, w);
    const objs = [...tsObjects().filter((o) => o.metadata.name !== 'hello2-vs'), vs];
    return renderProxyConfig(buildMesh({ objects: objs, pods }), {
      id: 'pod/hello1-a',
      kind: 'sidecar',
      namespace: NS,
      dir: '/run/x',
      inboundPorts: [8001],
    }).text;
  };
  for (const w of [W(30, 60, 10), W(17, 33, 50), W(0, 0, 100), W(50, 0, 50), W(1, 1, 98)])
    t.deepEqual(weightsOfNginx(conf(w), NS), { weights: w });
  t.true('problem' in weightsOfNginx(conf(W(30, 60, 10)), 'other-ns'));
});

test('confirmation: waits for the weights, fails at the deadline naming what the data plane has', async (t) => {
  let reads = 0;
  const late: DataPlane = {
    what: 'test proxy',
    read: async () => ({ weights: ++reads < 3 ? W(30, 60, 10) : W(17, 33, 50) }),
  };
  const ok = await confirmWeights(late, W(17, 33, 50), 5000);
  t.true(ok.ok);
  t.is(reads, 3);
  const stale: DataPlane = { what: 'test proxy', read: async () => ({ weights: W(30, 60, 10) }) };
  const no = await confirmWeights(stale, W(17, 33, 50), 300);
  t.false(no.ok);
  t.deepEqual(no.seen, W(30, 60, 10));
  t.regex(no.problem!, /test proxy still has v1=30 v2=60 v3=10 after 0\.\d s, not v1=17 v2=33 v3=50/);
});

/** A verifier result with the figures the gate reads. */
function result(o: {
  counted: number;
  non2xx?: number;
  errors?: number;
  p99: Record<string, [number, number | null]>;
  verdict?: string;
}): VerifyResult {
  return {
    verdict: o.verdict ?? 'PASS',
    chiSquare: { statistic: 1, df: 2, p: 0.5 },
    totals: { counted: o.counted, non2xx: o.non2xx ?? 0, transportErrors: o.errors ?? 0 },
    buckets: Object.entries(o.p99).map(([name, [count, p99]]) => ({ name, latencyMs: { count, p99 } })),
  } as unknown as VerifyResult;
}

test('gate: errors first, then the canary p99 against the baseline (ratio, floor) or an absolute limit', (t) => {
  const L: GateLimits = { maxErrorsPct: 1, maxP99Ratio: 2, p99FloorMs: 50, bakeS: 0, minRequests: 500 };
  const healthy = figuresOf(
    result({ counted: 2000, p99: { v1: [500, 40], v2: [1000, 45], v3: [500, 60] } }),
    'v3',
    false,
  );
  t.is(healthy.baselineP99Ms, 45);
  t.is(limitBroken(healthy, L), undefined);
  const errs = figuresOf(result({ counted: 2000, non2xx: 30, errors: 1, p99: { v3: [500, 60] } }), 'v3', false);
  t.is(errs.errorsPct, 1.55);
  t.is(limitBroken(errs, L)?.gate, 'errors');
  t.is(limitBroken(errs, { ...L, maxErrorsPct: 2 }), undefined);
  const slow = figuresOf(result({ counted: 2000, p99: { v1: [500, 40], v3: [500, 330] } }), 'v3', false);
  t.is(limitBroken(slow, L)?.gate, 'p99');
  t.regex(limitBroken(slow, L)!.reason, /canary p99 330 ms vs baseline p99 40 ms: 8\.3x, over --max-p99-ratio 2/);
  // a few ms doubled is noise: under the floor nothing fails
  const jitter = figuresOf(result({ counted: 2000, p99: { v1: [500, 4], v3: [500, 20] } }), 'v3', false);
  t.is(limitBroken(jitter, L), undefined);
  t.is(limitBroken(jitter, { ...L, maxP99Ms: 10 })?.gate, 'p99');
  // at 100 % there is no baseline in the sample (5 answers say nothing): no ratio, the absolute limit holds
  const all = figuresOf(result({ counted: 80, p99: { v1: [0, null], v2: [5, 900], v3: [80, 200] } }), 'v3', false);
  t.is(all.baselineP99Ms, null);
  t.is(limitBroken(all, L), undefined);
  t.is(limitBroken(all, { ...L, maxP99Ms: 150 })?.gate, 'p99');
});

test('canary --help, and bad input exits 3 with nothing changed', async (t) => {
  const run = $({ nothrow: true, quiet: true, env: { ...process.env, FORCE_COLOR: '0' } });
  const help = await run`node bin/meshbook.js canary --help`;
  t.is(help.exitCode, 0);
  t.regex(help.stdout, /--max-p99-ratio/);
  t.regex(help.stdout, /Exit codes: 0 promoted/);
  const env = path.join(FIX, '..', '..', 'envs', 'traffic-shift.env.example');
  for (const [args, msg] of [
    [['--env', env], /--to: which version/],
    [['--env', env, '--to', 'v9'], /--to: "v9" is not one of v1, v2, v3/],
    [['--env', env, '--to', 'v3', '--steps', '50,20'], /must increase/],
    [['--env', env, '--to', 'v3', '--max-p99', '100', '--max-p99-ratio', '3'], /give one of them/],
    [['--env', env, '--resume', '--rollback'], /give one of them/],
    [['--env', env, '--to', 'v3', '--max-errors', 'x'], /--max-errors: "x" is not a number/],
    [['--env', '/nonexistent.env', '--to', 'v3'], /does not exist/],
    [['--to', 'v3'], /required option '--env <file>'/],
  ] as const) {
    const r = await run`node bin/meshbook.js canary ${args}`;
    t.is(r.exitCode, 3, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, msg);
  }
});

test('walkthrough: the canary offered after traffic-shift; a version runs it, no prints the command', async (t) => {
  const { offerCanary } = await import('../scripts/canary/offer.ts');
  const { PassThrough } = await import('node:stream');
  const answer = async (keys: string[]) => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const ran: string[][] = [];
    const logged: string[] = [];
    let released = false;
    const p = offerCanary({
      envFile: 'envs/lab.env',
      release: () => (released = true),
      run: async (args) => (ran.push(args), 0),
      context: { input, output },
      log: (l) => logged.push(l),
    });
    for (const k of keys) {
      await new Promise((r) => setTimeout(r, 30));
      input.write(k);
    }
    return { code: await p, ran, logged, released };
  };
  const down = '\x1b[B';
  const v3 = await answer([down, down, down, '\r']);
  t.deepEqual(v3.ran, [['canary', '--env', 'envs/lab.env', '--to', 'v3']]);
  t.true(v3.released, "the walkthrough's lock is released before the canary takes it");
  t.is(v3.code, 0);
  const no = await answer(['\r']);
  t.deepEqual(no.ran, []);
  t.is(no.code, undefined);
  t.false(no.released);
  t.regex(no.logged.join('\n'), /later: meshbook canary --env envs\/lab\.env --to v3/);
});

test("requests per step: the verifier's -n auto for the weights, at least --min-requests", async (t) => {
  const { requestsFor } = await import('../scripts/canary/gate.ts');
  t.is(await requestsFor(W(30, 60, 10), 500), 2027); // the verifier's documented auto N for 30/60/10
  t.is(await requestsFor(W(0, 0, 100), 500), 500); // one bucket: auto N is a few dozen
  t.is(await requestsFor(W(0, 0, 100), 1), 73);
});

test('a --rollback stopped before it is done leaves the canary unfinished, and --resume refuses it', async (t) => {
  const os = await import('node:os');
  const { runCanary } = await import('../scripts/canary/run.ts');
  const { saveState, readState } = await import('../scripts/canary/state.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-canary-unit-'));
  const old = process.env.MESHBOOK_STATE_DIR;
  process.env.MESHBOOK_STATE_DIR = dir;
  try {
    const envFile = path.join(dir, 'x.env');
    const held = withWeights(hello2Vs(), NS, W(17, 33, 50));
    saveState({
      version: 1,
      envFile,
      to: 'v3',
      steps: [50, 100],
      start: W(30, 60, 10),
      startedAt: '',
      status: 'held',
      pid: 1,
      pidStart: '',
      passed: -1,
      applied: W(17, 33, 50),
      confirmed: true,
      timeline: [],
      updatedAt: '',
    });
    const applies: string[] = [];
    const cluster = {
      name: 'stub',
      run: async (cmd: { argv: string[] }) => {
        if (cmd.argv.includes('apply')) applies.push('apply');
        return { code: 0, stdout: JSON.stringify(held), stderr: '' };
      },
    };
    const ac = new AbortController();
    ac.abort(); // Ctrl-C before the restore applies anything
    const deps = {
      cluster,
      dataPlane: { what: 'stub', read: async () => ({ weights: W(17, 33, 50) }) },
      signal: ac.signal,
      say: () => undefined,
      confirmDeadlineMs: 100,
    };
    const env = { HELLO_NS: NS };
    const limits = { maxErrorsPct: 1, maxP99Ratio: 2, p99FloorMs: 50, bakeS: 0, minRequests: 500 };
    const r = await runCanary({ mode: 'rollback', envFile, env, steps: [100], limits }, deps);
    t.is(r.result, 'interrupted');
    t.is(r.exitCode, 130);
    t.deepEqual(applies, [], 'nothing applied');
    t.is(readState(envFile)!.status, 'interrupted');
    const live = { ...deps, signal: new AbortController().signal };
    await t.throwsAsync(runCanary({ mode: 'resume', envFile, env, steps: [100], limits }, live), {
      message: /was rolling back when it stopped .*--rollback restores the starting weights/,
    });
    await t.throwsAsync(runCanary({ mode: 'start', envFile, env, to: 'v3', steps: [100], limits }, live), {
      message: /is interrupted .*--resume or undo it with --rollback/,
    });
  } finally {
    if (old === undefined) delete process.env.MESHBOOK_STATE_DIR;
    else process.env.MESHBOOK_STATE_DIR = old;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// meshbook canary outside the lab, as on a real mesh: kubectl and istioctl are run from PATH
// (stand-ins in test/helpers/fake-mesh that keep one VirtualService in a file and answer
// `istioctl proxy-config routes` with Envoy's route JSON, 400 ms after an apply, like a push),
// and the ingress is a loopback server that splits by the weights the "proxy" has. This checks
// the exact commands sent, that the canary waits for the push, and a rollback.
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { $ } from 'zx';
import type { AddressInfo } from 'node:net';

const REPO = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-canary-mesh-'));
const mesh = path.join(tmp, 'mesh');
const GREETING: Record<string, string> = { v1: 'Hello', v2: 'Bonjour', v3: 'Hola' };
let failV3 = 0;
/** > 0: answer deterministically (in cycles of 100) with v3 this many points over its weight (taken
 *  from v1): exact counts, so the verdict is INCONCLUSIVE every time for 4 points (within the 5-point
 *  min-effect, so not FAIL; its interval reaches past 5 points, so not PASS) */
let skewV3 = 0;
let served = 0;
let server: http.Server;
let envFile: string;

/** The weights the "proxy" has (pushed.json), read per request. */
function pushed(): Record<string, number> {
  const vs = JSON.parse(fs.readFileSync(path.join(mesh, 'pushed.json'), 'utf8'));
  return Object.fromEntries(
    vs.spec.http[0].route.map((r: { destination: { subset: string }; weight: number }) => [
      r.destination.subset,
      r.weight,
    ]),
  );
}

test.before(async () => {
  fs.mkdirSync(mesh);
  const vs = YAML.parseAllDocuments(
    fs.readFileSync(path.join(REPO, 'test/fixtures/lab-cluster/traffic-shift.yaml'), 'utf8'),
  )
    .map((d) => d.toJS())
    .find((o) => o?.kind === 'VirtualService' && o.metadata.name === 'hello2-vs');
  for (const f of ['vs.json', 'pushed.json']) fs.writeFileSync(path.join(mesh, f), JSON.stringify(vs));
  server = http.createServer((req, res) => {
    const w = pushed();
    if (skewV3) Object.assign(w, { v1: w.v1 - skewV3, v3: w.v3 + skewV3 });
    let x = skewV3 ? served++ % 100 : Math.random() * 100;
    const v = Object.keys(w).find((k) => (x -= w[k]) < 0) ?? 'v3';
    if (v === 'v3' && Math.random() < failV3) {
      res.writeHead(502).end(`Hello eric(10.0.0.2)<-ERROR HTTP 500 from hello2-svc:8001\n`);
      return;
    }
    res.end(`Hello eric(10.0.0.2)<-${GREETING[v]} eric(192.168.0.17${v.slice(1)})<-Hello eric(10.0.0.3)\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  fs.writeFileSync(
    path.join(tmp, 'inventory.yaml'),
    'vms:\n' +
      [1, 2, 3]
        .map(
          (i) =>
            `  - { name: vm${i}, host: 192.168.0.17${i}, privateIp: 192.168.0.17${i}, labels: { version: v${i} } }\n`,
        )
        .join(''),
  );
  envFile = path.join(tmp, 'mesh.env');
  fs.writeFileSync(
    envFile,
    fs
      .readFileSync(path.join(REPO, 'envs/traffic-shift.env.example'), 'utf8')
      .replace(/^INGRESS_HOST=.*$/m, 'INGRESS_HOST=127.0.0.1')
      .replace(/^INGRESS_PORT=.*$/m, `INGRESS_PORT=${port}`)
      .replace(/^VM_INVENTORY=.*$/m, 'VM_INVENTORY=inventory.yaml') + 'KUBE_CONTEXT=prod\n',
    { mode: 0o600 },
  );
});

test.after.always(() => {
  server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** meshbook with the stand-in kubectl and istioctl first on PATH (async: the loopback server
 *  answers from this process while it runs). */
const withMesh = () =>
  $({
    nothrow: true,
    quiet: true,
    env: {
      ...process.env,
      PATH: `${path.join(REPO, 'test/helpers/fake-mesh')}:${process.env.PATH}`,
      FAKE_MESH: mesh,
      FAKE_MESH_LAG_MS: '400',
      MESHBOOK_REPO: REPO,
      MESHBOOK_STATE_DIR: path.join(tmp, 'state'),
      MESHBOOK_RUNS_DIR: path.join(tmp, 'runs'),
      FORCE_COLOR: '0',
    },
  });
const canary = async (...args: string[]) => {
  const r = await withMesh()`node bin/meshbook.js canary --env ${envFile} --json ${args}`;
  return { code: r.exitCode, json: JSON.parse(r.stdout || 'null'), stderr: r.stderr };
};
const calls = () =>
  fs
    .readFileSync(path.join(mesh, 'calls.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).join(' '));

test.serial('on a mesh: kubectl and istioctl as sent, the push waited for, v3 promoted', async (t) => {
  const r = await canary('--to', 'v3', '--steps', '50,100');
  t.is(r.code, 0, r.stderr);
  t.is(r.json.result, 'promoted');
  t.is(r.json.dataPlane, "hello1's sidecar (istioctl proxy-config routes deploy/hello1-deploy)");
  const c = [...new Set(calls())];
  t.deepEqual(c, [
    'kubectl --context prod get virtualservice hello2-vs -n http-reciprocal-hello -o json',
    'istioctl --context prod proxy-config routes deploy/hello1-deploy -n http-reciprocal-hello --name 8001 -o json',
    'kubectl --context prod apply -f -',
  ]);
  // each step waited for the push (400 ms), then measured at the pushed weights
  for (const e of r.json.timeline) {
    t.true(e.confirmMs >= 350, `${e.label}: confirmed after ${e.confirmMs} ms`);
    t.is(e.outcome, 'PASS');
  }
  t.deepEqual(pushed(), { v1: 0, v2: 0, v3: 100 });
});

test.serial('on a mesh: --rollback, then a version answering errors is rolled back', async (t) => {
  const back = await canary('--rollback');
  t.is(back.code, 0, back.stderr);
  t.deepEqual(pushed(), { v1: 30, v2: 60, v3: 10 });
  failV3 = 0.3;
  try {
    const r = await canary('--to', 'v3', '--steps', '25,100');
    t.is(r.code, 1, r.stderr);
    t.deepEqual(
      r.json.timeline.map((e: { label: string; outcome: string }) => `${e.label} ${e.outcome}`),
      ['step 1/2 (v3 25 %) FAIL', 'rollback to start PASS'],
    );
    t.is(r.json.timeline[0].gate, 'errors');
    t.deepEqual(pushed(), { v1: 30, v2: 60, v3: 10 });
  } finally {
    failV3 = 0;
  }
});

test.serial(
  'on a mesh: --bake samples for the given seconds instead of N requests; --dry-run changes nothing',
  async (t) => {
    const before = fs.readFileSync(path.join(mesh, 'vs.json'), 'utf8');
    const dry = await withMesh()`node bin/meshbook.js canary --env ${envFile} --to v1 --steps 50,100 --dry-run`;
    t.is(dry.exitCode, 0, dry.stderr);
    t.regex(dry.stdout, /1\. v1=50 v2=43 v3=7 {3}exact v1=50 v2=42\.86 v3=7\.14/);
    t.regex(dry.stdout, /kubectl --context prod apply -f - <<'MESHBOOK_STDIN'\napiVersion: networking\.istio\.io/);
    t.is(fs.readFileSync(path.join(mesh, 'vs.json'), 'utf8'), before, 'nothing applied');
    const r = await canary('--to', 'v1', '--steps', '100', '--bake', '2');
    t.is(r.code, 0, r.stderr);
    const [step] = r.json.timeline;
    t.true(step.durationMs >= 2000, `${step.durationMs} ms`);
    t.true(step.figures.n > 500, `${step.figures.n} requests in 2 s`);
    t.deepEqual(pushed(), { v1: 100, v2: 0, v3: 0 });
  },
);

test.serial('on a mesh: INCONCLUSIVE twice holds the step (exit 2); --resume completes it', async (t) => {
  t.deepEqual(pushed(), { v1: 100, v2: 0, v3: 0 });
  skewV3 = 4;
  try {
    const held = await canary('--to', 'v3', '--steps', '50,100');
    t.is(held.code, 2, held.stderr);
    t.is(held.json.result, 'held');
    const [step] = held.json.timeline;
    t.like(step, { label: 'step 1/2 (v3 50 %)', outcome: 'INCONCLUSIVE' });
    t.true(step.figures.resampled, 'sampled once more, at 2 N');
    t.regex(held.json.message, /held at step 1\/2 \(v3 50 %\)/);
    t.deepEqual(pushed(), { v1: 50, v2: 0, v3: 50 }, 'the step is held as applied');
  } finally {
    skewV3 = 0;
  }
  const resumed = await canary('--resume');
  t.is(resumed.code, 0, resumed.stderr);
  t.deepEqual(
    resumed.json.timeline.map((e: { label: string; outcome: string }) => `${e.label} ${e.outcome}`),
    ['step 1/2 (v3 50 %) INCONCLUSIVE', 'step 1/2 (v3 50 %) PASS', 'step 2/2 (v3 100 %) PASS'],
  );
  t.deepEqual(pushed(), { v1: 0, v2: 0, v3: 100 });
});

// Article 5 on the lab, end to end: `meshbook demo bookinfo` on a fresh lab of its own (timed;
// the target is 30 s on the 2-core machine), every step's status from its table; then the
// page through the lab's ingress (title, no stars for v1, black stars for jason's v2, the
// sample's other paths), the verifier's verdicts for jason and everyone else, and a route
// change (jason to v3: red stars) seen by the next verify, and undone by the runbook's step 14.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { JASON_ONLY_V2, OTHERS_V1, sessionCookie, verifyArgv } from '../scripts/bookinfo/traffic.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-bookinfo-'));
const prefix = `mbb${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const labEnv = {
  MESHBOOK_LAB_PREFIX: prefix,
  MESHBOOK_LAB_DIR: dir,
  MESHBOOK_LAB_ENV_FILE: envFile,
  MESHBOOK_LAB_INVENTORY: path.join(tmp, 'lab-inventory.yaml'),
};
const run = $({
  nothrow: true,
  quiet: true,
  env: { ...process.env, ...labEnv, MESHBOOK_STATE_DIR: path.join(tmp, 'state'), FORCE_COLOR: '0', NO_COLOR: '1' },
});
const meshbook = (...args: string[]) => run`node bin/meshbook.js ${args}`;
const GATEWAY = '192.168.0.100:8080';
const BASE = `http://${GATEWAY}`;
/** curl from the lab's workstation namespace (where the runbook's curl and the verifier run). */
const curl = (...args: string[]) => run`ip netns exec ${`${prefix}-ws`} curl -sS --max-time 10 ${args}`;
let cookie = '';

/** A verify run through the lab's ingress as steps 16 and 17 run it (its argv, with the lab env). */
async function verify(expect: string, withCookie?: string) {
  const args = verifyArgv(GATEWAY, expect, withCookie).slice(2);
  const r = await meshbook(...args, '--env', envFile);
  return { code: r.exitCode, verdict: JSON.parse(r.stdout || '{}').verdict, out: r.stdout.slice(-1500) + r.stderr };
}

test.after.always(async () => {
  await meshbook('lab', 'down');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('meshbook demo bookinfo on a fresh lab: exit 0, the expected statuses, timed', async (t) => {
  const t0 = performance.now();
  const r = await meshbook('demo', 'bookinfo', '--vms', '1');
  const s = (performance.now() - t0) / 1000;
  t.is(r.exitCode, 0, `${r.stdout.slice(-3000)}\n${r.stderr}`);
  const status = (id: string) => new RegExp(`│ bookinfo/${id}\\s*│ ([a-z ]+?)\\s*│`).exec(r.stdout)?.[1];
  for (const id of ['02-install-istio', '11-addons', '01-istio-release', '09-analyze'])
    t.is(status(id), 'not in lab', id);
  for (const id of ['03-label-namespace', '04-deploy-bookinfo', '08-gateway', '12-destination-rules'])
    t.is(status(id), 'changed', id);
  for (const id of ['14-route-jason']) t.is(status(id), 'changed', id);
  for (const id of ['05-wait-pods', '06-pods-2-of-2', '07-productpage-title', '10-ingress', '15-login-jason'])
    t.is(status(id), 'ok', id);
  t.is(status('16-verify-jason'), 'ok');
  t.is(status('17-verify-others'), 'ok');
  t.regex(r.stdout, /signed in as jason: v1 0 \(0\.0 %.*v2 \d+ \(100\.0 %/);
  t.regex(r.stdout, /not signed in: v1 \d+ \(100\.0 %/);
  t.regex(r.stdout, /is the lab's stand-in release/);
  t.log(`meshbook demo bookinfo on a fresh lab: ${s.toFixed(1)} s (target 30 s)`);
  // the target is 30 s alone on the machine; other lab tests may share its 2 cores
  t.true(s < 60, `${s.toFixed(1)} s`);
});

test.serial('the page through the ingress: title, v1 without stars, the sample paths', async (t) => {
  const page = await curl(`${BASE}/productpage`);
  t.is(page.exitCode, 0, page.stderr);
  t.regex(page.stdout, /<title>Simple Bookstore App<\/title>/);
  t.regex(page.stdout, /class="reviews reviews-v1"/);
  t.notRegex(page.stdout, /<font color=/);
  t.regex(page.stdout, /Reviewer1/);
  const codes = async (...args: string[]) => (await curl('-o', '/dev/null', '-w', '%{http_code}', ...args)).stdout;
  t.is(await codes(`${BASE}/static/css/style.css`), '200');
  t.is(await codes(`${BASE}/logout`), '302');
  t.is(await codes(`${BASE}/nothing-routed-here`), '404');
  const api = await curl(`${BASE}/api/v1/products`);
  t.is(JSON.parse(api.stdout)[0].title, 'The Comedy of Errors');
  const login = await curl('-o', '/dev/null', '-D', '-', '--data-urlencode', 'username=jason', `${BASE}/login`);
  cookie = sessionCookie(login.stdout) ?? '';
  t.regex(cookie, /^session=/);
  const jason = await curl('-H', `Cookie: ${cookie}`, `${BASE}/productpage`);
  t.regex(jason.stdout, /class="reviews reviews-v2"/);
  t.regex(jason.stdout, /<font color="black">/);
  t.regex(jason.stdout, /signed in as <b>jason<\/b>/);
});

test.serial('the verifier: jason 100 % v2, everyone else 100 % v1, each exit 0', async (t) => {
  const j = await verify(JASON_ONLY_V2, cookie);
  t.is(j.code, 0, j.out);
  t.is(j.verdict, 'PASS');
  const o = await verify(OTHERS_V1);
  t.is(o.code, 0, o.out);
  t.is(o.verdict, 'PASS');
  // and the wrong expectation fails: the verdicts can tell v1 from v2
  const wrong = await verify(OTHERS_V1, cookie);
  t.is(wrong.code, 1, wrong.out);
  t.is(wrong.verdict, 'FAIL');
});

test.serial('a route change (jason to v3) is seen by the next verify; step 14 puts v2 back', async (t) => {
  const vs = fs
    .readFileSync('lab/istio-release/samples/bookinfo/networking/virtual-service-reviews-test-v2.yaml', 'utf8')
    .replace('subset: v2', 'subset: v3');
  const apply = await run({ input: vs })`node bin/meshbook.js lab kubectl apply -n default -f -`;
  t.is(apply.exitCode, 0, apply.stderr);
  const v3 = await verify('v1=0,v2=0,v3=100', cookie);
  t.is(v3.code, 0, v3.out);
  t.is(v3.verdict, 'PASS');
  const page = await curl('-H', `Cookie: ${cookie}`, `${BASE}/productpage`);
  t.regex(page.stdout, /class="reviews reviews-v3"/);
  t.regex(page.stdout, /<font color="red">/);
  t.is((await verify(JASON_ONLY_V2, cookie)).code, 1);
  const r = await meshbook('rebuild', 'bookinfo', '--env', envFile, '--from', '14-route-jason', '--json');
  t.is(r.exitCode, 0, r.stdout.slice(-2000));
  const rep = JSON.parse(r.stdout);
  const st = (id: string) => rep.steps.find((x: { id: string }) => x.id === `bookinfo/${id}`).hosts.cluster.status;
  t.is(st('14-route-jason'), 'changed');
  t.is(st('16-verify-jason'), 'ok');
  t.is(st('17-verify-others'), 'ok');
});

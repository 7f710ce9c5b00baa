// State you can trust, on a whole lab through the CLI: the journal advises and the checks
// decide. A run killed during step 14 and a hosts line deleted behind meshbook's back: the
// next plain rebuild repairs it (it used to skip step 10 as "done" and exit 0). A lab torn
// down and built again after an interrupted run: the next rebuild rebuilds it (it used to
// skip 02/03 and fail at 04). Two rebuilds at once: one refuses, naming the other. An
// unreadable journal is moved aside. A resumed warm run costs what a warm run costs.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { $ } from 'zx';
import { sshVm, knownHostsOf } from './helpers/lab-ssh.ts';
import { Journal } from '../scripts/engine/journal.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-trust-'));
const prefix = `mbtr${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const inventoryFile = path.join(tmp, 'lab-inventory.yaml');
const stateDir = path.join(tmp, 'state');
const labArgs = ['--prefix', prefix, '--dir', dir, '--lab-env', envFile, '--inventory', inventoryFile];
const ENV = { ...process.env, MESHBOOK_STATE_DIR: stateDir, FORCE_COLOR: '0', NO_COLOR: '1' };
const run = $({ nothrow: true, quiet: true, env: ENV });
const meshbook = (...args: string[]) => run`node bin/meshbook.js ${args}`;
const HOSTLINE = 'hello3-svc.http-reciprocal-hello.svc.cluster.local';

type Rep = {
  steps: Array<{ id: string; hosts: Record<string, { status: string; lines: string[]; error?: string }> }>;
  notices: string[];
};
async function rebuild(...extra: string[]) {
  const r = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes', '--json', ...extra);
  let rep: Rep | undefined;
  try {
    rep = JSON.parse(r.stdout);
  } catch {
    /* refused: no report */
  }
  return { code: r.exitCode, rep: rep!, stderr: r.stderr };
}
const stepOf = (rep: Rep, id: string) => rep.steps.find((s) => s.id === `traffic-shift/${id}`)!.hosts;
const failures = (rep: Rep) =>
  JSON.stringify(
    rep?.steps.flatMap((s) =>
      Object.entries(s.hosts)
        .filter(([, h]) => h.status === 'failed')
        .map(([h, r]) => [s.id, h, r.error]),
    ),
  );
const onVm = (vm: string, script: string) => sshVm({ prefix, dir, inventoryFile }, knownHostsOf(envFile), vm, script);
const journalFile = () => new Journal(envFile, stateDir).fileFor('traffic-shift');

/** Start a rebuild and SIGKILL it once step 14 (the verifier) has begun. */
async function killDuringStep14(): Promise<void> {
  const p = spawn('node', ['bin/meshbook.js', 'rebuild', 'traffic-shift', '--env', envFile, '--yes'], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`step 14 never started:\n${out}`)), 120_000);
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes('14-verify-traffic')) {
        clearTimeout(timer);
        setTimeout(resolve, 300);
      }
    });
    p.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the run ended before step 14 could be interrupted:\n${out}`));
    });
  });
  p.removeAllListeners('exit');
  const gone = new Promise((res) => p.on('exit', res));
  p.kill('SIGKILL');
  await gone;
  // what a kill -9 leaves: a journal that says the run did not finish
  const j = JSON.parse(fs.readFileSync(journalFile(), 'utf8'));
  if (j.complete !== false) throw new Error('the killed run left a journal marked complete');
}

test.after.always(async () => {
  await meshbook('lab', 'down', ...labArgs);
  fs.rmSync(tmp, { recursive: true, force: true });
});

// The labs here have no Docker daemons (--docker-vms 0): what is measured is the journal's and the
// checks' cost (a resumed run against a warm one), which docker CLI start-up noise would drown.
test.serial('a killed run, then a hosts line deleted behind meshbook: the next plain rebuild repairs it', async (t) => {
  t.timeout(600_000);
  const up = await meshbook('lab', 'up', '--vms', '3', '--docker-vms', '0', ...labArgs);
  t.is(up.exitCode, 0, up.stderr);
  const cold = await rebuild();
  t.is(cold.code, 0, failures(cold.rep));
  await killDuringStep14();
  const del = await onVm('vm2', `sed -i '/${HOSTLINE}/d' /etc/hosts; grep -c '${HOSTLINE}' /etc/hosts || true`);
  t.is(del.stdout.trim(), '0');
  const next = await rebuild();
  t.is(next.code, 0, failures(next.rep));
  t.regex(next.stderr, /took over the lock of a run that is gone: pid \d+ \(meshbook rebuild traffic-shift/);
  t.regex(next.stderr, /did not finish: every step runs its check again/);
  const s10 = stepOf(next.rep, '10-hello3-dns');
  t.is(s10.vm2.status, 'changed', JSON.stringify(s10.vm2));
  t.is(s10.vm1.status, 'skipped');
  t.is(s10.vm1.lines[0], 'done in the interrupted run; its check confirms it now');
  t.is((await onVm('vm2', `grep -c '${HOSTLINE}' /etc/hosts`)).stdout.trim(), '1');
  t.is(stepOf(next.rep, '14-verify-traffic').cluster.status, 'ok');
});

test.serial(
  'an interrupted run, lab down, lab up: the next rebuild ' +
    "builds the new lab (nothing is skipped on the journal's word)",
  async (t) => {
    t.timeout(600_000);
    await killDuringStep14();
    t.is((await meshbook('lab', 'down', ...labArgs)).exitCode, 0);
    const up = await meshbook('lab', 'up', '--vms', '3', '--docker-vms', '0', ...labArgs);
    t.is(up.exitCode, 0, up.stderr);
    const next = await rebuild();
    t.is(next.code, 0, failures(next.rep));
    for (const id of ['02-namespace', '03-hello1-hello3']) t.is(stepOf(next.rep, id).cluster.status, 'changed', id);
    t.is(stepOf(next.rep, '04-hello3-ip').cluster.status, 'ok');
    for (const vm of ['vm1', 'vm2', 'vm3']) {
      t.is(stepOf(next.rep, '05-hello2-on-vms')[vm].status, 'changed', vm);
      t.is(stepOf(next.rep, '10-hello3-dns')[vm].status, 'changed', vm);
    }
    // the new lab's VMs are other hosts: their old entries were voided, with a line saying so
    const voided = next.rep.notices.join('\n');
    t.log(voided);
    for (const who of ['vm1', 'vm2', 'vm3', 'cluster'])
      t.regex(voided, new RegExp(`journal of traffic-shift: ${who} is not the (host|cluster) it recorded`));
    t.is(stepOf(next.rep, '14-verify-traffic').cluster.status, 'ok');
  },
);

test.serial('two rebuilds at once: one refuses at once (exit 2, naming the other), the other PASSes', async (t) => {
  t.timeout(600_000);
  const [a, b] = await Promise.all([
    rebuild(),
    new Promise<Awaited<ReturnType<typeof rebuild>>>((res) => setTimeout(() => res(rebuild()), 150)),
  ]);
  const codes = [a.code, b.code].sort();
  t.deepEqual(codes, [0, 2], `${a.stderr}\n${b.stderr}`);
  const refused = a.code === 2 ? a : b;
  const passed = a.code === 0 ? a : b;
  t.regex(
    refused.stderr,
    /another meshbook run is working on this env file: pid \d+ \(meshbook rebuild traffic-shift --env .* --yes --json\)/,
  );
  t.regex(refused.stderr, /nothing was run/);
  t.is(stepOf(passed.rep, '14-verify-traffic').cluster.status, 'ok');
  const j = JSON.parse(fs.readFileSync(journalFile(), 'utf8'));
  t.true(j.complete);
  t.deepEqual(
    fs.readdirSync(path.dirname(journalFile())).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test.serial('an unreadable journal is named and moved aside; the run goes on', async (t) => {
  t.timeout(600_000);
  fs.writeFileSync(journalFile(), '{"version":2,"complete":fal');
  const r = await rebuild('--only', '10-hello3-dns');
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(`journal ${journalFile().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be read \\(not JSON`),
  );
  t.true(fs.readdirSync(path.dirname(journalFile())).some((f) => f.includes('.unreadable-')));
});

test.serial('a resumed warm run costs no more than a warm run from scratch', async (t) => {
  t.timeout(600_000);
  const interrupt = () => {
    const j = JSON.parse(fs.readFileSync(journalFile(), 'utf8'));
    fs.writeFileSync(journalFile(), JSON.stringify({ ...j, complete: false }));
  };
  t.is((await rebuild()).code, 0);
  const warm: number[] = [],
    resumed: number[] = [];
  for (let i = 0; i < 3; i++) {
    let t0 = performance.now();
    const w = await rebuild();
    warm.push((performance.now() - t0) / 1000);
    t.is(w.code, 0);
    interrupt();
    t0 = performance.now();
    const r = await rebuild();
    resumed.push((performance.now() - t0) / 1000);
    t.is(r.code, 0);
    t.is(stepOf(r.rep, '10-hello3-dns').vm1.status, 'skipped');
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
  const ratio = median(resumed) / median(warm);
  t.log(
    `warm from scratch ${warm.map((x) => x.toFixed(2)).join(', ')} s; resumed ` +
      `warm ${resumed.map((x) => x.toFixed(2)).join(', ')} s; median ratio ${ratio.toFixed(2)}`,
  );
  t.true(ratio <= 1.2, `resumed/warm ${ratio.toFixed(2)}`);
});

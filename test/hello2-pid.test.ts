// traffic-shift step 05 under runtime: process when its pid file no longer names what serves
// port 8001, on lab VMs over SSH: a hello2 whose pid file was lost (vm1) and a stray server
// holding the port (vm2). The rerun stops what holds the port, starts hello2, and the pid in
// the pid file is the process serving 8001 (seen by ss, independently of the step's own
// /proc scan); the run after it is unchanged.
// Its lab is built with --docker-vms 0: with a daemon, step 05 is the docker run instead.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labUp, labDown, vmExec } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import rb from '../scripts/traffic-shift/index.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-h2pid-'));
const lab = {
  prefix: `mbhp${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const envFile = path.join(tmp, 'ts.env');
const STEP = '05-hello2-on-vms';
const PID_FILE = '/run/meshbook-hello.pid';

async function rebuild() {
  const loaded = loadInputs(envFile, [rb], { checkFiles: true });
  const rep = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    only: STEP,
    ssh: {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 5,
      commandTimeoutMs: 60_000,
    },
  });
  const hosts = rep.records.find((r) => r.id === `traffic-shift/${STEP}`)!.hosts;
  return { failed: rep.failed, status: (vm: string) => hosts[vm]?.status, detail: JSON.stringify(hosts) };
}

const inVm = async (vm: string, script: string) =>
  (await vmExec(vm, ['bash', '-c', script], { ...lab, nothrow: true })).stdout;
/** The pid(s) listening on 8001 in the VM, as ss sees them. */
const serving = async (vm: string) =>
  [...(await inVm(vm, "ss -Hltnp 'sport = :8001'")).matchAll(/pid=(\d+)/g)].map((m) => m[1]).join(' ');
const pidFile = async (vm: string) => (await inVm(vm, `cat ${PID_FILE} 2>/dev/null || true`)).trim();
const alive = async (vm: string, pid: string) =>
  (await inVm(vm, `a=; read -r -d '' a < /proc/${pid}/cmdline 2>/dev/null; echo "\${a:-gone}"`)).trim();
const GET = 'exec 3<>/dev/tcp/127.0.0.1/8001; printf "GET /hello/eric HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3';
const waitFor = async (what: string, ok: () => Promise<boolean>) => {
  for (let i = 0; i < 50; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

test.before(async () => {
  // no Docker daemons: these VMs run hello2 under the process runtime, which this test is about
  await labUp({ ...lab, vms: 2, cluster: false, dockerVms: 0 });
  fs.writeFileSync(
    envFile,
    fs
      .readFileSync(lab.envFile, 'utf8')
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`)
      .replace(/^VM_ROUTES=.*\n/m, ''),
    { mode: 0o600 },
  );
  const first = await rebuild();
  if (first.failed || first.status('vm1') !== 'changed' || first.status('vm2') !== 'changed')
    throw new Error(`first rebuild: ${first.detail}`);
});

test.after.always(async () => {
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial(
  'a lost pid file: the running hello2 is replaced, the pid ' +
    'file names the process serving 8001, the next run is unchanged',
  async (t) => {
    const old = await pidFile('vm1');
    t.is(await serving('vm1'), old);
    await inVm('vm1', `rm ${PID_FILE}`);
    const second = await rebuild();
    t.false(second.failed, second.detail);
    t.is(second.status('vm1'), 'changed');
    t.is(second.status('vm2'), 'unchanged');
    const now = await pidFile('vm1');
    t.regex(now, /^\d+$/);
    t.not(now, old);
    t.is(await serving('vm1'), now, 'the pid in the pid file serves port 8001');
    t.is(await alive('vm1', old), 'gone');
    t.regex((await inVm('vm1', GET)).replace(/\r/g, ''), /\n\nHello eric\(192\.168\.0\.250\)/);
    const third = await rebuild();
    t.is(third.status('vm1'), 'unchanged', third.detail);
    t.is(await pidFile('vm1'), now);
  },
);

test.serial(
  'a stray server on port 8001 (hello2 stopped, pid file gone): ' +
    'it is stopped, hello2 serves, the next run is unchanged',
  async (t) => {
    await inVm('vm2', `kill "$(cat ${PID_FILE})"; rm ${PID_FILE}`);
    await waitFor('hello2 to stop on vm2', async () => (await serving('vm2')) === '');
    const stray = (
      await inVm(
        'vm2',
        `setsid node -e "require('http').createServer((q, s) => ` +
          `s.end('stray\\\\n')).listen(8001)" > /dev/null 2>&1 < /dev/null & echo $!`,
      )
    ).trim();
    await waitFor('the stray server to listen', async () => (await serving('vm2')) === stray);
    t.regex(await inVm('vm2', GET), /\r\n\r\nstray\n$/);
    const second = await rebuild();
    t.false(second.failed, second.detail);
    t.is(second.status('vm2'), 'changed');
    t.regex(second.detail, new RegExp(`stopped pid ${stray} \\(node -e`));
    const now = await pidFile('vm2');
    t.regex(now, /^\d+$/);
    t.is(await serving('vm2'), now, 'the pid in the pid file serves port 8001');
    t.is(await alive('vm2', stray), 'gone');
    t.regex((await inVm('vm2', GET)).replace(/\r/g, ''), /\n\nBonjour eric\(192\.168\.0\.251\)/);
    const third = await rebuild();
    t.is(third.status('vm2'), 'unchanged', third.detail);
    t.is(third.status('vm1'), 'unchanged', third.detail);
  },
);

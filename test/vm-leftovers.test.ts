// write_file leaves nothing behind when it cannot replace its target, on a lab VM over SSH:
// an immutable /etc/hosts (chattr +i: the VM's /etc is an overlay on ext4, which keeps the
// flag), a read-only bind mount over it, an immutable env file and a directory where the env
// file should be. Each time the step fails with a clear error, no temporary copy is left
// next to the target, and the canary secret of the env file is in no file anywhere: the VM's
// /etc, /tmp, /var/tmp, /run, /opt/asm_vm_proxy and, on the machine, the lab's state dir
// (it holds the VM's overlay upper layers: all it wrote to /opt, /etc, /usr, /var) and
// every other file of the test but its env files. Once the obstacle is
// gone, a rerun converges and the next one changes nothing.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labUp, labDown, vmExec } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import rb from '../scripts/asm-vm-proxy/index.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-left-'));
const lab = {
  prefix: `mbvl${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const envDir = path.join(tmp, 'envs'); // the only files that may hold a canary before it is written
const ENV_FILE = '/opt/asm_vm_proxy/asm_vm_proxy.env';
const ZIPKIN = '172.19.0.20 zipkin.istio-system';

const inVm = async (script: string) => {
  const r = await vmExec('vm1', ['bash', '-c', script], { ...lab, nothrow: true });
  return r.stdout;
};

/** An env file for the asm-vm-proxy runbook on this lab with `secret` as ACCESS_KEY_SECRET. */
function envWith(secret: string): string {
  fs.mkdirSync(envDir, { recursive: true });
  const f = path.join(envDir, `${secret}.env`);
  fs.writeFileSync(
    f,
    fs
      .readFileSync(lab.envFile, 'utf8')
      .replace(/^ACCESS_KEY_SECRET=.*$/m, `ACCESS_KEY_SECRET=${secret}`)
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`),
    { mode: 0o600 },
  );
  return f;
}

async function rebuild(envFile: string, step: string) {
  const loaded = loadInputs(envFile, [rb], { checkFiles: true });
  const rep = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    only: step,
    ssh: {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 5,
      commandTimeoutMs: 60_000,
    },
  });
  const host = rep.records.find((r) => r.id === `asm-vm-proxy/${step}`)?.hosts.vm1;
  return { failed: rep.failed, status: host?.status, text: JSON.stringify(host) };
}

/** meshbook's temporary files (DEST.meshbook.*) under these VM dirs and in the VM's overlay
 *  upper layers on the machine (every file written to the VM's /etc, /opt, /usr, /var). */
async function tempFiles(...dirs: string[]): Promise<string> {
  const host = await $({ nothrow: true, quiet: true })`find ${lab.dir} -name ${'*.meshbook.*'}`;
  return (await inVm(`find ${dirs.join(' ')} -name '*.meshbook.*' 2>/dev/null || true`)) + host.stdout;
}

/** Every file holding `needle`: in the VM's /etc, /tmp, /var/tmp, /run and the env file's
 *  dir, and on the machine every file of the test but its env files: the lab's state dir
 *  holds the VM's overlay upper layers, i.e. every file written to the VM's /etc, /opt, /usr
 *  and /var (the VM's /opt as a whole is also the machine's, gigabytes here, not grepped),
 *  and its /tmp, /root, /home. */
async function filesWith(needle: string): Promise<string[]> {
  const vm = await inVm(`grep -rlF -e '${needle}' /etc /tmp /var/tmp /run /opt/asm_vm_proxy 2>/dev/null || true`);
  const host = await $({ nothrow: true, quiet: true })`grep -rlF --exclude-dir=envs -e ${needle} ${tmp}`;
  return [
    ...vm
      .split('\n')
      .filter(Boolean)
      .map((f) => `vm1:${f}`),
    ...host.stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => `host:${path.relative(tmp, f)}`),
  ];
}

test.before(async () => {
  await labUp({ ...lab, vms: 1, cluster: false });
});

test.after.always(async () => {
  // an immutable file would stop lab down from removing the VM's overlay layers
  await inVm(`chattr -i /etc/hosts ${ENV_FILE} 2>/dev/null; umount /etc/hosts 2>/dev/null; true`).catch(
    () => undefined,
  );
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('the lab VM keeps chattr +i on /etc/hosts (an overlay on ext4)', async (t) => {
  t.is(await inVm('chattr +i /etc/hosts && lsattr /etc/hosts | cut -c5; chattr -i /etc/hosts'), 'i\n');
});

for (const [what, block, unblock] of [
  ['immutable (chattr +i)', 'chattr +i /etc/hosts', 'chattr -i /etc/hosts'],
  [
    'a read-only bind mount',
    'mount --bind /etc/hosts /etc/hosts && mount -o remount,ro,bind /etc/hosts',
    'umount /etc/hosts',
  ],
] as const) {
  test.serial(
    `/etc/hosts ${what}: 07-tracing fails clearly, leaves no temp file in /etc; unblocked, it converges`,
    async (t) => {
      const env = envWith(`canary-hosts-${Math.random().toString(36).slice(2, 10)}`);
      await inVm(`grep -v zipkin /etc/hosts > /tmp/h; cat /tmp/h > /etc/hosts; rm /tmp/h; ${block}`);
      const hosts = await inVm('cat /etc/hosts');
      const failed = await rebuild(env, '07-tracing');
      t.true(failed.failed);
      t.is(failed.status, 'failed');
      t.regex(failed.text, /write_file: \/etc\/hosts was not replaced/);
      t.regex(failed.text, /Operation not permitted|Device or resource busy/);
      t.is(await tempFiles('/etc'), '');
      t.is(await inVm('cat /etc/hosts'), hosts, '/etc/hosts is as it was');
      await inVm(unblock);
      t.is((await rebuild(env, '07-tracing')).status, 'changed');
      t.is(await inVm('grep zipkin /etc/hosts'), `${ZIPKIN}\n`);
      t.is((await rebuild(env, '07-tracing')).status, 'unchanged');
      t.is(await tempFiles('/etc'), '');
    },
  );
}

for (const [what, block, unblock, error] of [
  [
    'immutable (chattr +i)',
    `echo OLD=1 > ${ENV_FILE} && chattr +i ${ENV_FILE}`,
    `chattr -i ${ENV_FILE}`,
    /Operation not permitted/,
  ],
  ['a directory in the way', `rm -f ${ENV_FILE}; mkdir ${ENV_FILE}`, `rmdir ${ENV_FILE}`, /cannot overwrite directory/],
] as const) {
  test.serial(
    `the env file ${what}: 03-env-file fails clearly, its secret ` +
      `is in no file and no temp file is left; unblocked, it converges`,
    async (t) => {
      const canary = `canary-${Math.random().toString(36).slice(2, 10)}-secret`;
      const env = envWith(canary);
      await inVm(`chattr -i ${ENV_FILE} 2>/dev/null; rm -rf ${ENV_FILE}; mkdir -p /opt/asm_vm_proxy; ${block}`);
      const failed = await rebuild(env, '03-env-file');
      t.true(failed.failed);
      t.is(failed.status, 'failed');
      t.regex(failed.text, /write_file: \/opt\/asm_vm_proxy\/asm_vm_proxy\.env was not replaced/);
      t.regex(failed.text, error);
      t.false(failed.text.includes(canary));
      t.is(await tempFiles('/opt/asm_vm_proxy', '/etc', '/tmp', '/var/tmp', '/run'), '');
      t.deepEqual(await filesWith(canary), []);
      await inVm(unblock);
      t.is((await rebuild(env, '03-env-file')).status, 'changed');
      t.is(await inVm(`stat -c %a ${ENV_FILE}; grep -c "^ACCESS_KEY_SECRET=${canary}$" ${ENV_FILE}`), '600\n1\n');
      // now exactly the env file holds it (and, on the machine, the VM's overlay copy of it)
      const holders = await filesWith(canary);
      t.deepEqual(
        holders.filter((f) => f.startsWith('vm1:')),
        [`vm1:${ENV_FILE}`],
      );
      t.true(
        holders
          .filter((f) => f.startsWith('host:'))
          .every((f) => f.endsWith('/opt/upper/asm_vm_proxy/asm_vm_proxy.env')),
        holders.join('\n'),
      );
      t.is((await rebuild(env, '03-env-file')).status, 'unchanged');
      t.is(await tempFiles('/opt/asm_vm_proxy'), '');
    },
  );
}

// A lab never inherits yesterday: every new lab has a new generation id (LAB_GENERATION in
// the lab env, `generation` in lab.json) and fresh SSH host keys on its VMs, and the lab's
// known_hosts follows, so ssh's StrictHostKeyChecking=accept-new never refuses; `up` runs
// that converge the same lab keep the id. Also: the lab's lock files are never seen empty.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labDown, labUp, readState, resolveConfig, sshArgv, type LabOptions } from '../lab/vms.ts';
import { createExclusive, takeLockFile } from '../lab/sys.ts';

const enabled = process.platform === 'linux' && process.getuid?.() === 0;
const serial = enabled ? test.serial : test.serial.skip;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-gen-'));
const opts: LabOptions = {
  prefix: `mbg${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'out', 'lab.env'),
  inventoryFile: path.join(tmp, 'out', 'lab-inventory.yaml'),
};
const cfg = resolveConfig(opts);
const sh = $({ quiet: true, nothrow: true });

test.after.always(async () => {
  if (enabled) await labDown(opts).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

const envGeneration = () => /^LAB_GENERATION=(.*)$/m.exec(fs.readFileSync(cfg.envFile, 'utf8'))?.[1];
const hostKey = (vm: string) =>
  fs
    .readFileSync(path.join(cfg.dir, 'vms', vm, 'ssh_host_ed25519_key.pub'), 'utf8')
    .split(' ')
    .slice(0, 2)
    .join(' ');
const knownHosts = () => fs.readFileSync(cfg.knownHostsFile, 'utf8').trim().split('\n');
/** ssh with the lab's own client config (UserKnownHostsFile = the lab's, accept-new). */
const sshOk = async (vm: string) => {
  const r = await sh`${sshArgv(cfg, vm, ['hostname'])}`;
  return r.exitCode === 0 ? r.stdout.trim() : `exit ${r.exitCode}: ${r.stderr.trim()}`;
};

serial('a new lab gets a new generation id and fresh host keys; converging keeps the id', async (t) => {
  const a = await labUp({ ...opts, vms: 2 });
  const gen1 = a.state.generation!;
  t.regex(gen1, /^[0-9a-f]{16}$/);
  t.is(envGeneration(), gen1);
  t.is((await readState(cfg))!.generation, gen1);
  const keys1 = ['vm1', 'vm2'].map(hostKey);
  t.deepEqual(
    knownHosts(),
    a.state.vms.map((v, i) => `${v.address} ${keys1[i]}`),
  );
  t.is(await sshOk('vm1'), 'vm1');

  // converging the same lab (a second up, a grow, a shrink) keeps the id and the keys
  t.is((await labUp(opts)).state.generation, gen1);
  const grown = await labUp({ ...opts, vms: 3 });
  t.is(grown.state.generation, gen1);
  t.deepEqual(['vm1', 'vm2'].map(hostKey), keys1);
  t.is(envGeneration(), gen1);
  const vm3 = grown.state.vms[2].address;
  t.true(knownHosts().includes(`${vm3} ${hostKey('vm3')}`));
  t.is(await sshOk('vm3'), 'vm3');
  const shrunk = await labUp({ ...opts, vms: 2 });
  t.is(shrunk.state.generation, gen1);
  t.false(
    knownHosts().some((l) => l.startsWith(`${vm3} `)),
    "the removed VM's key left known_hosts",
  );

  // down + up: a new lab, a new id, new host keys at the same addresses, and ssh accepts them
  await labDown(opts);
  const b = await labUp({ ...opts, vms: 2 });
  const gen2 = b.state.generation!;
  t.regex(gen2, /^[0-9a-f]{16}$/);
  t.not(gen2, gen1);
  t.is(envGeneration(), gen2);
  const keys2 = ['vm1', 'vm2'].map(hostKey);
  t.not(keys2[0], keys1[0]);
  t.not(keys2[1], keys1[1]);
  t.deepEqual(
    knownHosts(),
    b.state.vms.map((v, i) => `${v.address} ${keys2[i]}`),
  );
  t.is(await sshOk('vm1'), 'vm1');
  t.is(await sshOk('vm2'), 'vm2');
});

serial('a state dir without lab.json is not inherited: new id, new host keys, leftover namespaces gone', async (t) => {
  const before = (await readState(cfg))!;
  const keys = ['vm1', 'vm2'].map(hostKey);
  // lab.json lost (a crash, a hand): its VMs' disks, keys and namespaces are still there
  fs.rmSync(cfg.stateFile);
  const oldPid = before.vms[0].sshd!.pid;
  const r = await labUp({ ...opts, vms: 2 });
  t.not(r.state.generation, before.generation);
  t.is(envGeneration(), r.state.generation);
  t.not(hostKey('vm1'), keys[0]);
  t.not(hostKey('vm2'), keys[1]);
  t.not(r.state.vms[0].sshd!.pid, oldPid);
  t.deepEqual(r.created, ['vm1', 'vm2']);
  t.is(await sshOk('vm1'), 'vm1');
  t.is(await sshOk('vm2'), 'vm2');
});

test(
  'a lock file is created whole and taken by exactly one ' + "of many at once; a dead holder's lock is taken over",
  async (t) => {
    const d = fs.mkdtempSync(path.join(tmp, 'lock-'));
    const f = path.join(d, '.lock');
    const wins = await Promise.all(Array.from({ length: 40 }, (_, i) => createExclusive(f, `writer ${i}\n`, 0o600)));
    t.is(wins.filter(Boolean).length, 1);
    t.regex(fs.readFileSync(f, 'utf8'), /^writer \d+\n$/);
    t.is(fs.statSync(f).mode & 0o777, 0o600);
    t.deepEqual(fs.readdirSync(d), ['.lock'], 'no temp file is left');

    // a lock of a process that is gone (no process has pid 999999999): taken over once
    fs.writeFileSync(f, '999999999 0\n');
    const takers = await Promise.all(Array.from({ length: 20 }, () => takeLockFile(f)));
    t.is(takers.filter((x) => x === null).length, 1);
    t.true(takers.every((x) => x === null || x === process.pid));
    t.regex(fs.readFileSync(f, 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`));
    t.deepEqual(fs.readdirSync(d), ['.lock'], 'no temp file is left');
  },
);

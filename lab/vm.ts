// meshbook lab: the VMs - a VM's state dir, its health, its start (vm-init.sh -> sshd as PID 1); removing and
// (re)starting them for `up`.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import {
  LabError,
  PROFILES_DIR,
  VM_IFNAME,
  VM_INIT,
  type LabConfig,
  type LabUpOptions,
  type Subnet,
  type VmSpec,
} from './config.ts';
import { ensureKey } from './keys.ts';
import { renderSshdConfig, renderVmHosts } from './outputs.ts';
import type { LabState, VmState } from './state.ts';
import { destroyAttached, linkToSwitch } from './switch.ts';
import {
  CLEAN_ENV,
  alive,
  createExclusive,
  createNetns,
  listening,
  mapLimit,
  netnsInode,
  netnsWithPrefix,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  sleep,
  statExists,
  writeIfChanged,
  type ProcRef,
} from './sys.ts';

export const vmDir = (cfg: LabConfig, name: string) => path.join(cfg.dir, 'vms', name);
export const sameSpec = (a: VmSpec, b: VmSpec) =>
  a.name === b.name && a.netns === b.netns && a.address === b.address && a.profile === b.profile;

/** Is this VM up: namespace, its PID 1 sshd, listening on its address, its switch port? */
export function vmHealthy(v: VmState, ports: Set<string>): boolean {
  const ino = netnsInode(v.netns);
  return (
    ino !== null &&
    ports.has(v.name) &&
    alive(v.sshd) &&
    procNetnsInode(v.sshd!.pid) === ino &&
    procComm(v.sshd!.pid) === 'sshd' &&
    listening(v.sshd!.pid, v.address, 22)
  );
}

async function tail(file: string, lines = 8): Promise<string> {
  const t = await fsp.readFile(file, 'utf8').catch(() => '');
  return t.trim().split('\n').slice(-lines).join(' | ');
}

export async function prepareVmDir(cfg: LabConfig, v: VmSpec, clientPub: string): Promise<string> {
  const dir = vmDir(cfg, v.name);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await ensureKey(path.join(dir, 'ssh_host_ed25519_key'), `${v.name}.${cfg.prefix}`);
  await writeIfChanged(path.join(dir, 'authorized_keys'), clientPub, 0o600);
  await writeIfChanged(path.join(dir, 'sshd_config'), renderSshdConfig(v), 0o600);
  // the VM's own /etc/hosts and /etc/hostname, written once into its private /etc
  const etcUpper = path.join(dir, 'fs', 'etc', 'upper');
  await fsp.mkdir(etcUpper, { recursive: true, mode: 0o755 });
  for (const [f, text] of [
    ['hosts', renderVmHosts(v)],
    ['hostname', `${v.name}\n`],
  ] as const) {
    await createExclusive(path.join(etcUpper, f), text, 0o644);
  }
  return dir;
}

/** Start the VM's first process (vm-init.sh -> sshd) and wait until sshd listens. */
export async function startVm(
  v: VmSpec,
  dir: string,
  initScript = VM_INIT,
): Promise<{ holder: ProcRef; sshd: ProcRef }> {
  const log = path.join(dir, 'console.log');
  const fd = openSync(log, 'a', 0o600);
  let child: ChildProcess;
  try {
    const fsMode = process.env.MESHBOOK_LAB_FS;
    const env = { ...CLEAN_ENV, ...(fsMode && /^[a-z-]+$/.test(fsMode) ? { MESHBOOK_LAB_FS: fsMode } : {}) };
    child = spawn(
      'ip',
      [
        'netns',
        'exec',
        v.netns,
        'unshare',
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        initScript,
        v.name,
        dir,
        path.join(PROFILES_DIR, v.profile),
      ],
      { detached: true, stdio: ['ignore', fd, fd], env, cwd: '/' },
    );
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  child.unref();
  const holderPid = child.pid;
  const holder = holderPid ? procRef(holderPid) : null;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (spawnError || !holder) throw new LabError(`${v.name}: could not start (${spawnError?.message ?? 'no pid'})`);
    if (child.exitCode !== null || child.signalCode !== null || !alive(holder)) {
      throw new LabError(`${v.name}: init exited (${child.exitCode ?? child.signalCode}): ${await tail(log)}`);
    }
    const pid1 = procChildren(holder.pid)[0];
    if (pid1 && procComm(pid1) === 'sshd' && listening(pid1, v.address, 22)) {
      const sshd = procRef(pid1);
      if (sshd) return { holder, sshd };
    }
    await sleep(15);
  }
  throw new LabError(`${v.name}: sshd did not listen on ${v.address}:22 within 20 s: ${await tail(log)}`);
}

/** remove_gone_vms: VM namespaces and disks beyond the plan; returns their names. */
export async function removeGoneVms(
  cfg: LabConfig,
  prev: LabState | null,
  plan: VmSpec[],
  progress: (m: string) => void,
): Promise<string[]> {
  const removed: string[] = [];
  const vmPattern = new RegExp(`^${cfg.prefix}-vm\\d+$`);
  const wanted = new Set(plan.map((v) => v.netns));
  const gone = (await netnsWithPrefix(cfg.prefix))
    .filter((ns) => vmPattern.test(ns) && !wanted.has(ns))
    .map((ns) => ({ netns: ns, port: ns.slice(cfg.prefix.length + 1) }));
  if (gone.length) {
    progress(`removing ${gone.length} VM${gone.length > 1 ? 's' : ''}`);
    await destroyAttached(cfg, gone);
    for (const g of gone) {
      await fsp.rm(vmDir(cfg, g.port), { recursive: true, force: true });
      removed.push(g.port);
    }
  }
  for (const p of prev?.vms ?? []) {
    if (!plan.some((v) => v.name === p.name) && !removed.includes(p.name)) {
      await fsp.rm(vmDir(cfg, p.name), { recursive: true, force: true });
      removed.push(p.name);
    }
  }
  return removed;
}

/**
 * ensure_vms: healthy VMs are kept; the others are cleared (a changed VM also loses its disk)
 * and started, 6 at a time, each until its sshd listens. Records their processes in `state`.
 */
export async function ensureVms(
  cfg: LabConfig,
  opts: LabUpOptions,
  prev: LabState | null,
  state: LabState,
  at: { subnet: Subnet; ports: Set<string>; clientPub: string },
  progress: (m: string) => void,
): Promise<{ kept: string[]; created: string[] }> {
  const prevByName = new Map((prev?.vms ?? []).map((v) => [v.name, v]));
  const kept: string[] = [];
  const todo: VmState[] = [];
  for (const v of state.vms) {
    const p = prevByName.get(v.name);
    if (p && sameSpec(p, v) && vmHealthy(p, at.ports)) {
      kept.push(v.name);
      continue;
    }
    todo.push(v);
  }
  if (todo.length) {
    progress(`starting ${todo.length} VM${todo.length > 1 ? 's' : ''}`);
    // unhealthy leftovers go first (a changed VM also loses its disk)
    const stale = todo.filter(
      (v) => netnsInode(v.netns) !== null || at.ports.has(v.name) || statExists(path.join('/run/netns', v.netns)),
    );
    await destroyAttached(
      cfg,
      stale.map((v) => ({ netns: v.netns, port: v.name })),
    );
    for (const v of stale) {
      const p = prevByName.get(v.name);
      if (p && !sameSpec(p, v)) await fsp.rm(vmDir(cfg, v.name), { recursive: true, force: true });
    }
    await createNetns(todo.map((v) => v.netns));
    let started = 0;
    await mapLimit(todo, 6, async (v) => {
      const dir = await prepareVmDir(cfg, v, at.clientPub);
      await linkToSwitch(cfg.switchNetns, v.netns, v.name, VM_IFNAME, `${v.address}/${at.subnet.len}`);
      const refs = await startVm(v, dir, opts.initScript);
      v.holder = refs.holder;
      v.sshd = refs.sshd;
      progress(`starting VMs: ${++started}/${todo.length} ready`);
    });
  }
  return { kept, created: todo.map((v) => v.name) };
}

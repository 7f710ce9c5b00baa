// meshbook lab: a Docker daemon in each lab VM (Debian's docker.io: dockerd 20.10 and its own
// containerd), started inside the VM's network, mount, UTS and PID namespaces with
// `nsenter -t <VM PID 1>` (not `ip netns exec`, which mounts a fresh /sys without the cgroup
// mounts; vm-init.sh mounts the cgroup hierarchies again in the VM's own /sys).
//
// What it touches, and why nothing of it is outside the VM:
//   data root   /var/lib/docker in the VM = <state>/vms/vmN/docker (vm-init.sh's bind mount)
//   exec root   /run/docker, socket /run/docker.sock (= /var/run/docker.sock): the VM's private
//               /run tmpfs, so the VM's `docker` finds its own daemon by default; its mounts
//               (<exec-root>/netns/default, container rootfs) live in the VM's mount namespace
//   network     --bridge=none --iptables=false --ip-forward=false --ip-masq=false: no docker0,
//               no DOCKER chains, no sysctl written; containers use --network host (the VM's)
//   cgroups     --cgroup-parent /meshbook-lab-<prefix>-<vm>: `lab down` removes those dirs
//   client      the VM's `docker` is the daemon's own client (/usr/bin/docker, API 1.41): a
//               newer CLI in /usr/local/bin is shadowed in the VM's /usr overlay only
// Then the lab's images (images.ts) are loaded into it when it lacks them.
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, existsSync, openSync, promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { LabError, type LabConfig } from '../config.ts';
import type { LabState, VmState } from '../state.ts';
import {
  CLEAN_ENV,
  alive,
  mapLimit,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  run,
  sleep,
  type ProcRef,
} from '../sys.ts';
import type { LabImages } from './images.ts';

const DOCKERD = '/usr/sbin/dockerd';
const CLIENT = '/usr/bin/docker';
const START_TIMEOUT_MS = 60_000;

/** Is Debian's docker.io on this machine (dockerd and its client)? */
export const dockerInstalled = () => existsSync(DOCKERD) && existsSync(CLIENT);

export const cgroupParent = (cfg: LabConfig, vm: string) => `meshbook-lab-${cfg.prefix}-${vm}`;

export function dockerdArgs(cfg: LabConfig, vm: string): string[] {
  return [
    '--data-root=/var/lib/docker',
    '--exec-root=/run/docker',
    '--pidfile=/run/docker.pid',
    '--host=unix:///run/docker.sock',
    '--bridge=none',
    '--iptables=false',
    '--ip-forward=false',
    '--ip-masq=false',
    '--userland-proxy=false',
    `--cgroup-parent=/${cgroupParent(cfg, vm)}`,
    '--exec-opt=native.cgroupdriver=cgroupfs',
  ];
}

const inVm = (v: VmState, argv: string[]) => [
  'nsenter',
  '-t',
  String(v.sshd!.pid),
  '-n',
  '-m',
  '-u',
  '-p',
  '--wd=/',
  '--',
  ...argv,
];

/** `docker ARGS` in the VM with the daemon's own client. */
export const dockerInVm = (v: VmState, args: string[], opts: { nothrow?: boolean } = {}) =>
  run(inVm(v, [CLIENT, ...args]), opts);

/** The VM's daemon runs: the recorded dockerd lives and its socket is in the VM's /run. */
export function daemonHealthy(v: VmState): boolean {
  return alive(v.dockerd) && alive(v.sshd) && existsSync(`/proc/${v.sshd!.pid}/root/run/docker.sock`);
}

async function tail(file: string, lines = 5): Promise<string> {
  const t = await fsp.readFile(file, 'utf8').catch(() => '');
  return t.trim().split('\n').slice(-lines).join(' | ');
}

/** A dockerd already running in the VM's network namespace (e.g. from an interrupted `up`). */
function runningDaemon(v: VmState): ProcRef | null {
  const ino = procNetnsInode(v.sshd!.pid);
  for (const e of readdirSync('/proc')) {
    if (/^\d+$/.test(e) && procComm(Number(e)) === 'dockerd' && procNetnsInode(Number(e)) === ino) {
      return procRef(Number(e));
    }
  }
  return null;
}

/** Start dockerd in the VM and wait until its API answers; returns the dockerd process. */
async function startDaemon(cfg: LabConfig, v: VmState, log: string): Promise<ProcRef> {
  // the VM's `docker` is the daemon's own client (only in the VM's /usr overlay)
  await run(
    inVm(v, [
      '/bin/sh',
      '-c',
      'if [ -e /usr/local/bin/docker ] && ! [ /usr/local/bin/docker -ef /usr/bin/docker ]; then ' +
        'ln -sfn /usr/bin/docker /usr/local/bin/docker; fi',
    ]),
  );
  const fd = openSync(log, 'a', 0o600);
  let child;
  try {
    child = spawn('nsenter', inVm(v, [DOCKERD, ...dockerdArgs(cfg, v.name)]).slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: CLEAN_ENV,
      cwd: '/',
    });
  } finally {
    closeSync(fd);
  }
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  let dockerd: ProcRef | null = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LabError(`${v.name}: dockerd exited (${child.exitCode}): ${await tail(log)}`);
    const pid = child.pid ? procChildren(child.pid)[0] : undefined;
    if (!dockerd && pid && procComm(pid) === 'dockerd') dockerd = procRef(pid);
    if (dockerd && existsSync(`/proc/${v.sshd!.pid}/root/run/docker.sock`)) {
      const ok = await dockerInVm(v, ['version', '--format', '{{.Server.Version}}'], { nothrow: true });
      if (ok.exitCode === 0) return dockerd;
    }
    await sleep(50);
  }
  throw new LabError(`${v.name}: dockerd did not answer within ${START_TIMEOUT_MS / 1000} s: ${await tail(log)}`);
}

/** Load the lab's images into the VM's daemon unless it has each of them already. */
async function loadImages(v: VmState, images: LabImages): Promise<boolean> {
  const refs = images.images.map((i) => i.ref);
  const have = await dockerInVm(v, ['image', 'inspect', '--format', '{{.Id}}', ...refs], { nothrow: true });
  const ids = have.stdout.trim().split('\n');
  if (have.exitCode === 0 && images.images.every((i, n) => ids[n] === i.id)) return false;
  await new Promise<void>((resolve, reject) => {
    const p = spawn(inVm(v, [])[0], [...inVm(v, []).slice(1), CLIENT, 'load', '--quiet'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: CLEAN_ENV,
    });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    createReadStream(images.archive).pipe(p.stdin);
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new LabError(`${v.name}: docker load: ${err.trim()}`))));
  });
  return true;
}

export interface DaemonsResult {
  /** VMs whose daemon runs now */
  vms: string[];
  started: string[];
  loaded: string[];
}

/**
 * ensure_daemons: a running daemon with the lab's images in each of `vms` (the others get
 * none: their recorded daemon, if any, is left to die with the VM); records each dockerd in
 * `state` (lab.json). 4 at a time.
 */
export async function ensureDaemons(
  cfg: LabConfig,
  state: LabState,
  names: Set<string>,
  images: LabImages,
  progress: (m: string) => void,
): Promise<DaemonsResult> {
  const res: DaemonsResult = { vms: [], started: [], loaded: [] };
  const vms = state.vms.filter((v) => names.has(v.name));
  const todo = vms.filter((v) => !daemonHealthy(v));
  if (todo.length) progress(`starting ${todo.length} Docker daemon${todo.length > 1 ? 's' : ''}`);
  await mapLimit(vms, 4, async (v) => {
    if (!daemonHealthy(v)) v.dockerd = runningDaemon(v) ?? undefined;
    if (!daemonHealthy(v)) {
      const log = path.join(cfg.dir, 'vms', v.name, 'docker.log');
      v.dockerd = await startDaemon(cfg, v, log);
      res.started.push(v.name);
    }
    if (await loadImages(v, images)) res.loaded.push(v.name);
    res.vms.push(v.name);
  });
  for (const v of state.vms) if (!names.has(v.name)) v.dockerd = undefined;
  return res;
}

/**
 * After the VMs' processes are gone: remove the cgroups their daemons made (cgroup parents
 * /meshbook-lab-<prefix>-*, in every hierarchy), deepest first. A cgroup whose last process
 * is still exiting is busy for a moment: retried for up to 5 s.
 */
export async function removeCgroups(cfg: LabConfig): Promise<string[]> {
  const root = '/sys/fs/cgroup';
  const ours = `meshbook-lab-${cfg.prefix}-`;
  const tops: string[] = [];
  const hierarchies = existsSync(path.join(root, 'cgroup.controllers'))
    ? [root]
    : (await fsp.readdir(root).catch(() => [] as string[])).map((h) => path.join(root, h));
  for (const h of hierarchies) {
    for (const e of await fsp.readdir(h).catch(() => [] as string[]))
      if (e.startsWith(ours)) tops.push(path.join(h, e));
  }
  const dirsUnder = async (d: string): Promise<string[]> => {
    const subs = (await fsp.readdir(d, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
    return [...(await Promise.all(subs.map((s) => dirsUnder(path.join(d, s.name))))).flat(), d];
  };
  const deadline = Date.now() + 5000;
  for (const top of tops) {
    for (const d of await dirsUnder(top)) {
      for (;;) {
        try {
          await fsp.rmdir(d);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || Date.now() > deadline) throw new LabError(`cannot remove cgroup ${d}: ${code}`);
          await sleep(50);
        }
      }
    }
  }
  return tops;
}

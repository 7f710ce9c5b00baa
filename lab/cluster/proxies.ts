// meshbook lab cluster: the NGINX processes of the data plane (Debian's /usr/sbin/nginx).
//
//   gateway   in the node's network namespace (nsenter --net: the machine's filesystem,
//             files in <state>/cluster/gateway), workers as nobody
//   sidecars  inside a VM or pod (nsenter into its PID 1: network, mount, UTS, PID
//             namespaces), files in that VM's or pod's private /run/meshlab/sidecar,
//             written through /proc/<pid 1>/root; workers as istio-proxy (uid 1337)
//
// lab/cluster/sidecar.sh does the work inside (nginx -t, reload or start, interception);
// here the lab writes the files and waits until the new configuration is live: after a
// reload, until the old workers are gone; after a start, until every port listens.
import path from 'node:path';
import { promises as fsp, readFileSync, readdirSync } from 'node:fs';
import { LabError, REPO_ROOT } from '../config.ts';
import {
  alive,
  netnsInode,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  procStat,
  run,
  sleep,
  writeIfChanged,
  type ProcRef,
} from '../sys.ts';
import { NETNS_PATH } from './network.ts';

const HERE = path.join(REPO_ROOT, 'lab', 'cluster');
export const SIDECAR_SH = path.join(HERE, 'sidecar.sh');
export const POD_INIT_SH = path.join(HERE, 'pod-init.sh');
export const ISTIO_IPTABLES_SH = path.join(REPO_ROOT, 'vm', 'istio-iptables.sh');
/** Where a sidecar's files live inside its VM or pod. */
export const SIDECAR_DIR = '/run/meshlab/sidecar';

/** Ports a process's network namespace listens on (TCP, IPv4 and IPv6), from /proc/<pid>/net. */
export function listeningPorts(pid: number): Set<number> {
  const ports = new Set<number>();
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n').slice(1)) {
      const w = l.trim().split(/\s+/);
      if (w[3] === '0A' && w[1]) ports.add(parseInt(w[1].split(':').pop()!, 16));
    }
  }
  return ports;
}

/** NGINX masters by network namespace inode (one /proc scan). */
export function nginxMasters(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (procComm(pid) !== 'nginx') continue;
    const st = procStat(pid);
    if (!st || st.state === 'Z' || procComm(st.ppid) === 'nginx') continue;
    const ino = procNetnsInode(pid);
    if (ino !== null) out.set(ino, pid);
  }
  return out;
}

export type ProxyTarget =
  { kind: 'gateway'; netns: string; dir: string } | { kind: 'sidecar'; pid: number; serviceCidr: string; what: string };

/** Write the proxy's files, start or reload it, and wait until the configuration is live. */
export async function applyProxy(target: ProxyTarget, conf: string, listen: number[]): Promise<'started' | 'reloaded'> {
  let argv: string[];
  let ino: number | null;
  let what: string;
  if (target.kind === 'gateway') {
    await fsp.mkdir(target.dir, { recursive: true, mode: 0o755 });
    await writeIfChanged(path.join(target.dir, 'nginx.conf'), conf, 0o644);
    argv = ['nsenter', `--net=${NETNS_PATH(target.netns)}`, '--', '/bin/sh', SIDECAR_SH, 'up', target.dir];
    ino = netnsInode(target.netns);
    what = 'the ingress gateway';
  } else {
    const root = `/proc/${target.pid}/root`;
    const dir = path.join(root, SIDECAR_DIR);
    await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    await writeIfChanged(path.join(dir, 'nginx.conf'), conf, 0o644);
    await writeIfChanged(path.join(dir, 'sidecar.sh'), await fsp.readFile(SIDECAR_SH, 'utf8'), 0o755);
    await writeIfChanged(path.join(dir, 'istio-iptables.sh'), await fsp.readFile(ISTIO_IPTABLES_SH, 'utf8'), 0o755);
    argv = nsenterPid(target.pid, ['/bin/sh', `${SIDECAR_DIR}/sidecar.sh`, 'up', SIDECAR_DIR, target.serviceCidr]);
    ino = procNetnsInode(target.pid);
    what = `the sidecar of ${target.what}`;
  }
  const master = ino === null ? undefined : nginxMasters().get(ino);
  const oldWorkers = master
    ? procChildren(master)
        .map(procRef)
        .filter((r): r is ProcRef => r !== null)
    : [];
  const out = await run(argv, { nothrow: true });
  if (out.exitCode !== 0)
    throw new LabError(`${what}: ${(out.stderr || out.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  const result = out.stdout.includes('reloaded') ? 'reloaded' : 'started';
  const until = Date.now() + 5000;
  for (;;) {
    const m = ino === null ? undefined : nginxMasters().get(ino);
    const done =
      result === 'reloaded'
        ? !oldWorkers.some(alive) && !!m && procChildren(m).length > 0
        : !!m && listen.every((p) => listeningPorts(m).has(p)) && procChildren(m).length > 0;
    if (done) return result;
    if (Date.now() > until)
      throw new LabError(`${what}: nginx did not ${result === 'reloaded' ? 'reload' : 'start listening'} within 5 s`);
    await sleep(10);
  }
}

/** Stop a VM's sidecar and remove its interception rules. */
export async function stopSidecar(pid: number): Promise<void> {
  await run(
    nsenterPid(pid, [
      '/bin/sh',
      '-c',
      '[ ! -f "$1/sidecar.sh" ] || exec /bin/sh "$1/sidecar.sh" down "$1" sidecar',
      'sidecar',
      SIDECAR_DIR,
    ]),
    { nothrow: true },
  );
}

/** argv to run inside the namespaces of a VM's or pod's PID 1. */
export const nsenterPid = (pid: number, argv: string[]) => [
  'nsenter',
  '-t',
  String(pid),
  '-n',
  '-m',
  '-u',
  '-p',
  '--wd=/',
  '--',
  ...argv,
];

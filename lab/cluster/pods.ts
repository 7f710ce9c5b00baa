// meshbook lab cluster: a pod's life - its files and network, started through pod-init.sh in
// its own namespaces, waited for until its app (and sidecar) listen, removed with its network.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fsp } from 'node:fs';
import { LabError, REPO_ROOT, type LabConfig } from '../config.ts';
import type { LabState } from '../state.ts';
import {
  CLEAN_ENV,
  alive,
  procChildren,
  procComm,
  procNetnsInode,
  procRef,
  sleep,
  writeIfChanged,
  netnsInode,
} from '../sys.ts';
import type { Mesh } from './mesh.ts';
import { renderProxyConfig, INBOUND_PORT, OUTBOUND_PORT } from './nginx.ts';
import { renderPodHosts } from './kubeproxy.ts';
import { createPodNetwork, deletePodNetwork } from './network.ts';
import { POD_INIT_SH, SIDECAR_DIR, listeningPorts } from './proxies.ts';
import { clusterPaths, sha, type ClusterState, type PodRecord } from './state.ts';

const POD_READY_MS = 20_000;

export const podDir = (cfg: LabConfig, name: string) => path.join(clusterPaths(cfg).podsDir, name);
export const RAND = 'bcdfghjklmnpqrstvwxz2456789';

export function podReady(p: PodRecord): boolean {
  if (!alive(p.pid1)) return false;
  const ports = listeningPorts(p.pid1!.pid);
  return ports.has(p.appPort) && (!p.injected || (ports.has(OUTBOUND_PORT) && ports.has(INBOUND_PORT)));
}

/** Is the pod's process tree still there, in its own namespace? */
export function podAlive(p: PodRecord): boolean {
  const ino = netnsInode(p.netns);
  return ino !== null && alive(p.holder) && alive(p.pid1) && procNetnsInode(p.pid1!.pid) === ino;
}

export async function tail(file: string, lines = 6): Promise<string> {
  const t = await fsp.readFile(file, 'utf8').catch(() => '');
  return t.trim().split('\n').slice(-lines).join(' | ');
}

export async function removePod(cfg: LabConfig, st: ClusterState, p: PodRecord): Promise<void> {
  await deletePodNetwork(cfg, p.netns, p.hostIf);
  st.pods = st.pods.filter((x) => x.name !== p.name);
  await fsp.rm(podDir(cfg, p.name), { recursive: true, force: true });
}

export function sidecarConfig(mesh: Mesh, p: PodRecord) {
  return renderProxyConfig(mesh, {
    id: `pod/${p.namespace}/${p.name}`,
    kind: 'sidecar',
    namespace: p.namespace,
    dir: SIDECAR_DIR,
    user: 'istio-proxy',
    inboundPorts: p.ports.length ? p.ports.map((x) => x.containerPort) : [p.appPort],
  });
}

/** Prepare the pod's files, its network, and start pod-init.sh (does not wait). */
export async function startPod(
  cfg: LabConfig,
  st: ClusterState,
  lab: LabState,
  p: PodRecord,
  run: { app: string; env: Record<string, string> },
  mesh: Mesh,
): Promise<void> {
  const { app, env } = run;
  const dir = podDir(cfg, p.name);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(path.join(dir, 'app'), { recursive: true, mode: 0o755 });
  await fsp.chmod(dir, 0o755);
  const hosts = renderPodHosts(mesh, p);
  await writeIfChanged(path.join(dir, 'hosts'), hosts, 0o644);
  await fsp.copyFile(app, path.join(dir, 'app', path.basename(app)));
  p.hostsHash = sha(hosts);
  if (p.injected) {
    const conf = sidecarConfig(mesh, p);
    await fsp.mkdir(path.join(dir, 'sidecar'), { recursive: true, mode: 0o755 });
    await writeIfChanged(path.join(dir, 'sidecar', 'nginx.conf'), conf.text, 0o644);
    await fsp.copyFile(path.join(path.dirname(POD_INIT_SH), 'sidecar.sh'), path.join(dir, 'sidecar', 'sidecar.sh'));
    await fsp.copyFile(path.join(REPO_ROOT, 'vm', 'istio-iptables.sh'), path.join(dir, 'sidecar', 'istio-iptables.sh'));
    p.proxyHash = sha(conf.text);
  }
  await createPodNetwork(cfg, st.plan, p.netns, p.hostIf, p.ip, lab.subnet);
  const fd = openSync(path.join(dir, 'console.log'), 'a', 0o600);
  let child;
  try {
    child = spawn(
      'nsenter',
      [
        `--net=/run/netns/${p.netns}`,
        '--',
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
        POD_INIT_SH,
        p.name,
        dir,
        p.injected ? '1' : '0',
        st.plan.serviceCidr,
        '--',
        process.execPath,
        `/run/meshlab/app/${path.basename(app)}`,
      ],
      { detached: true, stdio: ['ignore', fd, fd], env: { ...CLEAN_ENV, ...env, HOSTNAME: p.name }, cwd: '/' },
    );
  } finally {
    closeSync(fd);
  }
  child.once('error', () => {});
  child.unref();
  const holder = child.pid ? procRef(child.pid) : null;
  if (!holder) throw new LabError(`pod ${p.namespace}/${p.name}: could not start`);
  p.holder = holder;
}

/** Wait until a started pod's app (and sidecar) listen; false with the reason when it fails. */
export async function waitPod(cfg: LabConfig, p: PodRecord): Promise<string | undefined> {
  const until = Date.now() + POD_READY_MS;
  while (Date.now() < until) {
    if (!alive(p.holder)) return `exited: ${await tail(path.join(podDir(cfg, p.name), 'console.log'))}`;
    if (!p.pid1) {
      const c = procChildren(p.holder!.pid)[0];
      if (c) p.pid1 = procRef(c) ?? undefined;
    }
    if (p.pid1 && procComm(p.pid1.pid) === 'node' && podReady(p)) return undefined;
    await sleep(15);
  }
  return `not ready within ${POD_READY_MS / 1000} s: ${await tail(path.join(podDir(cfg, p.name), 'console.log'))}`;
}

export const podConsole = (cfg: LabConfig, name: string) => path.join(podDir(cfg, name), 'console.log');

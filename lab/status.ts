// meshbook lab status: what the lab is and whether it is healthy (reads lab.json and /proc only).
import { resolveConfig, type LabOptions } from './config.ts';
import { clusterNamespaces, clusterStatus, type ClusterStatus } from './cluster/lifecycle.ts';
import { preflight } from './preflight.ts';
import { readState } from './state.ts';
import { alive, listening, netnsInode, netnsWithPrefix, procNetnsInode } from './sys.ts';

export type SshdState = 'running' | 'not listening' | 'stopped' | 'no namespace';

export interface VmStatus {
  name: string;
  netns: string;
  address: string;
  distro: string;
  version: string;
  sshd: SshdState;
  pid: number | null;
}

export interface LabStatus {
  prefix: string;
  stateDir: string;
  exists: boolean;
  /** the lab's generation id (LabState.generation), null without a lab */
  generation: string | null;
  healthy: boolean;
  subnet: string | null;
  workstation: { netns: string; address: string | null; present: boolean };
  switch: { netns: string; present: boolean };
  vms: VmStatus[];
  envFile: string;
  inventoryFile: string;
  /** namespaces named <prefix>-* that the lab state does not list (debris: lab down removes them) */
  strayNamespaces: string[];
  /** the lab cluster, when the lab has one (lab/cluster/lifecycle.ts) */
  cluster?: ClusterStatus;
}

export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  preflight('status');
  const cfg = resolveConfig(opts);
  const state = await readState(cfg);
  const all = await netnsWithPrefix(cfg.prefix);
  let cluster: ClusterStatus | undefined;
  let clusterNs: string[] = [];
  if (state?.cluster) {
    cluster = (await clusterStatus(cfg)) ?? undefined;
    clusterNs = await clusterNamespaces(cfg);
  }
  const listed = new Set(
    state ? [state.switch.netns, state.workstation.netns, ...state.vms.map((v) => v.netns), ...clusterNs] : [],
  );
  const vms: VmStatus[] = (state?.vms ?? []).map((v) => {
    const ino = netnsInode(v.netns);
    let sshd: SshdState = 'no namespace';
    if (ino !== null) {
      if (!alive(v.sshd) || procNetnsInode(v.sshd!.pid) !== ino) sshd = 'stopped';
      else sshd = listening(v.sshd!.pid, v.address, 22) ? 'running' : 'not listening';
    }
    return {
      name: v.name,
      netns: v.netns,
      address: v.address,
      distro: v.profile,
      version: v.version,
      sshd,
      pid: sshd === 'running' || sshd === 'not listening' ? v.sshd!.pid : null,
    };
  });
  const wsPresent = netnsInode(cfg.wsNetns) !== null;
  const swPresent = netnsInode(cfg.switchNetns) !== null;
  return {
    prefix: cfg.prefix,
    stateDir: cfg.dir,
    exists: !!state,
    generation: state?.generation ?? null,
    healthy:
      !!state &&
      wsPresent &&
      swPresent &&
      vms.every((v) => v.sshd === 'running') &&
      (!state.cluster ||
        (!!cluster && cluster.node.present && cluster.gateway === 'running' && cluster.pods.every((p) => p.ready))),
    subnet: state?.subnet ?? null,
    workstation: { netns: cfg.wsNetns, address: state?.workstation.address ?? null, present: wsPresent },
    switch: { netns: cfg.switchNetns, present: swPresent },
    vms,
    envFile: state?.envFile ?? cfg.envFile,
    inventoryFile: state?.inventoryFile ?? cfg.inventoryFile,
    strayNamespaces: all.filter((n) => !listed.has(n)),
    ...(cluster ? { cluster } : {}),
  };
}

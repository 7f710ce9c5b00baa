// meshbook lab: `lab up`'s Docker step (which VMs get a daemon, the images, the daemons) and
// `lab down`'s cleanup of what the daemons leave outside their VMs (their cgroups).
import type { LabConfig } from '../config.ts';
import { DEFAULT_SERVICE_CIDR } from '../cluster/state.ts';
import type { LabState } from '../state.ts';
import { dockerInstalled, ensureDaemons, removeCgroups } from './daemon.ts';
import { ASM_VM_PROXY_IMAGE, HELLO_IMAGE, STAND_IN_FOR, buildImages } from './images.ts';

/**
 * Daemons for the first 10 VMs by default. Measured on the 2-core machine (lab/README.md):
 * a daemon costs ~50 MB of memory, ~0.2 s of CPU to start and 100 MB of disk for the images;
 * a fleet of 30 VMs gets its first 10 with Docker and runs hello2 as a process on the rest
 * (`lab up --docker-vms N` chooses otherwise, up to every VM).
 */
export const DEFAULT_DOCKER_VMS = 10;

export interface DockerUpResult {
  /** VMs with a running daemon and the lab's images */
  vms: string[];
  started: string[];
  loaded: string[];
  /** why no VM has one, when none has */
  none?: string;
  seconds: number;
}

/** The lab's images and what each stands in for (shown by `lab up` and the plan's env). */
export const STAND_INS = [HELLO_IMAGE, ASM_VM_PROXY_IMAGE].map((img) => ({ image: img, standsFor: STAND_IN_FOR[img] }));

/** ensure_docker: a daemon with the lab's images in each of the first N VMs (N = dockerVms). */
export async function ensureDocker(
  cfg: LabConfig,
  state: LabState,
  dockerVms: number | undefined,
  progress: (m: string) => void,
): Promise<DockerUpResult> {
  const t0 = performance.now();
  const n = Math.min(state.vms.length, dockerVms ?? DEFAULT_DOCKER_VMS);
  const done = (r: Omit<DockerUpResult, 'seconds'>) => ({ ...r, seconds: (performance.now() - t0) / 1000 });
  if (n === 0 || !dockerInstalled()) {
    for (const v of state.vms) v.dockerd = undefined;
    const none = n === 0 ? '--docker-vms 0' : 'docker.io is not installed (apt-get install -y docker.io)';
    return done({ vms: [], started: [], loaded: [], none });
  }
  progress('building the lab images');
  const images = await buildImages(cfg, state.cluster?.serviceCidr ?? DEFAULT_SERVICE_CIDR);
  const names = new Set(state.vms.slice(0, n).map((v) => v.name));
  return done(await ensureDaemons(cfg, state, names, images, progress));
}

/** The VMs of the state that have a daemon (the inventory gives them runtime: docker). */
export const dockerVmNames = (state: LabState) => new Set(state.vms.filter((v) => v.dockerd).map((v) => v.name));

/** What `lab up` says about the daemons and the images. */
export function dockerLines(r: DockerUpResult, vms: number): string[] {
  if (!r.vms.length) return [`docker: no VM has a Docker daemon (${r.none}); hello2 runs as a process on every VM`];
  const rest = vms - r.vms.length;
  const what = [
    r.started.length && `started ${r.started.length}`,
    r.loaded.length && `loaded images into ${r.loaded.length}`,
  ]
    .filter(Boolean)
    .join(', ');
  return [
    `docker: a daemon in ${r.vms.length === vms ? 'every VM' : `${r.vms.join(', ')}`} ` +
      `(${what || 'nothing to change'}) in ${r.seconds.toFixed(1)} s` +
      (rest ? `; the ${rest} other VM${rest > 1 ? 's' : ''} run hello2 as a process (lab up --docker-vms N)` : ''),
    ...STAND_INS.map((s) => `docker: lab stand-in image ${s.image} for ${s.standsFor}`),
  ];
}

export { removeCgroups };

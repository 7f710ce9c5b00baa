// meshbook lab: options, names and the address plan (no side effects in this file).
import path from 'node:path';
import { existsSync } from 'node:fs';
import { checkCidr, formatIPv4, isHostOf, nthAddress, parseIPv4, type Cidr } from './ipv4.ts';
import { REPO_ROOT } from '../scripts/engine/repo.ts';

/** An error meant for the user: one clear line, no stack trace. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

/** Bad input (an option's value): exit 2, as every meshbook command does for bad input. */
export class LabInputError extends LabError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The repository root: default home of envs/ and vm/profiles/. */
export { REPO_ROOT };
export const PROFILES_DIR = path.join(REPO_ROOT, 'vm', 'profiles');
export const VM_INIT = path.join(REPO_ROOT, 'lab', 'vm-init.sh');

export const DEFAULT_PREFIX = 'meshlab';
export const DEFAULT_DIR = '/var/lib/meshbook/lab';
export const DEFAULT_SUBNET = '192.168.0.0/24';
export const DEFAULT_VMS = 3;
/** The article's three VMs, in order; VMs beyond 3 cycle through them. */
export const DEFAULT_PROFILES = ['alinux-2.1903', 'centos-8', 'ubuntu-20.04'] as const;
export const MAX_VMS = 193;

/** Host numbers inside the lab subnet (see lab/README.md "Addresses"). */
export const HOST = {
  workstation: 2,
  /** .3-.9: reserved for lab infrastructure */
  infraFirst: 3,
  /** .100-.149: reserved for the cluster (node namespaces) */
  clusterFirst: 100,
  clusterLast: 149,
} as const;

/** Interface names inside the lab's namespaces (per namespace, so short and fixed). */
export const BRIDGE = 'br0';
export const VM_IFNAME = 'eth0';

export interface LabOptions {
  /** Namespace prefix: every namespace of the lab is `<prefix>-<role>`. Default meshlab, env MESHBOOK_LAB_PREFIX. */
  prefix?: string;
  /** State dir (keys, sshd configs, overlay upper dirs, logs). Default /var/lib/meshbook/lab, env MESHBOOK_LAB_DIR. */
  dir?: string;
  /** Where `up` writes the lab env file. Default <repo>/envs/lab.env, env MESHBOOK_LAB_ENV_FILE. */
  envFile?: string;
  /** Where `up` writes the lab inventory. Default <repo>/envs/lab-inventory.yaml, env MESHBOOK_LAB_INVENTORY. */
  inventoryFile?: string;
  /** Progress messages (the CLI feeds a spinner). */
  onProgress?: (message: string) => void;
}

export interface LabUpOptions extends LabOptions {
  /** Number of VMs (default: the existing lab's count, else 3). */
  vms?: number;
  /** Explicit VM addresses (vm1 first); sets the VM count when vms is not given. */
  vmIps?: string[];
  /** Lab subnet, prefix length 8..24 (default 192.168.0.0/24). */
  subnet?: string;
  /** Distro profiles, cycled over the VMs (default alinux-2.1903,centos-8,ubuntu-20.04). */
  profiles?: string[];
  /** Tests only: a replacement for lab/vm-init.sh (same arguments). */
  initScript?: string;
  /**
   * Build the lab cluster beside the VMs (node namespace, ingress gateway, pods of the
   * applied Deployments; see lab/cluster/). Default: what the existing lab has, else no
   * (the CLI's `lab up` defaults to yes). false on a lab with a cluster removes it.
   */
  cluster?: boolean;
  /** The cluster's Service CIDR (default 172.19.0.0/20: the lab env's SERVICE_CIDR). */
  serviceCidr?: string;
  /** The cluster's pod CIDR (default 172.18.0.0/16: the lab env's POD_CIDR). */
  podCidr?: string;
  /**
   * How many VMs (the first N) get a Docker daemon (lab/docker/): default DEFAULT_DOCKER_VMS;
   * 0 for none. VMs beyond run hello2 as a process (inventory runtime: process).
   */
  dockerVms?: number;
}

export interface LabConfig {
  prefix: string;
  dir: string;
  envFile: string;
  inventoryFile: string;
  wsNetns: string;
  switchNetns: string;
  stateFile: string;
  keyFile: string;
  knownHostsFile: string;
  sshConfigFile: string;
  secretFile: string;
}

const PREFIX_RE = /^[a-z][a-z0-9]{0,15}$/;
// overlayfs options and sshd_config lines cannot carry commas, colons, spaces or quotes
const SAFE_PATH_RE = /^\/[A-Za-z0-9._/@+-]*$/;

export function resolveConfig(opts: LabOptions = {}): LabConfig {
  const env = process.env;
  const prefix = opts.prefix ?? env.MESHBOOK_LAB_PREFIX ?? DEFAULT_PREFIX;
  if (!PREFIX_RE.test(prefix)) {
    throw new LabInputError(
      `prefix "${prefix}" is not valid: use 1-16 lowercase letters and digits ` +
        `starting with a letter (no "-": the lab owns every namespace named <prefix>-*)`,
    );
  }
  const dir = path.resolve(opts.dir ?? env.MESHBOOK_LAB_DIR ?? DEFAULT_DIR);
  if (!SAFE_PATH_RE.test(dir) || dir === '/') {
    throw new LabInputError(
      `state dir "${dir}" is not usable: use an absolute path of letters, digits ` +
        `and . _ - / @ + only (overlayfs and sshd_config cannot quote others)`,
    );
  }
  if (/^\/(run|proc|sys|dev)(\/|$)/.test(dir)) {
    throw new LabInputError(
      `state dir "${dir}" is not usable: every VM mounts a fresh ` +
        `/run and shares /proc, /sys and /dev; pick e.g. ${DEFAULT_DIR}`,
    );
  }
  const envFile = path.resolve(opts.envFile ?? env.MESHBOOK_LAB_ENV_FILE ?? path.join(REPO_ROOT, 'envs', 'lab.env'));
  const inventoryFile = path.resolve(
    opts.inventoryFile ?? env.MESHBOOK_LAB_INVENTORY ?? path.join(REPO_ROOT, 'envs', 'lab-inventory.yaml'),
  );
  return {
    prefix,
    dir,
    envFile,
    inventoryFile,
    wsNetns: `${prefix}-ws`,
    switchNetns: `${prefix}-net`,
    stateFile: path.join(dir, 'lab.json'),
    keyFile: path.join(dir, 'id_ed25519'),
    knownHostsFile: path.join(dir, 'known_hosts'),
    sshConfigFile: path.join(dir, 'ssh_config'),
    secretFile: path.join(dir, 'access_key_secret'),
  };
}

export const vmName = (index: number): string => `vm${index + 1}`;
export const vmNetns = (prefix: string, name: string): string => `${prefix}-${name}`;

// ---- the lab subnet (IPv4 math: lab/ipv4.ts) ---------------------------------------

/** The lab subnet: an IPv4 network CIDR, prefix length 8..24. */
export type Subnet = Cidr;

export function parseSubnet(cidr: string): Subnet {
  const c = checkCidr(cidr, 8, 24);
  if (c.ok) return c.cidr;
  if (c.network) throw new LabInputError(`subnet "${cidr}" has host bits set: use ${c.network}`);
  throw new LabInputError(
    `subnet "${cidr}" is not valid: use an IPv4 CIDR with prefix length 8..24, e.g. ${DEFAULT_SUBNET}`,
  );
}

/** The address of host number `host` in the lab subnet (see HOST). */
export const hostAddress = (s: Subnet, host: number): string => nthAddress(s, host);

/**
 * Default host numbers of VM i (0-based): vm1-vm3 are the article's .250-.252; vm4 on
 * continues at .10 up to .99, then .150 up to .249 (skipping the .100-.149 cluster
 * range): 193 VMs in all.
 */
export function defaultVmHost(i: number): number {
  if (i < 3) return 250 + i;
  const k = i - 3;
  if (k < 90) return 10 + k;
  if (k < 190) return 150 + (k - 90);
  throw new LabInputError(`at most ${MAX_VMS} VMs fit the default address plan: pass --vm-ips for more`);
}

export interface VmSpec {
  name: string;
  netns: string;
  address: string;
  profile: string;
  version: string;
}

/** The VMs `up` should converge to. */
export function planVms(
  prefix: string,
  subnet: Subnet,
  count: number,
  vmIps?: string[],
  profiles?: string[],
): VmSpec[] {
  const profs = profiles && profiles.length ? profiles : [...DEFAULT_PROFILES];
  for (const p of profs) {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(p) || !existsSync(path.join(PROFILES_DIR, p, 'os-release'))) {
      throw new LabInputError(
        `distro profile "${p}" not found: expected ${path.join(PROFILES_DIR, p, 'os-release')} ` +
          `(known: ${DEFAULT_PROFILES.join(', ')})`,
      );
    }
  }
  if (!Number.isInteger(count) || count < 1 || count > (vmIps ? 250 : MAX_VMS)) {
    throw new LabInputError(`--vms ${count} is not valid: use a whole number from 1 to ${vmIps ? 250 : MAX_VMS}`);
  }
  if (vmIps && vmIps.length !== count) {
    throw new LabInputError(`--vm-ips has ${vmIps.length} addresses but --vms is ${count}: give one address per VM`);
  }
  const ws = parseIPv4(hostAddress(subnet, HOST.workstation))!;
  const seen = new Set<number>();
  const specs: VmSpec[] = [];
  for (let i = 0; i < count; i++) {
    const name = vmName(i);
    let address: string;
    if (vmIps) {
      const ip = parseIPv4(vmIps[i]);
      if (ip === null) throw new LabInputError(`--vm-ips: "${vmIps[i]}" is not an IPv4 address`);
      if (!isHostOf(subnet, ip))
        throw new LabInputError(`--vm-ips: ${vmIps[i]} is not a host address of the lab subnet ${subnet.cidr}`);
      if (ip === ws) throw new LabInputError(`--vm-ips: ${vmIps[i]} is the workstation's address`);
      if (seen.has(ip)) throw new LabInputError(`--vm-ips: ${vmIps[i]} is listed twice`);
      seen.add(ip);
      address = formatIPv4(ip);
    } else {
      address = hostAddress(subnet, defaultVmHost(i));
    }
    specs.push({
      name,
      netns: vmNetns(prefix, name),
      address,
      profile: profs[i % profs.length],
      version: `v${(i % 3) + 1}`,
    });
  }
  return specs;
}

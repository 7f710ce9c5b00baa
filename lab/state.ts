// meshbook lab: its state dir - the state file (lab.json), the lock, the entries the lab owns
// there, and the generated output files (env, inventory) it may overwrite or remove.
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { LabError, type LabConfig, type VmSpec } from './config.ts';
import { GENERATED_MARK } from './outputs.ts';
import { takeLockFile, writeIfChanged, type ProcRef } from './sys.ts';

export interface VmState extends VmSpec {
  /** the `unshare` process (machine's PID namespace) that holds the VM's namespaces */
  holder?: ProcRef;
  /** the VM's PID 1: its sshd */
  sshd?: ProcRef;
  /** the VM's Docker daemon (lab/docker/daemon.ts), when the lab gave it one */
  dockerd?: ProcRef;
}

export interface CreatedDir {
  top: string;
  dir: string;
}

export interface LabState {
  version: 1;
  prefix: string;
  /**
   * This lab's identity: 16 random hex digits made when `up` builds a new lab (no state),
   * kept by every later `up` of the same lab, gone with `down` (the next `up` makes a new
   * one). Written to the lab env as LAB_GENERATION. Absent only in a state file written
   * before it existed (the next `up` adds one).
   */
  generation?: string;
  subnet: string;
  workstation: { netns: string; address: string };
  switch: { netns: string; bridge: string };
  vms: VmState[];
  envFile: string;
  inventoryFile: string;
  /** directories `up` created (mkdir -p: `top` is the first one made for `dir`); `down` removes them while empty */
  createdDirs?: CreatedDir[];
  /** the lab cluster (lab/cluster/): its node namespace and address ranges */
  cluster?: { netns: string; nodeAddress: string; serviceCidr: string; podCidr: string };
}

export async function readState(cfg: LabConfig): Promise<LabState | null> {
  let text: string;
  try {
    text = await fsp.readFile(cfg.stateFile, 'utf8');
  } catch {
    return null;
  }
  try {
    const s = JSON.parse(text) as LabState;
    if (s.version !== 1 || !Array.isArray(s.vms)) throw new Error('unknown format');
    return s;
  } catch (e) {
    const why = (e as Error).message;
    throw new LabError(`lab state ${cfg.stateFile} is unreadable (${why}): run meshbook lab down to remove the lab`);
  }
}

export async function saveState(cfg: LabConfig, s: LabState): Promise<void> {
  await writeIfChanged(cfg.stateFile, JSON.stringify(s, null, 2) + '\n', 0o600);
}

export async function lock(cfg: LabConfig): Promise<() => Promise<void>> {
  const f = path.join(cfg.dir, '.lock');
  const holder = await takeLockFile(f);
  if (holder !== null) {
    throw new LabError(`another meshbook lab command (pid ${holder}) is working on ${cfg.dir}: wait for it to finish`);
  }
  return async () => {
    await fsp.rm(f, { force: true });
  };
}

/** What the lab keeps in its state dir: nothing else is ever removed from there. */
const STATE_ENTRIES = new Set([
  'lab.json',
  'docker',
  '.lock',
  'id_ed25519',
  'id_ed25519.pub',
  'access_key_secret',
  'known_hosts',
  'ssh_config',
  'vms',
  'cluster',
]);
export const isStateEntry = (e: string) => STATE_ENTRIES.has(e) || /^\..+\.tmp(\.pub)?$/.test(e);

export async function foreignEntries(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir).catch(() => [] as string[])).filter((e) => !isStateEntry(e));
}

export async function removeStateDir(dir: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return false;
  }
  for (const e of entries.filter(isStateEntry)) await fsp.rm(path.join(dir, e), { recursive: true, force: true });
  try {
    await fsp.rmdir(dir);
    return true;
  } catch {
    return false; // someone else's files are in there: leave them
  }
}

/** First bytes of a file, or null when it does not exist. */
async function head(file: string): Promise<string | null> {
  return fsp.readFile(file, 'utf8').then(
    (t) => t.slice(0, GENERATED_MARK.length),
    () => null,
  );
}

export const isGenerated = async (file: string) => (await head(file)) === GENERATED_MARK;

/** Never overwrite (or delete) a file at an output path that the lab did not write. */
export async function refuseForeign(file: string): Promise<void> {
  const h = await head(file);
  if (h !== null && h !== GENERATED_MARK) {
    throw new LabError(`${file} exists and was not written by meshbook lab: move it away or pass another path`);
  }
}

// meshbook lab down: remove everything the lab made.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { resolveConfig, type LabConfig, type LabOptions } from './config.ts';
import { removeCgroups } from './docker/lab.ts';
import { preflight } from './preflight.ts';
import { isGenerated, lock, readState, removeStateDir, type CreatedDir } from './state.ts';
import { deleteNetns, killNetnsProcesses, netnsWithPrefix, statExists } from './sys.ts';

export interface LabDownResult {
  cfg: LabConfig;
  namespaces: string[];
  processes: number;
  files: string[];
  seconds: number;
}

export async function teardown(cfg: LabConfig, createdDir?: CreatedDir): Promise<Omit<LabDownResult, 'seconds'>> {
  const state = await readState(cfg).catch(() => null);
  const names = [
    ...new Set([
      ...(state ? [state.switch.netns, state.workstation.netns, ...state.vms.map((v) => v.netns)] : []),
      ...(await netnsWithPrefix(cfg.prefix)),
    ]),
  ].filter((n) => n.startsWith(`${cfg.prefix}-`));
  const present = names.filter((n) => statExists(path.join('/run/netns', n)));
  const processes = await killNetnsProcesses(present);
  // the VMs' Docker daemons died with their VMs (their mounts with the VMs' mount
  // namespaces); what they made outside a VM is their cgroups
  await removeCgroups(cfg);
  await deleteNetns(present);
  const files: string[] = [];
  for (const f of new Set([cfg.envFile, cfg.inventoryFile, state?.envFile, state?.inventoryFile])) {
    if (!f) continue;
    if (await isGenerated(f)) {
      await fsp.rm(f, { force: true });
      files.push(f);
    }
  }
  if (await removeStateDir(cfg.dir)) files.push(cfg.dir);
  // remove the directories `up` created, deepest first, only while empty
  const made = [...(state?.createdDirs ?? []), ...(createdDir ? [createdDir] : [])];
  for (const { top, dir } of made.sort((a, b) => b.dir.length - a.dir.length)) {
    for (let d = dir; d.length >= top.length && (d === top || d.startsWith(`${top}/`)); d = path.dirname(d)) {
      try {
        await fsp.rmdir(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') break;
      }
    }
  }
  return { cfg, namespaces: present, processes, files };
}

/**
 * Remove the lab: every process in its namespaces, the namespaces (`<prefix>-*`), the state
 * dir and the env/inventory files it wrote. Idempotent; also clears a half-built lab.
 */
export async function labDown(opts: LabOptions = {}): Promise<LabDownResult> {
  preflight('down');
  const cfg = resolveConfig(opts);
  const t0 = performance.now();
  opts.onProgress?.('removing the lab');
  const unlock = existsSync(cfg.dir) ? await lock(cfg) : undefined;
  try {
    const r = await teardown(cfg);
    return { ...r, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await unlock?.().catch(() => {});
  }
}

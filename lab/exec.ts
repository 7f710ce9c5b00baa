// meshbook lab: running commands in the lab - inside a VM, in the workstation, over ssh.
import type { ProcessOutput } from 'zx';
import { LabError, resolveConfig, type LabConfig, type LabOptions } from './config.ts';
import { readState, type VmState } from './state.ts';
import { alive, netnsInode, run } from './sys.ts';

async function runningVm(cfg: LabConfig, vm: string): Promise<VmState> {
  const state = await readState(cfg);
  const v = state?.vms.find((x) => x.name === vm);
  if (!v) throw new LabError(`lab ${cfg.prefix} has no VM ${vm}`);
  if (!alive(v.sshd)) throw new LabError(`${vm} is not running: run meshbook lab up`);
  return v;
}

/**
 * Run a command inside a lab VM (its network, mount, UTS and PID namespaces) for the
 * lab's own use - runbooks reach VMs over ssh. Clean environment, working dir /.
 */
export async function vmExec(
  vm: string,
  argv: string[],
  opts: LabOptions & { input?: string; nothrow?: boolean } = {},
): Promise<ProcessOutput> {
  const cfg = resolveConfig(opts);
  const v = await runningVm(cfg, vm);
  return run(['nsenter', '-t', String(v.sshd!.pid), '-n', '-m', '-u', '-p', '--wd=/', '--', ...argv], opts);
}

/** Run a command in the workstation namespace (`ip netns exec <prefix>-ws ...`). */
export async function wsExec(
  argv: string[],
  opts: LabOptions & { input?: string; nothrow?: boolean } = {},
): Promise<ProcessOutput> {
  const cfg = resolveConfig(opts);
  if (netnsInode(cfg.wsNetns) === null) throw new LabError(`lab ${cfg.prefix} is not up: run meshbook lab up first`);
  return run(['ip', 'netns', 'exec', cfg.wsNetns, ...argv], opts);
}

/** argv to ssh into a lab host from the workstation with the lab's own client config. */
export function sshArgv(cfg: LabConfig, host: string, remote: string[] = []): string[] {
  const ssh = ['ssh', '-F', cfg.sshConfigFile, host, ...(remote.length ? ['--', ...remote] : [])];
  return ['ip', 'netns', 'exec', cfg.wsNetns, ...ssh];
}

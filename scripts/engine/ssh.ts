// Running a script on a VM: the system OpenSSH client, the script on stdin to `bash -s`
// (never in argv), one multiplexed connection per VM, the project's own known_hosts with
// accept-new (never "no"), bounded connect and command times.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import type { Vm } from './inventory.ts';
import type { RemoteResult } from './types.ts';
import { PRELUDE, type Script } from './sh.ts';

export interface SshConfig {
  knownHosts: string;
  netns?: string;             // lab: run ssh inside this network namespace
  connectTimeoutS: number;
  commandTimeoutMs: number;
}

/** Multiplexed connections are shared only between runs that reach the same hosts the
 *  same way: two labs may both have a 192.168.0.250, in different namespaces, and ssh's
 *  %C hash alone (user, host, port) would hand one lab's connection to the other. */
export function controlDir(cfg: Pick<SshConfig, 'netns' | 'knownHosts'>): string {
  const scope = crypto.createHash('sha256').update(`${cfg.netns ?? ''}\0${cfg.knownHosts}`).digest('hex').slice(0, 10);
  const dir = path.join(os.tmpdir(), `meshbook-${process.getuid?.() ?? 'u'}`, 'cm', scope);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function sshArgv(vm: Vm, cfg: SshConfig, remote: string[]): string[] {
  const opts = [
    'BatchMode=yes', `ConnectTimeout=${cfg.connectTimeoutS}`, 'StrictHostKeyChecking=accept-new',
    `UserKnownHostsFile=${cfg.knownHosts}`, 'GlobalKnownHostsFile=/dev/null',
    'ControlMaster=auto', `ControlPath=${controlDir(cfg)}/%C`, 'ControlPersist=120',
    'ServerAliveInterval=5', 'ServerAliveCountMax=3', 'LogLevel=ERROR',
  ];
  const argv = ['ssh', '-T', ...opts.flatMap((o) => ['-o', o]), '-p', String(vm.port)];
  if (vm.identity) argv.push('-i', vm.identity, '-o', 'IdentitiesOnly=yes');
  argv.push(`${vm.user}@${vm.host}`, ...remote);
  return cfg.netns ? ['ip', 'netns', 'exec', cfg.netns, ...argv] : argv;
}

/** `bash -s` as root: directly for root, through passwordless sudo otherwise. */
export function remoteShell(vm: Vm): string[] {
  return vm.user === 'root' ? ['bash', '-s'] : ['sudo', '-n', 'bash', '-s'];
}

export function fullScript(script: Script): string {
  return `${PRELUDE}\n${script.text}\n`;
}

/** The remote script records its session id (sshd makes it a session leader) under this
 *  run's id, so an interrupted run can stop exactly what it started there. */
const pidFile = (runId: string) => `/run/meshbook/${runId}.pid`;
const track = (runId: string) => `mkdir -p /run/meshbook && echo $$ > ${pidFile(runId)} && trap 'rm -f ${pidFile(runId)}' EXIT`;

export async function runScript(vm: Vm, script: Script, cfg: SshConfig, run?: { id: string; signal?: AbortSignal }): Promise<RemoteResult> {
  fs.mkdirSync(path.dirname(cfg.knownHosts), { recursive: true });
  const argv = sshArgv(vm, cfg, remoteShell(vm));
  const input = run ? `${PRELUDE}
${track(run.id)}
${script.text}
` : fullScript(script);
  if (run?.signal?.aborted) return { code: 130, stdout: '', stderr: 'interrupted before it started' };
  const p = $({ input, nothrow: true, quiet: true, timeout: cfg.commandTimeoutMs, signal: run?.signal })`${argv}`;
  let out;
  try {
    out = await p;
  } catch (e) {
    return { code: 130, stdout: '', stderr: `interrupted: ${(e as Error).message}` };
  }
  if (run?.signal?.aborted) return { code: 130, stdout: out.stdout, stderr: `${out.stderr}
interrupted (Ctrl-C)` };
  const timedOut = out.exitCode === null;
  return {
    code: out.exitCode ?? 124,
    stdout: out.stdout,
    stderr: timedOut ? `${out.stderr}\ntimed out after ${cfg.commandTimeoutMs} ms` : out.stderr,
    timedOut,
  };
}

/** Stop what run `runId` still runs on the VM: its whole session (best effort, bounded). */
export async function stopRemote(vm: Vm, cfg: SshConfig, runId: string): Promise<void> {
  const argv = sshArgv(vm, { ...cfg, connectTimeoutS: Math.min(cfg.connectTimeoutS, 5) }, remoteShell(vm));
  const script = `f=${pidFile(runId)}; if [ -f "$f" ]; then kill -TERM -- -"$(cat "$f")" 2>/dev/null || true; rm -f "$f"; fi\n`;
  await $({ input: script, nothrow: true, quiet: true, timeout: 8000 })`${argv}`;
}

/** Close the multiplexed connection (best effort). */
export async function closeMaster(vm: Vm, cfg: SshConfig): Promise<void> {
  const argv = sshArgv(vm, cfg, []);
  const i = argv.indexOf('-T');
  argv.splice(i, 1, '-O', 'exit');
  await $({ nothrow: true, quiet: true, timeout: 5000 })`${argv}`;
}

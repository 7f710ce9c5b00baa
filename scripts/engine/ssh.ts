// Running a script on a VM: the system OpenSSH client, the script on stdin to bash (never
// in argv), one multiplexed connection per VM, the project's own known_hosts with
// accept-new (never "no"), bounded connect and command times.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Vm } from './inventory.ts';
import type { RemoteResult } from './types.ts';
import { PRELUDE, type Script } from './sh.ts';

export interface SshConfig {
  knownHosts: string;
  netns?: string; // lab: run ssh inside this network namespace
  connectTimeoutS: number;
  commandTimeoutMs: number;
}

/** Multiplexed connections are shared only between runs that reach the same hosts the
 *  same way: two labs may both have a 192.168.0.250, in different namespaces, and a name
 *  from user, host and port alone would hand one lab's connection to the other. */
export function controlDir(cfg: Pick<SshConfig, 'netns' | 'knownHosts'>): string {
  const scope = crypto
    .createHash('sha256')
    .update(`${cfg.netns ?? ''}\0${cfg.knownHosts}`)
    .digest('hex')
    .slice(0, 10);
  const dir = path.join(os.tmpdir(), `meshbook-${process.getuid?.() ?? 'u'}`, 'cm', scope);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** A VM's master connection socket: a hash of user, host and port in controlDir (what
 *  ssh's %C is, but known here, so that closing can find the master by its title). */
export function controlPath(
  vm: Pick<Vm, 'user' | 'host' | 'port'>,
  cfg: Pick<SshConfig, 'netns' | 'knownHosts'>,
): string {
  return path.join(
    controlDir(cfg),
    crypto.createHash('sha256').update(`${vm.user}@${vm.host}:${vm.port}`).digest('hex').slice(0, 16),
  );
}

/** A host that stops answering is given up on after about the connect timeout (at most
 *  15 s): keepalives every ceil(t/2) s (1..5), three unanswered ones end the connection. */
export function serverAlive(connectTimeoutS: number): string[] {
  const every = Math.max(1, Math.min(5, Math.ceil(connectTimeoutS / 2)));
  return [`ServerAliveInterval=${every}`, 'ServerAliveCountMax=3'];
}

export interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
}

/** Run argv directly (no shell in between: one process fewer per remote command), the
 *  input on stdin, SIGTERM at the time limit (SIGKILL 2 s later) or on abort. */
export function spawnArgv(
  argv: string[],
  o: {
    input?: string;
    timeoutMs: number;
    signal?: AbortSignal;
    restartOn?: string;
    onOutput?: (stdout: string, stderr: string) => void;
  },
): Promise<Spawned> {
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '',
      timedOut = false,
      aborted = false,
      killer: NodeJS.Timeout | undefined;
    const stop = () => {
      p.kill('SIGTERM');
      killer = setTimeout(() => p.kill('SIGKILL'), 2000);
      killer.unref();
    };
    const expire = () => {
      timedOut = true;
      stop();
    };
    let timer = setTimeout(expire, o.timeoutMs);
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      // a chained script marks the end of each part: the next part gets the whole limit
      const seen = o.restartOn && `${stdout.slice(-o.restartOn.length)}${d}`.includes(o.restartOn);
      stdout += d;
      if (seen && !timedOut) {
        clearTimeout(timer);
        timer = setTimeout(expire, o.timeoutMs);
      }
      o.onOutput?.(stdout, stderr);
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      o.onOutput?.(stdout, stderr);
    });
    const onAbort = () => {
      aborted = true;
      stop();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    p.stdin.on('error', () => {
      /* the far end went away; the exit code tells */
    });
    p.stdin.end(o.input ?? '');
    let done = false;
    const finish = (code: number | null, err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({
        code: timedOut || aborted ? null : code,
        stdout,
        stderr: err ? `${stderr}${err.message}\n` : stderr,
        timedOut,
        aborted,
      });
    };
    p.on('error', (e) => finish(127, e));
    p.on('close', (code) => finish(code ?? null));
    // a multiplexed client hands its stdout/stderr to the master, which keeps them open
    // while the remote command runs: once stopped, do not wait for the pipes to close
    p.on('exit', (code) => {
      if (timedOut || aborted) finish(code ?? null);
    });
  });
}

export function sshArgv(vm: Vm, cfg: SshConfig, remote: string[]): string[] {
  const opts = [
    'BatchMode=yes',
    `ConnectTimeout=${cfg.connectTimeoutS}`,
    'StrictHostKeyChecking=accept-new',
    `UserKnownHostsFile=${cfg.knownHosts}`,
    'GlobalKnownHostsFile=/dev/null',
    'ControlMaster=auto',
    `ControlPath=${controlPath(vm, cfg)}`,
    'ControlPersist=120',
    ...serverAlive(cfg.connectTimeoutS),
    'LogLevel=ERROR',
  ];
  const argv = ['ssh', '-T', ...opts.flatMap((o) => ['-o', o]), '-p', String(vm.port)];
  if (vm.identity) argv.push('-i', vm.identity, '-o', 'IdentitiesOnly=yes');
  argv.push(`${vm.user}@${vm.host}`, ...remote);
  return cfg.netns ? ['ip', 'netns', 'exec', cfg.netns, ...argv] : argv;
}

/** The remote command that runs the script sent on stdin, as root: directly for root,
 *  through passwordless sudo otherwise. Not `bash -s`: bash reads a script on a pipe one
 *  byte per read(2) (so that the commands it starts find the rest of stdin untouched),
 *  some 17,000 system calls for a traffic-shift trip. `.` reads /dev/stdin whole, in 4 KB
 *  blocks (bash >= 4.0, so CentOS 7 and Alibaba Cloud Linux 2 too), then runs it as
 *  bash -s would: same functions, traps, `exit`, and stdin already at its end for the
 *  commands it starts. ssh joins the remote words with spaces for the login shell: the
 *  constant is quoted for it (no input reaches this string). */
export function remoteShell(vm: Vm): string[] {
  // an sshd built to hand the session a socket instead of a pipe (Linux builds use pipes)
  // cannot have /dev/stdin opened: then bash -s, as before
  const shell = ['bash', '-c', "'if [ -p /dev/stdin ]; then . /dev/stdin; else exec bash -s; fi'"];
  return vm.user === 'root' ? shell : ['sudo', '-n', ...shell];
}

export function fullScript(script: Script): string {
  return `${PRELUDE}\n${script.text}\n`;
}

/** The remote script records its process group under this run's id, so an interrupted
 *  run can stop exactly what it started there. The group, not $$: sshd makes the login
 *  shell a session (and group) leader, but under sudo, or a login shell that does not
 *  exec its command (dash), the bash running the script is a child in that group.
 *  Daemons the script starts with setsid are in groups of their own and keep running. */
const pidFile = (runId: string) => `/run/meshbook/${runId}.pid`;
export const trackRun = (runId: string) =>
  `{ [ -d /run/meshbook ] || mkdir -p /run/meshbook; } && { __mb_pg=$$; if [ -r ` +
  `/proc/$$/stat ] && read -r -a __mb_st < /proc/$$/stat; then __mb_pg=\${__mb_st[4]}; ` +
  `fi; echo "$__mb_pg" > ${pidFile(runId)}; } && trap 'rm -f ${pidFile(runId)}' EXIT`;
/** Stops the process group run `runId` recorded (see trackRun). */
export const stopRun = (runId: string) =>
  `f=${pidFile(runId)}; if [ -f "$f" ]; then kill -TERM -- -"$(cat "$f")" 2>/dev/null || true; rm -f "$f"; fi\n`;

/** `marker`: the script chains several commands (check, change, verify; maybe of several
 *  steps) and prints this after each: every command gets the time limit of its own. */
export async function runScript(
  vm: Vm,
  script: Script,
  cfg: SshConfig,
  run?: { id: string; signal?: AbortSignal; marker?: string; onOutput?: (stdout: string, stderr: string) => void },
): Promise<RemoteResult> {
  fs.mkdirSync(path.dirname(cfg.knownHosts), { recursive: true });
  const argv = sshArgv(vm, cfg, remoteShell(vm));
  const input = run
    ? `${PRELUDE}
${trackRun(run.id)}
${script.text}
`
    : fullScript(script);
  if (run?.signal?.aborted) return { code: 130, stdout: '', stderr: 'interrupted before it started' };
  const timeoutMs = cfg.commandTimeoutMs;
  const out = await spawnArgv(argv, {
    input,
    timeoutMs,
    signal: run?.signal,
    restartOn: run?.marker,
    onOutput: run?.onOutput,
  });
  if (out.aborted || run?.signal?.aborted)
    return {
      code: 130,
      stdout: out.stdout,
      stderr: `${out.stderr}
interrupted (Ctrl-C)`,
    };
  return {
    code: out.timedOut ? 124 : (out.code ?? 124),
    stdout: out.stdout,
    stderr: out.timedOut ? `${out.stderr}\ntimed out after ${timeoutMs} ms` : out.stderr,
    timedOut: out.timedOut,
  };
}

/** Stop what run `runId` still runs on the VM: its whole session (best effort, bounded). */
export async function stopRemote(vm: Vm, cfg: SshConfig, runId: string): Promise<void> {
  const argv = sshArgv(vm, { ...cfg, connectTimeoutS: Math.min(cfg.connectTimeoutS, 5) }, remoteShell(vm));
  await spawnArgv(argv, { input: stopRun(runId), timeoutMs: 8000 });
}

/** The running masters by socket: OpenSSH titles a master "ssh: <ControlPath> [mux]". */
export function masters(): Map<string, number> {
  const found = new Map<string, number>();
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      const m = /^ssh: (\/.*) \[mux\]$/.exec(fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, ''));
      if (m) found.set(m[1], Number(pid));
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

/** Close these VMs' multiplexed connections (best effort): SIGTERM to each master (it
 *  removes its socket and says goodbye to sshd), found by its title, instead of one
 *  `ssh -O exit` per VM; `-O exit` where a master is not found that way. */
export async function closeMasters(vms: Vm[], cfg: SshConfig): Promise<void> {
  const running = masters();
  await Promise.all(
    vms.map(async (vm) => {
      const socket = controlPath(vm, cfg);
      if (!fs.existsSync(socket)) return;
      const pid = running.get(socket);
      if (pid) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone, or not ours: ask it below */
        }
        // gone once it has handled the signal: a run right after must not find it dying (an
        // old ssh may only see the signal at its next keepalive: then it is asked below)
        for (let i = 0; i < 50 && fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20));
        if (!fs.existsSync(socket)) return;
      }
      const argv = sshArgv(vm, cfg, []);
      argv.splice(argv.indexOf('-T'), 1, '-O', 'exit');
      await spawnArgv(argv, { timeoutMs: 5000 });
    }),
  );
}

// `meshbook verify traffic --env <a lab's env file>` (and `meshbook canary --env ...`, which runs
// the verifier in-process): the lab's addresses exist only inside its
// workstation network namespace, so meshbook re-executes itself there (`ip netns exec NS node
// ... verify ...`) and waits. The child must not outlive the parent nor miss its signals:
//
// - SIGINT and SIGTERM (and SIGHUP) to the parent are forwarded to the child. A Ctrl-C on a
//   terminal reaches both (same process group), so the child gets SIGINT twice within
//   milliseconds; the verifier counts those as one Ctrl-C (scripts/verify/cli.ts).
// - The child gets MESHBOOK_PARENT_WATCH=<this pid> and exits within ~250 ms of this process
//   being gone, `kill -9` included (scripts/verify/parent-watch.ts).
// - When this process itself was started with MESHBOOK_PARENT_WATCH (the demo does), it watches
//   its own parent the same way and stops the child when it is gone.
//
// The exit code is the child's: its verdict (0-3; after a Ctrl-C the verdict on what was
// counted), 143 after SIGTERM, or 128 + the signal that ended it.

import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { InputError, readEnvFile } from '../engine/inputs.ts';
import { PARENT_WATCH_ENV, watchParentIfAsked } from './parent-watch.ts';

/** Already inside network namespace `ns` (e.g. run by the lab's cluster provider)? */
export function inNamespace(ns: string): boolean {
  try {
    return fs.statSync('/proc/self/ns/net').ino === fs.statSync(`/run/netns/${ns}`).ino;
  } catch {
    return false;
  }
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** After a forwarded SIGTERM, the child gets this long to print what it counted, then SIGKILL. */
export const KILL_AFTER_MS = 4000;

/** Exit code of a child that ended with `code` or by `signal`. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + (os.constants.signals[signal] ?? 1);
  return 1;
}

/**
 * `verify … --env FILE` or `canary … --env FILE` where FILE names a lab (LAB_NETNS) this process is not inside: run
 * `argv` again inside that namespace and resolve to the child's exit code. Undefined when
 * nothing needs to be done (not `verify --env`, no LAB_NETNS, already inside). Throws
 * InputError when the namespace needs root and this is not root.
 */
export async function inLabNamespace(argv: string[]): Promise<number | undefined> {
  const args = argv.slice(2);
  const i = args.indexOf('--env');
  if (!['verify', 'canary'].includes(args[0]) || i < 0 || !args[i + 1]) return undefined;
  let ns: string | undefined;
  try {
    ns = readEnvFile(args[i + 1]).LAB_NETNS;
  } catch {
    return undefined;
  }
  if (!ns || process.env.MESHBOOK_NETNS === ns || inNamespace(ns)) return undefined;
  if (process.getuid?.() !== 0)
    throw new InputError([`LAB_NETNS: the lab (namespace ${ns}) is reached only as root; run as root`]);
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, ...argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, MESHBOOK_NETNS: ns, [PARENT_WATCH_ENV]: String(process.pid) },
  });
  let killTimer: NodeJS.Timeout | undefined;
  const forward = (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      child.kill(sig);
    } catch {
      // gone already
    }
    if (sig !== 'SIGINT' && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  };
  const handlers = FORWARDED.map((sig) => [sig, () => forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const stopWatch = watchParentIfAsked(false, () => forward('SIGTERM'));
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, sig) => resolve(exitCodeOf(code, sig)));
    });
  } finally {
    stopWatch();
    if (killTimer) clearTimeout(killTimer);
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

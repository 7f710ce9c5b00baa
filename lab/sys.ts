// meshbook lab: small system helpers (commands, network namespaces, stopping processes); what
// /proc says about a process is in proc.ts, files written whole in files.ts (both re-exported).
// Commands are argument arrays run through zx, which quotes every interpolated value.
import type { ProcessOutput, Shell } from 'zx';
import pMap from 'p-map';
import { zx } from '../scripts/engine/lazy.ts';
import { promises as fsp, statSync } from 'node:fs';
import { endianness } from 'node:os';
import path from 'node:path';
import { LabError } from './config.ts';
import { alive, procNetnsInode, procRef, procStat, readSmall, type ProcRef } from './proc.ts';

export const NETNS_DIR = '/run/netns';

/** Environment for everything the lab starts: nothing of the caller's (secrets!) leaks in. */
export const CLEAN_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  HOME: '/root',
  // zx runs commands through bash; with stdin a socket and no SHLVL, bash would source
  // ~/.bashrc (its "started by rshd" rule): slow, noisy and not ours to run
  SHLVL: '1',
};

let shell: Shell | undefined;
const q = (): Shell => (shell ??= zx.$({ quiet: true, env: CLEAN_ENV }) as Shell);

/** Run a command (argument array). Throws a LabError naming the command on failure. */
export async function run(argv: string[], opts: { input?: string; nothrow?: boolean } = {}): Promise<ProcessOutput> {
  const out = await q()({ input: opts.input, nothrow: true })`${argv}`;
  if (out.exitCode !== 0 && !opts.nothrow) {
    const msg = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new LabError(
      `${argv.slice(0, 4).join(' ')}${argv.length > 4 ? ' ...' : ''} failed (exit ${out.exitCode}): ${msg}`,
    );
  }
  return out;
}

/** `ip -n <ns> -batch -` (or the root namespace when ns is null): one process for many changes. */
export async function ipBatch(
  ns: string | null,
  lines: string[],
  opts: { force?: boolean } = {},
): Promise<ProcessOutput> {
  const argv = ['ip', ...(ns ? ['-n', ns] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  return run(argv, { input: lines.join('\n') + '\n', nothrow: opts.force });
}

// ---- network namespaces and processes -------------------------------------------------

const NSFS_DEV = (() => {
  try {
    return statSync('/proc/self/ns/net').dev;
  } catch {
    return -1;
  }
})();

/** Inode of the named network namespace if it exists (a mounted nsfs handle), else null. */
export function netnsInode(name: string): number | null {
  try {
    const st = statSync(path.join(NETNS_DIR, name));
    return st.dev === NSFS_DEV ? st.ino : null;
  } catch {
    return null;
  }
}

/** Names of all network namespaces under /run/netns starting with `<prefix>-`. */
export async function netnsWithPrefix(prefix: string): Promise<string[]> {
  let names: string[] = [];
  try {
    names = await fsp.readdir(NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(`${prefix}-`)).sort();
}

/** Every process whose network namespace is one of `inodes` (except this process and its ancestors). */
export async function pidsInNetns(inodes: Set<number>): Promise<number[]> {
  const spare = new Set<number>();
  for (let p = process.pid; p > 1;) {
    spare.add(p);
    const st = procStat(p);
    if (!st) break;
    p = st.ppid;
  }
  const out: number[] = [];
  for (const e of await fsp.readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (spare.has(pid)) continue;
    const ino = procNetnsInode(pid);
    if (ino !== null && inodes.has(ino)) {
      const st = procStat(pid);
      if (st && st.state !== 'Z') out.push(pid);
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to `graceMs`, then SIGKILL whatever is left; resolves when all are gone. */
export async function terminate(pids: number[], graceMs = 2000): Promise<void> {
  const refs = pids.map(procRef).filter((r): r is ProcRef => r !== null);
  const send = (sig: NodeJS.Signals) => {
    for (const r of refs) {
      if (alive(r)) {
        try {
          process.kill(r.pid, sig);
        } catch {
          /* gone meanwhile */
        }
      }
    }
  };
  const waitGone = async (ms: number) => {
    const until = Date.now() + ms;
    while (refs.some(alive) && Date.now() < until) await sleep(20);
    return !refs.some(alive);
  };
  send('SIGTERM');
  if (await waitGone(graceMs)) return;
  send('SIGKILL');
  if (!(await waitGone(3000))) {
    throw new LabError(
      `processes ${refs
        .filter(alive)
        .map((r) => r.pid)
        .join(' ')} did not exit after SIGKILL`,
    );
  }
}

/** Kill every process living in the named network namespaces (each VM's whole process tree included). */
export async function killNetnsProcesses(names: string[], graceMs = 2000): Promise<number> {
  const inodes = new Set(names.map(netnsInode).filter((i): i is number => i !== null));
  if (!inodes.size) return 0;
  let total = 0;
  for (let round = 0; round < 3; round++) {
    const pids = await pidsInNetns(inodes);
    if (!pids.length) return total;
    total += pids.length;
    await terminate(pids, graceMs);
  }
  const left = await pidsInNetns(inodes);
  if (left.length) throw new LabError(`processes ${left.join(' ')} keep running in ${names.join(', ')}`);
  return total;
}

// ---- network namespaces -------------------------------------------------------------

/** Create network namespaces (skipping existing ones), loopback up in each. */
export async function createNetns(names: string[]): Promise<void> {
  const missing = names.filter((n) => netnsInode(n) === null);
  if (!missing.length) return;
  // a handle file left without its mount (e.g. /run survived a reboot) blocks `netns add`
  await deleteNetns(missing.filter((n) => statExists(path.join(NETNS_DIR, n))));
  await ipBatch(
    null,
    missing.map((n) => `netns add ${n}`),
  );
  await Promise.all(missing.map((n) => ipBatch(n, ['link set lo up'])));
}

/** Delete network namespaces (missing ones are fine). Kill their processes first. */
export async function deleteNetns(names: string[]): Promise<void> {
  const present = names.filter((n) => netnsInode(n) !== null || statExists(path.join(NETNS_DIR, n)));
  if (!present.length) return;
  await ipBatch(
    null,
    present.map((n) => `netns del ${n}`),
    { force: true },
  );
  const left = present.filter((n) => statExists(path.join(NETNS_DIR, n)));
  if (left.length) throw new LabError(`could not delete network namespaces ${left.join(', ')}`);
}

export function statExists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Link names in a namespace (`ip -n ns -o link show`), without the @peer suffix. */
export async function linkNames(ns: string): Promise<Set<string>> {
  const out = await run(['ip', '-n', ns, '-o', 'link', 'show'], { nothrow: true });
  const names = new Set<string>();
  if (out.exitCode !== 0) return names;
  for (const line of out.stdout.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

/**
 * Is `address` listening on TCP `port` in the network namespace of `pid`? Reads
 * /proc/<pid>/net/tcp, which shows that process's namespace: no process is started.
 */
export function listening(pid: number, address: string, port: number): boolean {
  let text: string;
  try {
    text = readSmall(`/proc/${pid}/net/tcp`);
  } catch {
    return false;
  }
  const o = address.split('.').map(Number);
  const le = endianness() === 'LE';
  const bytes = le ? [...o].reverse() : o;
  const want =
    bytes
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase() +
    ':' +
    port.toString(16).padStart(4, '0').toUpperCase();
  const any = '00000000:' + port.toString(16).padStart(4, '0').toUpperCase();
  return text.split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[3] === '0A' && (f[1] === want || f[1] === any);
  });
}

// ---- files: files.ts -------------------------------------------------------------------

/**
 * Run `fn` over items with at most `limit` running at once (p-map). After the first failure no
 * new item starts; the call settles when the running ones have, with that first error.
 */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  let failed: { error: unknown } | undefined;
  const guarded = async (item: T, i: number): Promise<R> => {
    if (failed) return undefined as R;
    try {
      return await fn(item, i);
    } catch (e) {
      failed ??= { error: e };
      throw e;
    }
  };
  try {
    return await pMap(items, guarded, { concurrency: Math.max(1, limit), stopOnError: false });
  } catch (e) {
    throw failed ? failed.error : e;
  }
}

export { sleep };
export { alive, procChildren, procComm, procNetnsInode, procRef, procStat, type ProcRef } from './proc.ts';
export { createExclusive, mkdirp, takeLockFile, writeIfChanged } from './files.ts';

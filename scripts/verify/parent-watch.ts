// A verifier that meshbook started must not outlive it. `kill -9` of meshbook leaves its child
// running (nothing forwards a signal any more), so the child watches for itself: every 250 ms
// (an unref'd timer: it never keeps the process alive) it checks that its parent is still the
// one it started with, and, when MESHBOOK_PARENT_WATCH names a pid, that this process still
// lives. When either is gone, it stops sending at once and exits (129, as for a hang-up).
//
// Opt-in, not always on: a verifier started from a shell with `( ... & )`, `setsid` or
// `nohup ... &` and a closed terminal is reparented on purpose and must keep running. meshbook
// opts in wherever it starts one: `inLabNamespace` (MESHBOOK_PARENT_WATCH=<its pid>), the demo
// (the same), and traffic-shift step 14 (`--exit-with-parent`, the runner cannot set env).

import fs from 'node:fs';

export const PARENT_WATCH_ENV = 'MESHBOOK_PARENT_WATCH';
export const PARENT_POLL_MS = 250;
/** Exit code when the parent is gone (128 + SIGHUP). */
export const EXIT_PARENT_GONE = 129;

/** The pid to watch from MESHBOOK_PARENT_WATCH (a pid > 1), true for `1`/`yes`, else false. */
export function parentWatchFromEnv(env: NodeJS.ProcessEnv = process.env): number | boolean {
  const v = env[PARENT_WATCH_ENV]?.trim();
  if (!v) return false;
  if (/^\d+$/.test(v) && Number(v) > 1) return Number(v);
  return v === '1' || v.toLowerCase() === 'yes' || v.toLowerCase() === 'true';
}

/** `/proc/<pid>/stat` start time, or null when the process is gone (or a zombie). */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ... starttime": comm may hold spaces and parentheses
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null; // field 22 overall, 20th after comm
}

export interface WatchOptions {
  /** also watch this pid (an ancestor): gone when it is gone */
  pid?: number;
  pollMs?: number;
}

/**
 * Call `onGone` once when this process's parent changes (it died: we were reparented) or the
 * watched pid is gone. Checks once at once (the parent may have died while we started).
 * Returns a function that stops watching.
 */
export function watchParent(onGone: () => void, o: WatchOptions = {}): () => void {
  const ppid = process.ppid;
  const start = o.pid !== undefined ? processStart(o.pid) : undefined;
  const gone = () =>
    process.ppid !== ppid || (o.pid !== undefined && (start === null || processStart(o.pid) !== start));
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = true;
    clearInterval(timer);
    onGone();
  };
  const timer = setInterval(() => {
    if (gone()) fire();
  }, o.pollMs ?? PARENT_POLL_MS);
  timer.unref();
  if (gone()) queueMicrotask(fire);
  return () => clearInterval(timer);
}

/** Watch as the environment and `--exit-with-parent` ask; `onGone` defaults to exit 129. */
export function watchParentIfAsked(flag: boolean | undefined, onGone?: () => void): () => void {
  const fromEnv = parentWatchFromEnv();
  if (!flag && fromEnv === false) return () => undefined;
  return watchParent(
    onGone ??
      (() => {
        try {
          process.stderr.write('meshbook verify traffic: the process that started it is gone: stopped sending\n');
        } catch {
          // stderr may be a closed pipe now
        }
        process.exit(EXIT_PARENT_GONE);
      }),
    typeof fromEnv === 'number' ? { pid: fromEnv } : {},
  );
}

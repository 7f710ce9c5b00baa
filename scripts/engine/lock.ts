// One run at a time per env file: a rebuild, walkthrough or canary holds a lock file in the
// state home (not beside the env file: a read-only checkout still works). The lock names
// its holder (pid, the pid's start time, the command line); a second run refuses at once
// with that name, and a lock whose holder is gone (dead pid, or a pid reused by another
// process) is taken over with a line saying so.
import fs from 'node:fs';
import path from 'node:path';
import { envKey, stateHome, tempNameFor } from './files.ts';
import { InputError } from './inputs.ts';
import { redact } from './redact.ts';

export interface LockHolder {
  pid: number;
  start: string;
  command: string;
  since: string;
}

/** A process's start time (clock ticks since boot, /proc/PID/stat field 22): with the
 *  pid it names one process, even after the pid is reused. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const alive = (h: LockHolder) => processStart(h.pid) === h.start;

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return typeof h?.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

export class LockBusy extends InputError {
  constructor(
    readonly holder: LockHolder,
    envFile: string,
  ) {
    super([
      `${envFile}: another meshbook run is working on this env file: pid ${holder.pid} ` +
        `(${holder.command}), since ${holder.since}; wait for it to finish or stop it`,
    ]);
  }
}

export interface RunLock {
  file: string;
  release(): void;
  tookOver?: LockHolder;
}

/** Take the lock for `envFile`, or throw LockBusy (exit 2). Released on release() or
 *  when the process exits. */
export function lockEnv(envFile: string, command = commandLine(), dir = path.join(stateHome(), 'locks')): RunLock {
  const file = path.join(dir, `${envKey(envFile)}.lock`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const me: LockHolder = {
    pid: process.pid,
    start: processStart(process.pid) ?? '',
    command,
    since: new Date().toISOString(),
  };
  // the lock's content is complete before it exists: written to a temp file, then linked
  // to the lock's name (link fails if the name exists: exactly one process wins)
  const tmp = tempNameFor(file);
  fs.writeFileSync(tmp, JSON.stringify(me), { mode: 0o600, flag: 'wx' });
  let tookOver: LockHolder | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e;
      }
      const held = readHolder(file);
      if (held && alive(held)) throw new LockBusy(held, envFile);
      // stale (or unreadable): move it aside under a unique name; if what was moved is not
      // what was judged stale (another run took it over in between), put it back
      const aside = tempNameFor(file);
      try {
        fs.renameSync(file, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      if (held && moved && (moved.pid !== held.pid || moved.start !== held.start)) {
        try {
          fs.linkSync(aside, file);
        } catch {
          /* a third run has it now: the loop asks again */
        }
        fs.rmSync(aside, { force: true });
        continue;
      }
      fs.rmSync(aside, { force: true });
      tookOver = held ?? { pid: 0, start: '', command: 'unreadable lock', since: '' };
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const h = readHolder(file);
    if (h?.pid === me.pid && h.start === me.start) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, release, tookOver };
}

/** This process's command line as a person typed it (no node path, secrets masked). */
export function commandLine(argv = process.argv): string {
  return redact(['meshbook', ...argv.slice(2)].join(' '));
}

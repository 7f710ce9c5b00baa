// meshbook lab: files written whole or not at all (temp file, then link or rename), and
// the lock file whose stale holder is removed safely.
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LabError } from './config.ts';
import { alive, procRef } from './proc.ts';

/** A unique temp name beside `file` (`.<name>.<random>.tmp`: `lab down` knows the pattern). */
const tmpBeside = (file: string) =>
  path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);

async function writeTemp(file: string, content: string, mode: number): Promise<string> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpBeside(file);
  const fh = await fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    await fh.chmod(mode); // umask may have narrowed or (for 0600 files) nothing to widen: be exact
    await fh.writeFile(content);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  return tmp;
}

/**
 * Create `file` with its whole content at once, only if it does not exist: the content goes
 * into a unique temp file that is then hard-linked to the name (link(2) fails when the name
 * exists), so nobody ever sees the file empty or half written (a lock file a reader would
 * take for stale, a file "written once" that a crash left truncated). Returns false when
 * the file exists.
 */
export async function createExclusive(file: string, content: string, mode: number): Promise<boolean> {
  const tmp = await writeTemp(file, content, mode);
  try {
    await fsp.link(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/**
 * Take a lock file for this process (`<pid> <start>`, created whole by createExclusive).
 * Returns null when taken, else the pid of the live holder. A lock whose holder is gone is
 * removed, but only after it was renamed aside and found to be the very lock judged stale
 * (a lock someone took meanwhile is put back): two processes that find the same stale lock
 * cannot remove each other's new one.
 */
export async function takeLockFile(file: string): Promise<number | null> {
  const me = procRef(process.pid)!;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(file, `${me.pid} ${me.start}\n`, 0o600)) return null;
    const seen = await fsp.readFile(file, 'utf8').catch(() => '');
    const [pid, start] = seen.trim().split(' ');
    if (seen && alive({ pid: Number(pid), start })) return Number(pid);
    const aside = tmpBeside(file);
    try {
      await fsp.rename(file, aside);
    } catch {
      continue; // gone already
    }
    const got = await fsp.readFile(aside, 'utf8').catch(() => '');
    if (got !== seen) await fsp.link(aside, file).catch(() => {}); // a live lock: back it goes
    await fsp.rm(aside, { force: true });
  }
  throw new LabError(`could not take the lock ${file}`);
}

/**
 * Write a file atomically with `mode`: the content goes into a temp file created with that
 * mode before anything is written, then renamed over the target. Returns false (and leaves
 * the file alone) when the content is already identical.
 */
export async function writeIfChanged(file: string, content: string, mode: number): Promise<boolean> {
  try {
    const cur = await fsp.readFile(file, 'utf8');
    const st = await fsp.stat(file);
    if (cur === content && (st.mode & 0o777) === mode) return false;
  } catch {
    /* missing */
  }
  const tmp = await writeTemp(file, content, mode);
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  return true;
}

/** mkdir -p that reports the first directory it created (so `down` can remove exactly that). */
export async function mkdirp(dir: string, mode = 0o755): Promise<string | undefined> {
  return fsp.mkdir(dir, { recursive: true, mode });
}

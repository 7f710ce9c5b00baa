// Writing meshbook's own files (journal, lock, saved answers): never in place. Each write
// goes to a unique temporary name in the target's directory (created exclusively, its mode
// set before a byte is written), is synced, and then renamed over the target: a reader sees
// the old file or the new one, never half of one, and two writers never share a temp file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A unique temporary name beside `file` (same directory: the rename stays atomic). */
export function tempNameFor(file: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
}

/** Write `content` to `file` atomically with `mode` (default 0600). */
export function writeFileAtomic(file: string, content: string, mode = 0o600): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = tempNameFor(file);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  try {
    fs.fchmodSync(fd, mode); // the umask may have narrowed it, a default ACL widened it
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** meshbook's state home: $MESHBOOK_STATE_DIR, else $XDG_STATE_HOME/meshbook, else
 *  ~/.local/state/meshbook. It does not depend on the current directory, so a run from
 *  another directory finds the same journal and the same lock. */
export function stateHome(): string {
  if (process.env.MESHBOOK_STATE_DIR) return path.resolve(process.env.MESHBOOK_STATE_DIR);
  const xdg = process.env.XDG_STATE_HOME;
  const home = process.env.HOME || '/root';
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'state'), 'meshbook');
}

/** A file name for an env file: its base name and a hash of its absolute path. */
export function envKey(envFile: string): string {
  const abs = path.resolve(envFile);
  const tag = crypto.createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return `${path.basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}`;
}

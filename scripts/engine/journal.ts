// The state journal: per env file, which step finished on which host, with a fingerprint
// of the exact scripts (a one-way hash) so a resume never skips a step whose inputs changed.
// It holds statuses and hashes only: no values, no secrets.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Status } from './types.ts';

interface Entry { status: Status; fingerprint: string; at: string }
interface State { envFile: string; complete: boolean; steps: Record<string, Record<string, Entry>> }

export const STATE_DIR = process.env.MESHBOOK_STATE_DIR ?? '.meshbook/state';

/** Where cluster steps keep generated files for an env file (e.g. istioctl's output). */
export function workDirFor(envFile: string, dir = STATE_DIR): string {
  const abs = path.resolve(envFile);
  // keyed by the path as seen from here, so plans read the same in any checkout
  const tag = crypto.createHash('sha256').update(path.relative(process.cwd(), abs)).digest('hex').slice(0, 8);
  return path.join(path.dirname(dir), 'work', `${path.basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}`);
}
const DONE: Status[] = ['ok', 'changed', 'unchanged', 'not in lab'];

export function fingerprint(...texts: Array<string | undefined>): string {
  const h = crypto.createHash('sha256');
  for (const t of texts) h.update(t ?? '').update('\0');
  return h.digest('hex').slice(0, 16);
}

export class Journal {
  readonly file: string;
  private state: State;
  private dirty = false;

  constructor(envFile: string, dir = STATE_DIR) {
    const abs = path.resolve(envFile);
    const tag = crypto.createHash('sha256').update(abs).digest('hex').slice(0, 8);
    this.file = path.join(dir, `${path.basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}.json`);
    this.state = fs.existsSync(this.file) ? JSON.parse(fs.readFileSync(this.file, 'utf8')) : { envFile: abs, complete: true, steps: {} };
  }

  /** True when the last run did not finish cleanly: finished steps may be skipped. */
  get resuming(): boolean { return !this.state.complete; }

  doneBefore(stepId: string, host: string, fp: string): boolean {
    const e = this.state.steps[stepId]?.[host];
    return !!e && DONE.includes(e.status) && e.fingerprint === fp;
  }

  /** A run begins: after a clean run the old entries say nothing about this one. */
  start(): void {
    if (this.state.complete) this.state.steps = {};
    this.state.complete = false;
    this.save();
  }

  /** Kept in memory until flush() (the runner flushes after every step and at the end):
   *  one write per step, not per step and host. An entry lost to a crash in between only
   *  means that step's check runs again on resume; the file never claims undone work. */
  record(stepId: string, host: string, status: Status, fp: string): void {
    (this.state.steps[stepId] ??= {})[host] = { status, fingerprint: fp, at: new Date().toISOString() };
    this.dirty = true;
  }

  flush(): void {
    if (this.dirty) this.save();
  }

  finish(ok: boolean): void {
    this.state.complete = ok;
    this.save();
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state, null, 2));
    fs.renameSync(tmp, this.file);
    this.dirty = false;
  }
}

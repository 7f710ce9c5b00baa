// The run journal: per runbook and env file, which step finished on which host, with a
// fingerprint of the scripts it sent. It advises, it does not decide: a resumed run still
// runs the check of every step, and only a step whose check confirms the wanted state now
// is reported as done earlier (runner.ts). It knows what it is about: each host's identity
// (its SSH host key) and the cluster's (the lab's generation, or kube-system's UID); a
// different identity voids that host's entries. It holds statuses, hashes and identities
// only: no values, and fingerprints are taken over the scripts with secrets masked, so the
// journal cannot be used to test guesses of a secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Status } from './types.ts';
import { envKey, stateHome, writeFileAtomic } from './files.ts';
import { redact } from './redact.ts';

interface Entry {
  status: Status;
  fingerprint: string;
  at: string;
}
interface State {
  version: 2;
  envFile: string;
  runbook: string;
  complete: boolean;
  identities: Record<string, string>; // host (or "cluster") -> identity
  steps: Record<string, Record<string, Entry>>; // step id -> host -> entry
}

/** Where journals live: <state home>/journal/<runbook>/<env file>-<hash>.json. */
export function journalDir(dir = stateHome()): string {
  return path.join(dir, 'journal');
}

/** Where cluster steps keep generated files for an env file (e.g. istioctl's output).
 *  Keyed by the path as seen from here, so plans read the same in any checkout. */
export function workDirFor(envFile: string, dir = process.env.MESHBOOK_STATE_DIR ?? '.meshbook/state'): string {
  const abs = path.resolve(envFile);
  const tag = crypto.createHash('sha256').update(path.relative(process.cwd(), abs)).digest('hex').slice(0, 8);
  return path.join(path.dirname(dir), 'work', `${path.basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${tag}`);
}

const DONE: Status[] = ['ok', 'changed', 'unchanged', 'not in lab'];

/** A one-way hash of the texts, each with every registered secret masked first. */
export function fingerprint(...texts: Array<string | undefined>): string {
  const h = crypto.createHash('sha256');
  for (const t of texts) h.update(redact(t ?? '')).update('\0');
  return h.digest('hex').slice(0, 16);
}

function fresh(envFile: string, runbook: string): State {
  return { version: 2, envFile, runbook, complete: true, identities: {}, steps: {} };
}

function valid(s: unknown): s is State {
  const o = s as State;
  return (
    !!o &&
    typeof o === 'object' &&
    o.version === 2 &&
    typeof o.complete === 'boolean' &&
    !!o.steps &&
    typeof o.steps === 'object' &&
    !!o.identities &&
    typeof o.identities === 'object'
  );
}

/** The journals of one env file, one file per runbook, loaded when first needed. */
export class Journal {
  readonly envFile: string;
  readonly dir: string;
  /** Lines the run should show: a journal moved aside, a host's entries voided. */
  readonly notices: string[] = [];
  private parts = new Map<string, { file: string; state: State; dirty: boolean }>();

  constructor(envFile: string, dir = stateHome()) {
    this.envFile = path.resolve(envFile);
    this.dir = journalDir(dir);
  }

  fileFor(runbook: string): string {
    return path.join(this.dir, runbook, `${envKey(this.envFile)}.json`);
  }

  private part(runbook: string) {
    let p = this.parts.get(runbook);
    if (p) return p;
    const file = this.fileFor(runbook);
    let state = fresh(this.envFile, runbook);
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      /* none yet */
    }
    if (text !== undefined) {
      let parsed: unknown;
      let why = 'not a meshbook journal';
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        why = text.trim() ? `not JSON (${(e as Error).message})` : 'empty';
      }
      if (valid(parsed)) state = parsed;
      else {
        const aside = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        fs.renameSync(file, aside);
        this.notices.push(`journal ${file} could not be read (${why}): moved aside to ${aside}; this run starts fresh`);
      }
    }
    p = { file, state, dirty: false };
    this.parts.set(runbook, p);
    return p;
  }

  private ofStep(stepId: string) {
    return this.part(stepId.split('/')[0]);
  }

  /** The runbooks among `runbooks` whose last run did not finish. */
  interrupted(runbooks: string[]): string[] {
    return runbooks.filter((rb) => !this.part(rb).state.complete);
  }

  /** True when the last run of any loaded runbook did not finish cleanly. */
  get resuming(): boolean {
    return [...this.parts.values()].some((p) => !p.state.complete);
  }

  isResuming(runbook: string): boolean {
    return !this.part(runbook).state.complete;
  }

  /** What this run sees of `host` (an identity, or undefined when unknown). A journal that
   *  knew the host as something else (or cannot tell) drops its entries for it. */
  identify(runbooks: string[], host: string, identity: string | undefined, what: string): void {
    for (const rb of runbooks) {
      const p = this.part(rb);
      const known = p.state.identities[host];
      const has = Object.values(p.state.steps).some((e) => e[host]);
      if (has && known !== identity) {
        for (const e of Object.values(p.state.steps)) delete e[host];
        this.notices.push(
          `journal of ${rb}: ${host} is not the ${what} it recorded ` +
            `(${identity ? 'identity changed' : 'identity unknown'}): its entries are void`,
        );
      }
      if (identity) p.state.identities[host] = identity;
      else delete p.state.identities[host];
      p.dirty = true;
    }
  }

  /** The identity of a host this run reached for the first time (its key was not known
   *  when the run began): recorded without voiding anything. */
  learn(runbooks: string[], host: string, identity: string): void {
    for (const rb of runbooks) {
      const p = this.part(rb);
      if (p.state.identities[host] === identity) continue;
      p.state.identities[host] = identity;
      p.dirty = true;
    }
  }

  knows(runbook: string, host: string): boolean {
    return !!this.part(runbook).state.identities[host];
  }

  doneBefore(stepId: string, host: string, fp: string): boolean {
    const e = this.ofStep(stepId).state.steps[stepId]?.[host];
    return !!e && DONE.includes(e.status) && e.fingerprint === fp;
  }

  /** A run of these runbooks begins: after a clean run the old entries say nothing. */
  start(runbooks: string[]): void {
    for (const rb of runbooks) {
      const p = this.part(rb);
      if (p.state.complete) p.state.steps = {};
      p.state.complete = false;
      this.save(p);
    }
  }

  /** Kept in memory until flush() (the runner flushes after every step and at the end). An
   *  entry lost to a crash in between only means no "done earlier" label on resume. */
  record(stepId: string, host: string, status: Status, fp: string): void {
    const p = this.ofStep(stepId);
    (p.state.steps[stepId] ??= {})[host] = { status, fingerprint: fp, at: new Date().toISOString() };
    p.dirty = true;
  }

  flush(): void {
    for (const p of this.parts.values()) if (p.dirty) this.save(p);
  }

  finish(runbooks: string[], ok: boolean): void {
    for (const rb of runbooks) {
      const p = this.part(rb);
      p.state.complete = ok;
      this.save(p);
    }
  }

  private save(p: { file: string; state: State; dirty: boolean }): void {
    writeFileAtomic(p.file, JSON.stringify(p.state, null, 2) + '\n', 0o600);
    p.dirty = false;
  }
}

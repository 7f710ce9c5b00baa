// The run ledger: one JSON Lines file per run under .meshbook/runs/ (--runs-dir or
// MESHBOOK_RUNS_DIR move it), the directory 0700, the file 0600. Every event is one complete
// line with `t` (ISO time) and `type`, written with one write on an O_APPEND descriptor: a
// kill -9 leaves every earlier event readable. Every string is masked on the way in (every
// value of an input marked secret, and every secret found on the way: redact.ts). A run that
// has no run-end and whose process is gone is marked ended abnormally by the next run.
// Events: run-start, step, step-start, step-end, verify-result, canary-step, ..., run-end.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { redact } from '../engine/redact.ts';
import { processStart } from '../engine/lock.ts';
import { repoPath, REPO_ROOT } from '../engine/repo.ts';
import type { Inventory } from '../engine/inventory.ts';

/** Set in the environment of a run's children: a `meshbook verify traffic` a rebuild runs is part of that
 *  run (its result is in the rebuild's ledger), not a run of its own. */
export const RUN_PARENT_ENV = 'MESHBOOK_RUN_PARENT';

/** Where runs are kept: --runs-dir, else $MESHBOOK_RUNS_DIR, else .meshbook/runs (beside .meshbook/known_hosts). */
export function runsDir(flag?: string): string {
  return path.resolve(flag || process.env.MESHBOOK_RUNS_DIR || path.join('.meshbook', 'runs'));
}

/** Every string in a value masked (deep): what the ledger writes never holds a known secret. */
export function masked(v: unknown): unknown {
  if (typeof v === 'string') return redact(v);
  if (Array.isArray(v)) return v.map(masked);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k), masked(x)]));
  return v;
}

/** One event as one line: `t`, `type`, then the data, masked. */
export function eventLine(type: string, data: object = {}): string {
  return `${JSON.stringify(masked({ t: new Date().toISOString(), type, ...data }))}\n`;
}

/** Write `line` with one write on an O_APPEND descriptor (a short write is finished, never interleaved). */
function appendLine(fd: number, line: string): void {
  const buf = Buffer.from(line);
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** The directory, made 0700 when it is new; an existing one is used only when no other user can
 *  reach into it (its mode is not changed: --runs-dir /tmp must not narrow /tmp). */
function ensureDir(dir: string): void {
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    return;
  }
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.mode & 0o077)
    throw new Error(
      `${dir} is open to other users (mode ${(st.mode & 0o7777).toString(8)}); the ledger holds the commands ` +
        'sent and their output: chmod 700 it, or name a directory of your own with --runs-dir',
    );
}

export interface RunStart {
  command: string;
  argv?: string[];
  envFile?: string;
  inventory?: Inventory;
  runsDir?: string;
}

/** What `meshbook canary` records per step, as `ledger.event('canary-step', step)`: the report draws the
 *  weights per step over time with each verdict. */
export interface CanaryStepEvent {
  index: number;
  weights: Record<string, number>; // e.g. { v1: 90, v2: 10, v3: 0 }
  /** PASS, FAIL, INCONCLUSIVE, ROLLBACK (a rollback that verified), or the canary's INTERRUPTED,
   *  CONFIRM-FAILED (the data plane never took the weights), ERROR (the apply failed) */
  verdict: string;
  /** the canary's name for the entry: `step 2/3 (v3 50 %)`, `rollback to start` */
  label?: string;
  n?: number;
  p?: number;
  errorsPct?: number;
  canaryP99Ms?: number;
  baselineP99Ms?: number;
  durationMs?: number;
}

/** A run's ledger. The canary (or any command) records a run with:
 *    const ledger = openRun({ command: 'canary', envFile, inventory: loaded.inventory, runsDir }, warn);
 *    runRunbooks(..., { hooks: bothHooks(textHooks(), ledgerHooks(ledger)) })   // steps x hosts, if it runs steps
 *    ledger.event('canary-step', step); // step: CanaryStepEvent, one per canary step
 *    ledger.end(exitCode);                                                        // also written at process exit */
export interface RunLedger {
  readonly id: string;
  readonly file: string;
  event(type: string, data?: object): void;
  end(code: number, data?: object): void;
}

/** The project's commit (undefined outside a git checkout). */
function projectCommit(): string | undefined {
  try {
    return execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

function envFileOf(file?: string): Record<string, unknown> | undefined {
  if (!file) return undefined;
  const abs = path.resolve(file);
  try {
    return { path: abs, sha256: crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex') };
  } catch {
    return { path: abs, sha256: null };
  }
}

const VERSION = (() => {
  try {
    return (JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** Start a run's ledger: mark runs left without an end, create the file, write run-start. The
 *  returned ledger appends events; end(code) writes run-end (also written, with the process's
 *  exit code, if the process exits without it). */
export function startRun(o: RunStart): RunLedger {
  const dir = runsDir(o.runsDir);
  ensureDir(dir);
  markAbandoned(dir);
  const stamp = new Date().toISOString().replace(/[-:.]/g, ''); // to the ms: names sort in start order
  const id = `${stamp}-${o.command.replace(/[^a-z0-9]+/gi, '-')}-${crypto.randomBytes(3).toString('hex')}`;
  const file = path.join(dir, `${id}.jsonl`);
  const fd = fs.openSync(
    file,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND,
    0o600,
  );
  fs.fchmodSync(fd, 0o600);
  let ended = false;
  const t0 = Date.now();
  let broken = false;
  const event = (type: string, data: object = {}) => {
    if (ended || broken) return;
    try {
      appendLine(fd, eventLine(type, data));
    } catch (e) {
      // a full disk stops the record, not the run: said once, on stderr
      broken = true;
      process.stderr.write(`run ledger: ${file}: no more events written (${(e as Error).message})\n`);
    }
  };
  const end = (code: number, data: object = {}) => {
    if (ended) return;
    event('run-end', { code, ms: Date.now() - t0, ...data });
    ended = true;
    // what runs after this run (the walkthrough's canary) is a run of its own
    if (process.env[RUN_PARENT_ENV] === id) delete process.env[RUN_PARENT_ENV];
    process.off('exit', onExit);
    fs.closeSync(fd);
  };
  const onExit = (code: number) => end(typeof process.exitCode === 'number' ? process.exitCode : code);
  process.on('exit', onExit);
  event('run-start', {
    id,
    command: o.command,
    argv: o.argv ?? process.argv.slice(2),
    version: VERSION,
    commit: projectCommit(),
    cwd: process.cwd(),
    pid: process.pid,
    pidStart: processStart(process.pid),
    env: envFileOf(o.envFile),
    inventory: o.inventory
      ? {
          file: o.inventory.file,
          vms: o.inventory.vms.map((v) => ({
            name: v.name,
            host: v.host,
            user: v.user,
            port: v.port,
            distro: v.distro,
          })),
        }
      : undefined,
  });
  process.env[RUN_PARENT_ENV] = id;
  return { id, file, event, end };
}

/** A ledger that writes nothing (a verifier run as part of another run). */
export const NO_LEDGER: RunLedger = { id: '', file: '', event: () => undefined, end: () => undefined };

/** The first line and the last few KB of a file (enough for run-start and run-end). */
function headAndTail(file: string): { head: string; tail: string } {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 65536));
    fs.readSync(fd, head, 0, head.length, 0);
    const n = Math.min(size, 8192);
    const tail = Buffer.alloc(n);
    fs.readSync(fd, tail, 0, n, size - n);
    return { head: head.toString().split('\n')[0], tail: tail.toString() };
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs in `dir` without run-end whose process is gone get a run-end saying they ended abnormally. */
export function markAbandoned(dir: string): string[] {
  const marked: string[] = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.jsonl'))) {
    const file = path.join(dir, f);
    try {
      const { head, tail } = headAndTail(file);
      if (/"type":"run-end"/.test(tail)) continue;
      const start = JSON.parse(head) as { type?: string; pid?: number; pidStart?: string };
      if (start.type !== 'run-start' || typeof start.pid !== 'number') continue;
      if (processStart(start.pid) === start.pidStart) continue; // still running
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND);
      try {
        // a line cut short (cannot happen with one write per event, but a disk may fill) is closed first
        const sep = tail.endsWith('\n') || !tail ? '' : '\n';
        appendLine(fd, sep + eventLine('run-end', { code: null, abnormal: true, note: "the run's process is gone" }));
      } finally {
        fs.closeSync(fd);
      }
      marked.push(file);
    } catch {
      // not a ledger of ours, or unreadable: left alone
    }
  }
  return marked;
}

/** startRun, or (the runs directory cannot be written) a warning and no ledger: the run itself goes on. A run
 *  started by another run (a rebuild's verifier step) writes none of its own: its parent records it. */
export function openRun(o: RunStart, warn: (line: string) => void): RunLedger {
  if (process.env[RUN_PARENT_ENV]) return NO_LEDGER;
  try {
    return startRun(o);
  } catch (e) {
    warn(`run ledger: not written (${(e as Error).message})`);
    return NO_LEDGER;
  }
}

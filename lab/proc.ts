// meshbook lab: what /proc says about a process (state, parent, start time, children, name,
// network namespace). Synchronous on purpose: /proc reads are instant.
import { readFileSync, statSync } from 'node:fs';

export interface ProcRef {
  pid: number;
  /** start time (clock ticks since boot, /proc/<pid>/stat field 22): guards against pid reuse */
  start: string;
}

export function procStat(pid: number): { state: string; ppid: number; start: string } | null {
  try {
    const s = readSmall(`/proc/${pid}/stat`);
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), start: rest[19] };
  } catch {
    return null;
  }
}

/** A small file under /proc, read at once. */
export function readSmall(p: string): string {
  // synchronous on purpose: /proc reads are instant and keep the callers simple
  return readFileSync(p, 'utf8');
}

export function procRef(pid: number): ProcRef | null {
  const st = procStat(pid);
  return st ? { pid, start: st.start } : null;
}

/** Is this exact process (same pid and start time) still running (not a zombie)? */
export function alive(ref: ProcRef | undefined | null): boolean {
  if (!ref) return false;
  const st = procStat(ref.pid);
  return !!st && st.start === ref.start && st.state !== 'Z' && st.state !== 'X';
}

export function procChildren(pid: number): number[] {
  try {
    return readSmall(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function procComm(pid: number): string {
  try {
    return readSmall(`/proc/${pid}/comm`).trim();
  } catch {
    return '';
  }
}

/** Inode of a process's network namespace, or null. */
export function procNetnsInode(pid: number): number | null {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return null;
  }
}

// The canary's journal: one file per env file in the state home (canary/<env key>.json, 0600,
// written atomically after every change). It is what --resume continues from and what
// --rollback restores: the weights the canary started from, the steps, the last step that
// passed, the weights applied and confirmed last, and every step's verdict and figures. The
// cluster stays the truth: --resume refuses when hello2-vs no longer has the weights the
// journal says were applied.
import fs from 'node:fs';
import path from 'node:path';
import { envKey, stateHome, writeFileAtomic } from '../engine/files.ts';
import { processStart } from '../engine/lock.ts';
import type { Version, Weights } from '../traffic-shift/common.ts';
import type { Figures, Outcome } from './gate.ts';

export type Status = 'running' | 'held' | 'interrupted' | 'promoted' | 'rolled-back';

export interface Entry {
  /** `step 2/3`, `rollback`, `restore` */
  label: string;
  /** the step's index in `steps` (steps only) */
  index?: number;
  weights: Weights;
  outcome: Outcome | 'CONFIRM-FAILED' | 'ERROR';
  gate?: string;
  reason: string;
  figures?: Figures;
  confirmMs?: number;
  startedAt: string;
  durationMs: number;
}

export interface CanaryState {
  version: 1;
  envFile: string;
  to: Version;
  steps: number[];
  start: Weights;
  startedAt: string;
  status: Status;
  pid: number;
  pidStart: string;
  /** index of the last step that passed (-1: none) */
  passed: number;
  /** the weights last applied, and whether the data plane confirmed them */
  applied: Weights;
  confirmed: boolean;
  /** weights being applied right now (journalled before the apply: a kill in between leaves them named) */
  pending?: Weights;
  /** set when a step failed and the rollback began (a stopped rollback is not resumed) */
  rollingBack?: string;
  timeline: Entry[];
  updatedAt: string;
}

export const stateFile = (envFile: string) => path.join(stateHome(), 'canary', `${envKey(envFile)}.json`);

/** The journal, or undefined; a running canary whose process is gone reads as interrupted. */
export function readState(envFile: string): CanaryState | undefined {
  let s: CanaryState;
  try {
    s = JSON.parse(fs.readFileSync(stateFile(envFile), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `the canary journal ${stateFile(envFile)} is unreadable (${(e as Error).message}); ` +
        'move it aside to start over',
    );
  }
  if (s.status === 'running' && processStart(s.pid) !== s.pidStart) s.status = 'interrupted';
  return s;
}

export function saveState(s: CanaryState): void {
  s.updatedAt = new Date().toISOString();
  writeFileAtomic(stateFile(s.envFile), JSON.stringify(s, null, 2) + '\n');
}

export const unfinished = (s: CanaryState | undefined) =>
  !!s && (s.status === 'running' || s.status === 'held' || s.status === 'interrupted');

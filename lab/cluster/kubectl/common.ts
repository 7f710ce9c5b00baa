// meshbook lab kubectl: what every verb shares - the call, its context, the outcome, the errors.
import type { LabConfig } from '../../config.ts';
import type { LabState } from '../../state.ts';
import type { KubectlArgs } from '../kubectl-args.ts';
import type { ClusterState } from '../state.ts';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  notInLab?: string;
  timedOut?: boolean;
}

export const line = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);
export const ok = (stdout = '', stderr = ''): Outcome => ({ code: 0, stdout: line(stdout), stderr: line(stderr) });
export const fail = (stderr: string, code = 1, stdout = ''): Outcome => ({
  code,
  stdout: line(stdout),
  stderr: line(stderr),
});
export const notInLab = (why: string): Outcome => ({ code: 0, stdout: '', stderr: '', notInLab: why });

export class KubectlError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}
export class NotInLab extends Error {}

export interface Call {
  cfg: LabConfig;
  args: KubectlArgs;
  stdin?: string;
  cwd?: string;
  timeoutMs: number;
}

export interface Ctx {
  cfg: LabConfig;
  st: ClusterState;
  lab: LabState;
  a: KubectlArgs;
  call: Call;
  /** reconcile after the verb (it changed something) */
  dirty: boolean;
  deletePods: string[];
  /** ns/name of the objects this call changed */
  touched?: string[];
}

// What a run takes and gives: options, the hooks a front end (terminal, walkthrough)
// plugs in, and the result per step x host.
import type { ClusterAction, ClusterProvider, LabRules, Status, Step, VmAction } from './types.ts';
import type { SshConfig } from './ssh.ts';
import type { Journal } from './journal.ts';
import type { Sent } from '../ledger/capture.ts';

export interface HostResult {
  status: Status;
  lines: string[]; // what the step found or did, shown under the host
  error?: string; // one line: cause (and fix when known)
  tail?: string; // last lines of stderr on failure (redacted)
  planned?: string[]; // --dry-run: the mutations that would run
  ms?: number; // wall time on this host (ms)
  sent?: Sent[]; // what was sent and what came back (masked tails): for the run ledger
  facts?: Record<string, unknown>; // what a probe found out (for the run ledger)
}

export interface StepRecord {
  id: string; // runbook/step
  title: string;
  article: string;
  hosts: Record<string, HostResult>;
  ms?: number; // wall time of the step across its hosts (ms)
}

export interface RunReport {
  records: StepRecord[];
  hosts: string[];
  failed: boolean;
  stopped?: string; // the walkthrough was quit
  runbooks?: string[]; // what ran, for the "next action" in the summary
  envFile?: string;
  notices?: string[]; // what the journal had to say (moved aside, entries voided)
}

export type Decision = 'yes' | 'skip' | 'quit';

export interface Hooks {
  stepStart?(step: Step, id: string, hosts: string[]): void | Promise<void>;
  /** Walkthrough: asked before a step runs (after stepStart). */
  confirm?(step: Step, id: string, actions: Map<string, VmAction | ClusterAction>): Promise<Decision>;
  running?(id: string, hosts: string[]): void;
  /** A host's turn in the pool begins (at most --forks at once). */
  hostStart?(id: string, host: string): void;
  hostDone?(id: string, host: string, r: HostResult): void;
  stepEnd?(rec: StepRecord): void;
}

export interface RunOptions {
  ssh: SshConfig;
  dryRun?: boolean;
  yes?: boolean;
  consented?: Set<string>; // walkthrough: step ids the person allowed a destructive change for
  from?: string; // step id (with or without runbook/)
  only?: string;
  forks?: number;
  hooks?: Hooks;
  journal?: Journal;
  cluster?: ClusterProvider; // lab: carries out kubectl commands against the lab cluster
  labRules?: LabRules; // lab: what the lab does with each step (lab/stand-ins); required with a lab env
  signal?: AbortSignal; // Ctrl-C: stop sending, stop what runs on the VMs, keep the journal consistent
}

// The shapes every runbook and the engine share. Kept small on purpose: a step is
// data (ids, titles, the article section it mirrors) plus functions that return the
// exact scripts it would send, so plan, dry-run, rebuild and walkthrough all show and
// run the same commands.
import type { Script } from './sh.ts';
import type { Vm } from './inventory.ts';

export type Status = 'ok' | 'changed' | 'unchanged' | 'skipped' | 'not in lab' | 'failed' | 'would change';

export interface Facts {
  distro?: string; // a profile id from vm/profiles
  family?: 'redhat' | 'debian';
  kernel?: string;
  [k: string]: unknown;
}

export interface HostCtx {
  vm: Vm;
  env: Record<string, string>;
  facts: Facts;
  cluster: Facts; // facts the cluster steps found (e.g. a NodePort, a clusterIP)
  vms?: Vm[]; // every VM of the run (roles, peers)
  dryRun?: boolean; // --dry-run: a probe with a side effect (a token) must not run
  lab: boolean; // running against the embedded lab
  distro: string | undefined; // declared or detected distro
}

/** What a step does on one VM. Every field is optional; the runner's rules:
 *  - skip: not applicable here (reason shown), nothing runs;
 *  - probe: a read-only step: exit 0 = ok; `interpret` turns its output into lines/facts;
 *  - check: exit 0 = already in the desired state ("unchanged"), exit 10 = change needed;
 *  - apply: the mutation; verify: a probe run after apply (exit 0 = good);
 *  - notInLab: in the lab the real change cannot happen (no container engine, no
 *    package mirror, no systemd). There the check still runs (it only reads), the
 *    apply never does; `labStandIn` may give the lab's own check/apply instead (e.g.
 *    the interception rules the proxy would set). Reported "not in lab" with this
 *    reason, never "ok". Both are set by the lab's rules for the step (a LabRule,
 *    lab/stand-ins), never by the step itself;
 *  - consent: the apply is destructive: it needs --yes or a yes in the walkthrough. */
export interface VmAction {
  skip?: string;
  probe?: Script;
  interpret?: (out: RemoteResult, ctx: HostCtx) => Interpretation;
  check?: Script;
  apply?: Script;
  verify?: Script;
  notInLab?: string;
  labStandIn?: LabStandIn;
  onRunner?: OnRunner;
  consent?: string;
}

/** Set only by a lab rule (lab/stand-ins), never by a step: in the lab the step's work on
 *  this VM's row is done by commands on the runner's machine (through the run's cluster
 *  provider: `kubectl exec` into a lab cluster pod, ...), not over ssh; they replace the
 *  action's scripts. `what` says where (shown as "lab: ..."). */
export interface OnRunner {
  what: string;
  probe?: LocalCmd;
  check?: LocalCmd;
  apply?: LocalCmd[];
  verify?: LocalCmd;
}

/** The lab's own check/apply/verify for a change it cannot make; `what` is shown as
 *  "lab stand-in: ...". */
export interface LabStandIn {
  check?: Script;
  apply?: Script;
  verify?: Script;
  what: string;
}

export interface Interpretation {
  ok: boolean;
  lines: string[];
  facts?: Partial<Facts>;
}

export interface RemoteResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
  notInLab?: string; // a lab cluster provider could not do this command: why
}

/** Who runs the cluster-side commands: the real kubectl/istioctl on this machine, or
 *  (the lab) a provider that carries out the same commands against the lab cluster. */
export interface ClusterProvider {
  name: string;
  run(cmd: LocalCmd, timeoutMs: number): Promise<RemoteResult>;
}

/** A command run on the runner's machine (kubectl, istioctl, aliyun): an argument array,
 *  with stdin for manifests. Probes run under --dry-run; mutations are printed. */
export interface LocalCmd {
  kind: 'probe' | 'mutate';
  argv: string[];
  stdin?: string; // e.g. the rendered manifest for `kubectl apply -f -`
  stdinLabel?: string; // what to show instead of stdin (e.g. 'manifests/x/y.yaml (rendered)')
  changeCodes?: number[]; // for a check: exit codes that mean "change needed" (default [10])
  cwd?: string;
}

/** What a cluster-side step does, once per run (reported under the host "cluster").
 *  Same rules as VmAction: probe+interpret, or check -> apply -> verify. */
export interface ClusterAction {
  skip?: string;
  probe?: LocalCmd;
  interpret?: (out: RemoteResult, ctx: ClusterCtx) => Interpretation;
  check?: LocalCmd;
  apply?: LocalCmd[];
  verify?: LocalCmd;
  notInLab?: string;
  consent?: string;
}

export interface ClusterCtx {
  env: Record<string, string>;
  facts: Facts; // shared by every cluster step of the run (and readable by VM steps)
  lab: boolean;
  vms: Vm[];
  workDir: string; // a per-env directory for generated files (e.g. istioctl's output)
  envFile: string; // the env file of this run (absolute), e.g. for the verifier
  dryRun?: boolean;
}

export interface Step {
  id: string; // e.g. '03-env-file'; with the runbook: 'asm-vm-proxy/03-env-file'
  title: string;
  article: string; // the article section this step mirrors
  notes?: string[]; // where the article is wrong or dated, and what we do instead
  target: 'vm' | 'cluster';
  perDistro?: boolean; // the commands differ per distro (plan shows each branch)
  gathersFacts?: boolean; // always runs, even when resuming (later steps need its facts)
  when?: 'always' | 'on-failure';
  vm?: (ctx: HostCtx) => VmAction;
  cluster?: (ctx: ClusterCtx) => ClusterAction;
}

export interface InputSpec {
  name: string;
  description: string;
  required?: boolean;
  secret?: boolean;
  example?: string;
  default?: string;
  /** Returns a problem ("is not ...; set it to ...") or undefined when fine. */
  check?: (value: string, all: Record<string, string>) => string | undefined;
}

export interface Runbook {
  name: string;
  title: string;
  article: string; // the article it mirrors: title (original and English), author, publication
  summary: string;
  inputs: InputSpec[];
  steps: Step[];
}

/** What the lab does with one step, kept out of the step file (a step shows the article's
 *  step and nothing else): registered by step id under lab/stand-ins and passed into a run
 *  or a plan (RunOptions.labRules) by whoever runs runbooks against the lab. The engine
 *  applies it (action.ts `actionOf`):
 *  - notInLab: why the step's change cannot happen in the lab (static, or from the ctx:
 *    undefined = it can). Declared for the step in every env, as a step's field was: a plan
 *    lists it (JSON); only a lab run or a lab plan acts on it. Not given to a skip;
 *  - standIn: in a lab env, the lab's check/apply/verify for that change;
 *  - inLab: in a lab env, what the step does instead of (or around) its real action:
 *    `real()` builds the step's own action (e.g. to keep its skips, or to read its
 *    output the lab's way). */
export interface LabRule<A = VmAction | ClusterAction, C = HostCtx | ClusterCtx> {
  notInLab?: string | ((ctx: C) => string | undefined);
  standIn?: (ctx: C) => LabStandIn;
  inLab?: (real: () => A, ctx: C) => A;
}
export type VmLabRule = LabRule<VmAction, HostCtx>;
export type ClusterLabRule = LabRule<ClusterAction, ClusterCtx>;
/** By step id with its runbook: 'istio-vm/16-hosts'. */
export type LabRules = Record<string, VmLabRule | ClusterLabRule>;

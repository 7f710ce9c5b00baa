// One step's action on one host, run by the rules every step follows: skip; or a probe
// (read, judged on the workstation); or check -> change -> verify. VM and cluster actions
// are normalized to one shape first, and the lab's rules applied (a change the lab cannot
// make is "not in lab", or its stand-in runs).
import type {
  ClusterAction,
  ClusterCtx,
  ClusterProvider,
  HostCtx,
  LabRule,
  LabRules,
  LocalCmd,
  RemoteResult,
  Step,
  VmAction,
} from './types.ts';
import type { Script } from './sh.ts';
import type { HostResult, RunOptions } from './run-types.ts';
import type { Part } from './trip.ts';
import { showCmd } from './local.ts';
import { fingerprint } from './journal.ts';
import { redact } from './redact.ts';
import { explain } from './known-failures.ts';
import { sentOf, type Sent, type SentKind } from '../ledger/capture.ts';

const TAIL = 12;
export function tail(s: string): string {
  return redact(s.trim().split('\n').slice(-TAIL).join('\n'));
}

/** VM and cluster actions, normalized: the same rules run both. */
export type Runnable = Script | LocalCmd;
export interface NormalAction {
  skip?: string;
  probe?: Runnable;
  interpret?: (out: RemoteResult) => { ok: boolean; lines: string[]; facts?: Record<string, unknown> };
  check?: Runnable;
  changeCodes: number[];
  apply: Runnable[];
  verify?: Runnable;
  notInLab?: string;
  labStandIn?: string;
  consent?: string;
}

export function normalizeVm(a: VmAction, ctx: HostCtx): NormalAction {
  const r = a.onRunner;
  if (r && !a.skip)
    return {
      probe: r.probe,
      interpret: a.interpret && ((o) => a.interpret!(o, ctx)),
      check: r.check,
      changeCodes: r.check?.changeCodes ?? [10],
      apply: r.apply ?? [],
      verify: r.verify,
      notInLab: a.notInLab,
    };
  return {
    skip: a.skip,
    probe: a.probe,
    interpret: a.interpret && ((o) => a.interpret!(o, ctx)),
    check: a.check,
    changeCodes: [10],
    apply: a.apply ? [a.apply] : [],
    verify: a.verify,
    notInLab: a.notInLab,
    consent: a.consent,
  };
}

export function normalizeCluster(a: ClusterAction, ctx: ClusterCtx): NormalAction {
  return {
    skip: a.skip,
    probe: a.probe,
    interpret: a.interpret && ((o) => a.interpret!(o, ctx)),
    check: a.check,
    changeCodes: a.check?.changeCodes ?? [10],
    apply: a.apply ?? [],
    verify: a.verify,
    notInLab: a.notInLab,
    consent: a.consent,
  };
}

/** A step's action on one VM as this run (or plan) does it: the step's own, with the lab's
 *  rule for the step applied (types.ts LabRule). `id` is 'runbook/step-id'. */
export function vmActionOf(step: Step, id: string, ctx: HostCtx, rules?: LabRules): VmAction {
  return actionOf(() => step.vm!(ctx), ctx, rules?.[id] as LabRule<VmAction, HostCtx> | undefined, true);
}

/** The same for a cluster step (before `labCluster`, which reads its notInLab). */
export function clusterActionOf(step: Step, id: string, ctx: ClusterCtx, rules?: LabRules): ClusterAction {
  return actionOf(() => step.cluster!(ctx), ctx, rules?.[id] as LabRule<ClusterAction, ClusterCtx> | undefined, false);
}

function actionOf<A extends VmAction | ClusterAction, C extends HostCtx | ClusterCtx>(
  real: () => A,
  ctx: C,
  rule: LabRule<A, C> | undefined,
  vm: boolean,
): A {
  if (!rule) return real();
  let a = ctx.lab && rule.inLab ? rule.inLab(real, ctx) : real();
  if (a.skip) return a;
  const why = typeof rule.notInLab === 'function' ? rule.notInLab(ctx) : rule.notInLab;
  if (why && !a.notInLab) a = { ...a, notInLab: why };
  if (vm && ctx.lab && rule.standIn && a.notInLab) a = { ...a, labStandIn: rule.standIn(ctx) };
  return a;
}

/** A lab env runs only with the lab's rules: without them a step would try its real change
 *  there (a package install, docker) instead of being "not in lab". */
export function needLabRules(lab: boolean, rules: LabRules | undefined, who: string): void {
  if (lab && !rules)
    throw new Error(
      `${who}: the env is a lab's (LAB=1) but no lab rules were ` +
        `given: pass labRules (LAB_RULES from lab/stand-ins/index.ts)`,
    );
}

/** In the lab a notInLab change never runs; a lab stand-in may replace check/apply. */
export function withLabRules(n: NormalAction, a: VmAction | ClusterAction, lab: boolean): NormalAction {
  if (!lab || !n.notInLab) return n;
  const s = 'labStandIn' in a ? a.labStandIn : undefined;
  return {
    ...n,
    check: s?.check ?? n.check,
    changeCodes: s?.check ? [10] : n.changeCodes,
    apply: s?.apply ? [s.apply] : [],
    verify: s?.verify,
    consent: undefined,
    labStandIn: s?.what,
  };
}

export const display = (r: Runnable) => ('display' in r ? r.display : showCmd(r));
// what a fingerprint is taken over: the shown text (secrets masked), never the secret itself
export const textOf = (r?: Runnable) => (r ? ('text' in r ? r.display : JSON.stringify([r.argv, r.stdin ?? ''])) : '');

export function fingerprintAction(n: NormalAction): string {
  return fingerprint(n.skip, textOf(n.probe), textOf(n.check), ...n.apply.map(textOf), textOf(n.verify));
}

/** One action's run on one host: how to run a script there, and what the results are judged by. */
interface ActionRun {
  id: string;
  n: NormalAction;
  where: string;
  run: (r: Runnable) => Promise<RemoteResult>;
  opts: RunOptions;
  /** the not-in-lab lines said with every result (empty outside the lab) */
  lab: string[];
  timeoutMs: number;
}

/** A script's output as lines (secrets masked). */
const split = (s: string) => (s.trim() ? s.trim().split('\n').map(redact) : []);

/** A script that says the lab cannot run it: the host's result is "not in lab". */
const notHere = (r: RemoteResult): HostResult => ({ status: 'not in lab', lines: [`not in lab: ${r.notInLab}`] });

/** A failed probe / check / change / verify as a result: the cause (timeout, lost connection,
 *  exit code), a known failure's fix when one matches, and the output's tail. */
function failure(what: string, r: RemoteResult, where: string, timeoutMs: number): HostResult {
  const known = explain(`${r.stderr}\n${r.stdout}`);
  // after a check answered, a 255 means the connection went away mid-command
  const lost =
    what === 'change' ||
    what === 'verify' ||
    /Timeout, server .* not responding|closed by remote host|Connection reset|Broken pipe/i.test(r.stderr);
  const cause = r.timedOut
    ? `${what} timed out after ${+(timeoutMs / 1000).toFixed(1)} s (host stopped answering?)`
    : r.code === 255 && where !== 'cluster'
      ? lost
        ? `${what}: ${where} stopped answering mid-command (connection lost)`
        : `${what}: ssh could not reach ${where}`
      : `${what} exited ${r.code}`;
  return {
    status: 'failed',
    lines: [],
    error: redact(known ? `${cause}: ${known.cause}; fix: ${known.fix}` : cause),
    tail: tail(r.stderr || r.stdout),
  };
}

/** Run a probe (read only) and judge its output on the workstation; its facts go to `facts`. */
async function runProbe(x: ActionRun, probe: Runnable, facts?: Record<string, unknown>): Promise<HostResult> {
  const { n, where, lab } = x;
  const r = await x.run(probe);
  if (r.notInLab) return notHere(r);
  if ((r.code === 255 && where !== 'cluster') || r.timedOut) return failure('probe', r, where, x.timeoutMs);
  const it = n.interpret ? n.interpret(r) : { ok: r.code === 0, lines: split(r.stdout) };
  if (it.facts && facts) Object.assign(facts, it.facts);
  const found = it.facts ? { facts: it.facts } : {};
  if (!it.ok) {
    const known = explain(`${r.stderr}\n${r.stdout}`);
    return {
      status: 'failed',
      lines: it.lines.map(redact),
      error: redact(
        it.lines.find((l) => /^(missing|error|unknown)/i.test(l)) ??
          (known ? `${known.cause}; fix: ${known.fix}` : `probe exited ${r.code}`),
      ),
      tail: tail(r.stderr),
      ...found,
    };
  }
  return { status: lab.length ? 'not in lab' : 'ok', lines: [...it.lines.map(redact), ...lab], ...found };
}

/** Run the change and then the verify (after a check said a change is needed, or with no check). */
async function applyChange(x: ActionRun, detail: string[]): Promise<HostResult> {
  const { n, where, lab, timeoutMs } = x;
  const out: string[] = [];
  for (const a of n.apply) {
    const r = await x.run(a);
    if (r.notInLab) return { ...notHere(r), lines: [...detail, ...out, `not in lab: ${r.notInLab}`] };
    if (r.code !== 0) return { ...failure('change', r, where, timeoutMs), lines: [...detail, ...out] };
    out.push(...split(r.stdout));
  }
  if (n.verify) {
    const v = await x.run(n.verify);
    if (v.notInLab) return { ...notHere(v), lines: [...detail, ...out, `not in lab: ${v.notInLab}`] };
    if (v.code !== 0) return { ...failure('verify', v, where, timeoutMs), lines: [...detail, ...out] };
  }
  return { status: lab.length ? 'not in lab' : 'changed', lines: [...detail, ...out, ...lab] };
}

/** check -> change -> verify: a check that passes is "unchanged"; otherwise the change runs
 *  (unless none is defined, consent is missing, or it is a dry run). */
async function checkAndChange(x: ActionRun): Promise<HostResult> {
  const { n, id, where, lab, opts, timeoutMs } = x;
  let detail: string[] = [];
  if (n.check) {
    const r = await x.run(n.check);
    if (r.notInLab) return notHere(r);
    detail = split(r.stdout);
    if (r.code === 0) return { status: lab.length ? 'not in lab' : 'unchanged', lines: [...detail, ...lab] };
    if (!n.changeCodes.includes(r.code)) return failure('check', r, where, timeoutMs);
  }
  if (!n.apply.length) {
    if (lab.length) return { status: 'not in lab', lines: [...detail, ...lab] };
    return n.check
      ? { status: 'failed', lines: detail, error: 'not in the desired state and no change is defined' }
      : { status: 'skipped', lines: ['nothing to do'] };
  }
  if (n.consent && !opts.yes && !opts.consented?.has(id)) {
    return {
      status: 'failed',
      lines: detail,
      error: `needs consent: ${n.consent}; rerun with --yes (or answer yes in the walkthrough) to allow it`,
    };
  }
  if (opts.dryRun)
    return {
      status: 'would change',
      lines: detail,
      planned: [...n.apply.map(display), ...(n.verify ? [display(n.verify)] : [])],
    };
  return applyChange(x, detail);
}

/** Run one step's action on one host (a VM, or "cluster"). */
export async function runAction(
  id: string,
  n: NormalAction,
  where: string,
  inLab: boolean,
  direct: (r: Runnable) => Promise<RemoteResult>,
  opts: RunOptions,
  facts?: Record<string, unknown>,
  chain?: (parts: Part[]) => Promise<RemoteResult[]>,
): Promise<HostResult> {
  const timeoutMs = opts.ssh.commandTimeoutMs;
  // check, change and verify in one round trip when nothing has to be asked or shown in
  // between: the same scripts, the same decisions (taken on the VM), one ssh instead of three
  let pre: Map<Runnable, RemoteResult> | undefined;
  const sent: Sent[] = [];
  const run = async (r: Runnable) => {
    const t0 = performance.now();
    const res = pre?.get(r) ?? (await direct(r));
    sent.push(sentOf(kindOf(n, r), display(r), res, t0));
    return res;
  };
  if (chain && canChain(n, id, opts)) {
    const parts = chainParts(n)!;
    const results = await chain(parts);
    pre = new Map(results.map((r, i) => [parts[i].script as Runnable, r]));
  }
  if (n.skip) return { status: 'skipped', lines: [n.skip] };
  const lab =
    n.notInLab && inLab
      ? [`not in lab: ${n.notInLab}`, ...(n.labStandIn ? [`lab stand-in: ${n.labStandIn}`] : [])]
      : [];
  const x: ActionRun = { id, n, where, run, opts, lab, timeoutMs };
  const res = n.probe ? await runProbe(x, n.probe, facts) : await checkAndChange(x);
  return sent.length ? { ...res, sent } : res;
}

/** Which part of an action a script is. */
const kindOf = (n: NormalAction, r: Runnable): SentKind =>
  r === n.probe ? 'probe' : r === n.check ? 'check' : r === n.verify ? 'verify' : 'change';

/** Can this action go to the VM as one chain (check; on exit 10 the change; the verify)? */
export function canChain(n: NormalAction, id: string, opts: RunOptions): boolean {
  const consentOk = !n.consent || opts.yes || opts.consented?.has(id);
  return (
    !n.skip &&
    !n.probe &&
    !!n.check &&
    n.apply.length === 1 &&
    !opts.dryRun &&
    !!consentOk &&
    !opts.hooks?.confirm &&
    n.changeCodes.length === 1 &&
    n.changeCodes[0] === 10 &&
    [n.check, ...n.apply, ...(n.verify ? [n.verify] : [])].every((r) => 'text' in r)
  );
}

/** The parts of a canChain action, or of a probe-only one. */
export function chainParts(n: NormalAction): Part[] | undefined {
  if (n.probe && 'text' in n.probe && !n.check && !n.apply.length && !n.verify)
    return [{ kind: 'probe', script: n.probe }];
  if (!n.check || !('text' in n.check) || n.apply.length !== 1 || !('text' in n.apply[0])) return undefined;
  return [
    { kind: 'check', script: n.check },
    { kind: 'change', script: n.apply[0] as Script },
    ...(n.verify && 'text' in n.verify ? [{ kind: 'verify' as const, script: n.verify }] : []),
  ];
}

/** Nothing to send: the step is decided on the workstation (skipped, or not in the lab). */
export const decidedLocally = (n: NormalAction) =>
  !!n.skip || (!!n.notInLab && !n.probe && !n.check && !n.apply.length && !n.verify && !n.consent);

export const CLUSTER = 'cluster';

/** The lab has no Kubernetes API (yet): a cluster step that changes something is reported
 *  "not in lab", its probes and checks are not run either (kubectl has nothing to talk to). */
export const NO_LAB_CLUSTER =
  'the lab has no Kubernetes cluster: kubectl/istioctl are not run here; VM steps use the lab env values instead';
export function labCluster(a: ClusterAction, lab: boolean, provider?: ClusterProvider): ClusterAction {
  if (!lab || a.skip || provider) return a;
  return { notInLab: a.notInLab ?? NO_LAB_CLUSTER };
}

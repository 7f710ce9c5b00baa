// Running runbooks step by step over the VMs: every step on every live VM at once (up
// to --forks), check before change, --dry-run runs probes and prints mutations, a
// journal to resume from, and a result per step x host.
import type { ClusterAction, ClusterCtx, ClusterProvider, Facts, HostCtx, LocalCmd, RemoteResult, Runbook, Status, Step, VmAction } from './types.ts';
import type { Vm } from './inventory.ts';
import { runLocal, showCmd } from './local.ts';
import { workDirFor } from './journal.ts';
import type { Loaded } from './inputs.ts';
import type { Script } from './sh.ts';
import crypto from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { runScript, closeMasters, stopRemote, type SshConfig } from './ssh.ts';
import { Journal, fingerprint } from './journal.ts';
import { redact } from './redact.ts';
import { explain } from './known-failures.ts';
import { CLUSTER_ID_CMD, clusterIdentity, hostKeyIdentity, readKnownHosts } from './identity.ts';

export interface HostResult {
  status: Status;
  lines: string[];          // what the step found or did, shown under the host
  error?: string;           // one line: cause (and fix when known)
  tail?: string;            // last lines of stderr on failure (redacted)
  planned?: string[];       // --dry-run: the mutations that would run
  ms?: number;              // wall time on this host (ms)
}

export interface StepRecord {
  id: string;               // runbook/step
  title: string;
  article: string;
  hosts: Record<string, HostResult>;
  ms?: number;              // wall time of the step across its hosts (ms)
}

export interface RunReport {
  records: StepRecord[];
  hosts: string[];
  failed: boolean;
  stopped?: string;         // the walkthrough was quit
  runbooks?: string[];      // what ran, for the "next action" in the summary
  envFile?: string;
  notices?: string[];       // what the journal had to say (moved aside, entries voided)
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
  consented?: Set<string>;  // walkthrough: step ids the person allowed a destructive change for
  from?: string;            // step id (with or without runbook/)
  only?: string;
  forks?: number;
  hooks?: Hooks;
  journal?: Journal;
  cluster?: ClusterProvider;  // lab: carries out kubectl commands against the lab cluster
  signal?: AbortSignal;       // Ctrl-C: stop sending, stop what runs on the VMs, keep the journal consistent
}

const TAIL = 12;
function tail(s: string): string {
  return redact(s.trim().split('\n').slice(-TAIL).join('\n'));
}

export function matches(step: Step, rb: Runbook, sel: string): boolean {
  return sel === step.id || sel === `${rb.name}/${step.id}` || step.id.startsWith(`${sel}-`) || `${rb.name}/${step.id}`.startsWith(`${sel}-`);
}

async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const workers = Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) await fn(t);
  });
  await Promise.all(workers);
}

/** VM and cluster actions, normalized: the same rules run both. */
type Runnable = Script | LocalCmd;
interface Norm {
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

function fromVm(a: VmAction, ctx: HostCtx): Norm {
  return {
    skip: a.skip, probe: a.probe, interpret: a.interpret && ((o) => a.interpret!(o, ctx)), check: a.check, changeCodes: [10],
    apply: a.apply ? [a.apply] : [], verify: a.verify, notInLab: a.notInLab, consent: a.consent,
  };
}

function fromCluster(a: ClusterAction, ctx: ClusterCtx): Norm {
  return {
    skip: a.skip, probe: a.probe, interpret: a.interpret && ((o) => a.interpret!(o, ctx)), check: a.check, changeCodes: a.check?.changeCodes ?? [10],
    apply: a.apply ?? [], verify: a.verify, notInLab: a.notInLab, consent: a.consent,
  };
}

/** In the lab a notInLab change never runs; a lab stand-in may replace check/apply. */
function forLab(n: Norm, a: VmAction | ClusterAction, lab: boolean): Norm {
  if (!lab || !n.notInLab) return n;
  const s = 'labStandIn' in a ? a.labStandIn : undefined;
  return { ...n, check: s?.check ?? n.check, changeCodes: s?.check ? [10] : n.changeCodes, apply: s?.apply ? [s.apply] : [], verify: s?.verify, consent: undefined, labStandIn: s?.what };
}

const display = (r: Runnable) => ('display' in r ? r.display : showCmd(r));
// what a fingerprint is taken over: the shown text (secrets masked), never the secret itself
const textOf = (r?: Runnable) => (r ? ('text' in r ? r.display : JSON.stringify([r.argv, r.stdin ?? ''])) : '');

function fingerprintOf(n: Norm): string {
  return fingerprint(n.skip, textOf(n.probe), textOf(n.check), ...n.apply.map(textOf), textOf(n.verify));
}

/** Run one step's action on one host (a VM, or "cluster"). */
async function execute(id: string, n: Norm, where: string, inLab: boolean, direct: (r: Runnable) => Promise<RemoteResult>, opts: RunOptions, facts?: Record<string, unknown>,
  chain?: (parts: Part[]) => Promise<RemoteResult[]>): Promise<HostResult> {
  const timeoutMs = opts.ssh.commandTimeoutMs;
  // check, change and verify in one round trip when nothing has to be asked or shown in
  // between: the same scripts, the same decisions (taken on the VM), one ssh instead of three
  let pre: Map<Runnable, RemoteResult> | undefined;
  const run = async (r: Runnable) => pre?.get(r) ?? direct(r);
  if (chain && chainable(n, id, opts)) {
    const parts = partsOf(n)!;
    const results = await chain(parts);
    pre = new Map(results.map((r, i) => [parts[i].script as Runnable, r]));
  }
  const fail = (what: string, r: RemoteResult): HostResult => {
    const known = explain(`${r.stderr}\n${r.stdout}`);
    // after a check answered, a 255 means the connection went away mid-command
    const lost = what === 'change' || what === 'verify' || /Timeout, server .* not responding|closed by remote host|Connection reset|Broken pipe/i.test(r.stderr);
    const cause = r.timedOut ? `${what} timed out after ${+(timeoutMs / 1000).toFixed(1)} s (host stopped answering?)`
      : r.code === 255 && where !== 'cluster' ? (lost ? `${what}: ${where} stopped answering mid-command (connection lost)` : `${what}: ssh could not reach ${where}`)
      : `${what} exited ${r.code}`;
    return {
      status: 'failed', lines: [],
      error: redact(known ? `${cause}: ${known.cause}; fix: ${known.fix}` : cause),
      tail: tail(r.stderr || r.stdout),
    };
  };
  if (n.skip) return { status: 'skipped', lines: [n.skip] };
  const lab = n.notInLab && inLab ? [`not in lab: ${n.notInLab}`, ...(n.labStandIn ? [`lab stand-in: ${n.labStandIn}`] : [])] : [];
  const split = (s: string) => (s.trim() ? s.trim().split('\n').map(redact) : []);

  const notHere = (r: RemoteResult): HostResult => ({ status: 'not in lab', lines: [`not in lab: ${r.notInLab}`] });
  if (n.probe) {
    const r = await run(n.probe);
    if (r.notInLab) return notHere(r);
    if ((r.code === 255 && where !== 'cluster') || r.timedOut) return fail('probe', r);
    const it = n.interpret ? n.interpret(r) : { ok: r.code === 0, lines: split(r.stdout) };
    if (it.facts && facts) Object.assign(facts, it.facts);
    if (!it.ok) {
      const known = explain(`${r.stderr}\n${r.stdout}`);
      return { status: 'failed', lines: it.lines.map(redact), error: redact(it.lines.find((l) => /^(missing|error|unknown)/i.test(l)) ?? (known ? `${known.cause}; fix: ${known.fix}` : `probe exited ${r.code}`)), tail: tail(r.stderr) };
    }
    return { status: lab.length ? 'not in lab' : 'ok', lines: [...it.lines.map(redact), ...lab] };
  }

  let detail: string[] = [];
  if (n.check) {
    const r = await run(n.check);
    if (r.notInLab) return notHere(r);
    detail = split(r.stdout);
    if (r.code === 0) return { status: lab.length ? 'not in lab' : 'unchanged', lines: [...detail, ...lab] };
    if (!n.changeCodes.includes(r.code)) return fail('check', r);
  }
  if (!n.apply.length) {
    if (lab.length) return { status: 'not in lab', lines: [...detail, ...lab] };
    return n.check ? { status: 'failed', lines: detail, error: 'not in the desired state and no change is defined' } : { status: 'skipped', lines: ['nothing to do'] };
  }
  if (n.consent && !opts.yes && !opts.consented?.has(id)) {
    return { status: 'failed', lines: detail, error: `needs consent: ${n.consent}; rerun with --yes (or answer yes in the walkthrough) to allow it` };
  }
  if (opts.dryRun) return { status: 'would change', lines: detail, planned: [...n.apply.map(display), ...(n.verify ? [display(n.verify)] : [])] };
  const out: string[] = [];
  for (const a of n.apply) {
    const r = await run(a);
    if (r.notInLab) return { ...notHere(r), lines: [...detail, ...out, `not in lab: ${r.notInLab}`] };
    if (r.code !== 0) return { ...fail('change', r), lines: [...detail, ...out] };
    out.push(...split(r.stdout));
  }
  if (n.verify) {
    const v = await run(n.verify);
    if (v.notInLab) return { ...notHere(v), lines: [...detail, ...out, `not in lab: ${v.notInLab}`] };
    if (v.code !== 0) return { ...fail('verify', v), lines: [...detail, ...out] };
  }
  return { status: lab.length ? 'not in lab' : 'changed', lines: [...detail, ...out, ...lab] };
}

/** One part of a round trip: a step's check, change or verify, or a probe. */
export interface Part { kind: 'check' | 'change' | 'verify' | 'probe'; script: Script }

/** Can this action go to the VM as one chain (check; on exit 10 the change; the verify)? */
function chainable(n: Norm, id: string, opts: RunOptions): boolean {
  const consentOk = !n.consent || opts.yes || opts.consented?.has(id);
  return !n.skip && !n.probe && !!n.check && n.apply.length === 1 && !opts.dryRun && !!consentOk && !opts.hooks?.confirm
    && n.changeCodes.length === 1 && n.changeCodes[0] === 10 && [n.check, ...n.apply, ...(n.verify ? [n.verify] : [])].every((r) => 'text' in r);
}

/** The parts of a chainable action, or of a probe-only one. */
function partsOf(n: Norm): Part[] | undefined {
  if (n.probe && 'text' in n.probe && !n.check && !n.apply.length && !n.verify) return [{ kind: 'probe', script: n.probe }];
  if (!n.check || !('text' in n.check) || n.apply.length !== 1 || !('text' in n.apply[0])) return undefined;
  return [{ kind: 'check', script: n.check }, { kind: 'change', script: n.apply[0] as Script }, ...(n.verify && 'text' in n.verify ? [{ kind: 'verify' as const, script: n.verify }] : [])];
}

/** Nothing to send: the step is decided on the workstation (skipped, or not in the lab). */
const localOnly = (n: Norm) => !!n.skip || (!!n.notInLab && !n.probe && !n.check && !n.apply.length && !n.verify && !n.consent);

/** One or more steps in one round trip. Per step: the check; on exit 10 the change and
 *  then the verify; on 0 the next step; anything else (or a failed change or verify) ends
 *  the trip. A probe is judged on the workstation, so it only ever comes last. Each part
 *  runs in its own subshell under `set -e` (as when sent alone), a marker with its exit
 *  code after each on stdout and stderr. The whole text is one compound command, read
 *  before any of it runs, with stdin from /dev/null: no part can swallow the ones after. */
export function chainScript(steps: Part[][], nonce: string): Script {
  const mark = (k: string) => `rc=$?; printf '\\n__MESHBOOK_${nonce} ${k} %d\\n' "$rc"; printf '\\n__MESHBOOK_${nonce} ${k} %d\\n' "$rc" >&2`;
  const body = (f: 'text' | 'display') => {
    const run = (p: Part) => ['( set -e', p.script[f], ')', mark(p.kind)];
    const out = ['{', 'set +e'];
    for (const [first, ...rest] of steps) {
      out.push(...run(first));
      if (first.kind === 'probe') break;
      out.push('if [ "$rc" = 10 ]; then');
      for (const p of rest) out.push(...run(p), '[ "$rc" = 0 ] || exit 0');
      out.push('elif [ "$rc" != 0 ]; then exit 0; fi');
    }
    out.push('exit 0', '} </dev/null');
    return out.join('\n');
  };
  return { kind: 'mutate', text: body('text'), display: body('display') };
}

/** The trip's output, per step the results of the parts that ran; the part that was cut
 *  off (lost connection, time limit, Ctrl-C) gets the whole command's exit code, and the
 *  steps after it get nothing (they did not run). */
export function splitChain(r: RemoteResult, nonce: string, steps: Part[][]): RemoteResult[][] {
  const re = new RegExp(`\\n__MESHBOOK_${nonce} \\w+ (\\d+)\\n`);
  let out = r.stdout, err = r.stderr;
  const all: RemoteResult[][] = [];
  outer: for (const parts of steps) {
    const mine: RemoteResult[] = [];
    all.push(mine);
    for (let i = 0; i < parts.length; i++) {
      const mo = re.exec(out), me = re.exec(err);
      if (!mo) {
        const code = r.code === 0 ? 255 : r.code;
        mine.push({ ...r, code, stdout: out, stderr: r.code === 0 ? `${err}\nthe remote script ended before this part finished` : err });
        break outer;
      }
      const code = Number(mo[1]);
      mine.push({ code, stdout: out.slice(0, mo.index), stderr: me ? err.slice(0, me.index) : err });
      out = out.slice(mo.index + mo[0].length);
      if (me) err = err.slice(me.index + me[0].length);
      if (parts[i].kind === 'probe') break outer;
      if (i === 0 && code === 0) break;
      if ((i === 0 && code !== 10) || (i > 0 && code !== 0)) break outer;
    }
  }
  while (all.length < steps.length) all.push([]);
  return all;
}

/** How many of the trip's steps are decided by the output so far: every part that ran
 *  has its marker on stdout and on stderr (the two pipes arrive independently). A step
 *  that ends the trip decides the ones after it too (they will not run). */
export function decidedSteps(stdout: string, stderr: string, nonce: string, steps: Part[][]): number {
  const re = new RegExp(`\\n__MESHBOOK_${nonce} \\w+ (\\d+)\\n`, 'g');
  const codes = [...stdout.matchAll(re)].map((m) => Number(m[1]));
  const have = Math.min(codes.length, [...stderr.matchAll(re)].length);
  let k = 0;
  for (const [i, parts] of steps.entries()) {
    for (let j = 0; j < parts.length; j++) {
      if (k >= have) return i;
      const code = codes[k++];
      if (parts[j].kind === 'probe') return steps.length;
      if (j === 0 && code === 0) break;
      if ((j === 0 && code !== 10) || (j > 0 && code !== 0)) return steps.length;
    }
  }
  return steps.length;
}

export const CLUSTER = 'cluster';

/** The lab has no Kubernetes API (yet): a cluster step that changes something is reported
 *  "not in lab", its probes and checks are not run either (kubectl has nothing to talk to). */
export const NO_LAB_CLUSTER = 'the lab has no Kubernetes cluster: kubectl/istioctl are not run here; VM steps use the lab env values instead';
export function labCluster(a: ClusterAction, lab: boolean, provider?: ClusterProvider): ClusterAction {
  if (!lab || a.skip || provider) return a;
  return { notInLab: a.notInLab ?? NO_LAB_CLUSTER };
}

export async function runRunbooks(runbooks: Runbook[], loaded: Loaded, opts: RunOptions): Promise<RunReport> {
  const hosts = loaded.inventory.vms;
  const clusterFacts: Facts = {};
  const cctx: ClusterCtx = { env: loaded.env, facts: clusterFacts, lab: loaded.lab, vms: hosts, workDir: workDirFor(loaded.envFile), envFile: loaded.envFile, dryRun: opts.dryRun };
  const ctxs = new Map<string, HostCtx>(hosts.map((vm) => [vm.name, {
    vm, env: loaded.env, facts: {}, cluster: clusterFacts, vms: hosts, lab: loaded.lab, distro: vm.distro, dryRun: opts.dryRun,
  }]));
  const hasCluster = runbooks.some((rb) => rb.steps.some((s) => s.target === 'cluster'));
  const report: RunReport = { records: [], hosts: [...(hasCluster ? [CLUSTER] : []), ...hosts.map((h) => h.name)], failed: false, runbooks: runbooks.map((rb) => rb.name), envFile: loaded.envFile };
  const failedHosts = new Set<string>();
  const journal = opts.journal;
  const names = runbooks.map((rb) => rb.name);
  // the journal advises: on a resumed run every step still runs its check, and a step the
  // journal says was done is labelled so only when its check confirms it now
  const resumed = new Set(journal && !opts.from && !opts.only && !opts.dryRun ? journal.interrupted(names) : []);
  let started = !opts.from;
  if (journal && !opts.dryRun) {
    await identifyHosts(journal, names, loaded, hasCluster, opts);
    journal.start(names);
  }
  const runId = crypto.randomBytes(6).toString('hex');
  const busy = new Set<Vm>();
  // a command past its time limit is stopped on the VM too (its session), not left running
  const stopIfTimedOut = async (vm: Vm, r: RemoteResult) => { if (r.timedOut) await stopRemote(vm, opts.ssh, runId); return r; };
  const runVm = (vm: Vm) => async (r: Runnable) => {
    if (!('text' in r)) return runLocal(r, opts.ssh.commandTimeoutMs);
    busy.add(vm);
    try { return stopIfTimedOut(vm, await runScript(vm, r, opts.ssh, { id: runId, signal: opts.signal })); } finally { busy.delete(vm); }
  };
  /** Send steps in one round trip; per step a promise, settled as soon as that step's
   *  markers have arrived (not at the end of the trip). */
  const trip = (vm: Vm, steps: Part[][]): { steps: Array<Promise<RemoteResult[]>>; done: Promise<void> } => {
    const nonce = crypto.randomBytes(8).toString('hex');
    const settlers: Array<(r: RemoteResult[]) => void> = [];
    const promises = steps.map(() => new Promise<RemoteResult[]>((res) => settlers.push(res)));
    let settled = 0;
    const settle = (r: RemoteResult, final: boolean) => {
      const n = final ? steps.length : decidedSteps(r.stdout, r.stderr, nonce, steps);
      if (n <= settled) return;
      const split = splitChain(r, nonce, steps);
      for (; settled < n; settled++) settlers[settled](split[settled] ?? []);
    };
    busy.add(vm);
    const done = runScript(vm, chainScript(steps, nonce), opts.ssh, {
      id: runId, signal: opts.signal, marker: `\n__MESHBOOK_${nonce} `,
      onOutput: (stdout, stderr) => settle({ code: 0, stdout, stderr }, false),
    })
      .then((r) => stopIfTimedOut(vm, r))
      .catch((e: Error) => ({ code: 255, stdout: '', stderr: e.message }))
      .then((r) => { busy.delete(vm); settle(r, true); });
    return { steps: promises, done };
  };
  // Consecutive VM steps go to a VM in one round trip when nothing runs in between (no
  // cluster step that does something, no fact to gather, no question to ask): while step
  // S runs there, the steps after it that are already decided go along in the same
  // script, and their results wait for their turn (same output, same order, same journal;
  // a failure ends the trip, so nothing after it runs, as when sent one by one). The
  // host keeps its --forks slot until its trip ends; hosts do not wait for each other
  // between the carried steps (as Ansible's free strategy), which is why a step that could
  // hand facts from one host to another (a probe anywhere) ends every trip.
  /** Results of steps that went along in an earlier trip, by step id and host. */
  const carried = new Map<string, { fp: string; results: Promise<RemoteResult[]> }>();
  const takeCarried = async (id: string, h: string, fp: string): Promise<RemoteResult[]> => {
    const c = carried.get(`${id}\0${h}`);
    carried.delete(`${id}\0${h}`);
    return c && c.fp === fp ? c.results : [];
  };
  const openTrips = new Map<string, Promise<void>>();
  const carryOn = !opts.dryRun && !opts.hooks?.confirm && !opts.only;
  const clusterNoop = new Map<string, boolean>();
  const probes = new Map<string, boolean>();
  /** A VM step's action on one host, raw and normalized. */
  const vmAction = (t: Step, ctx: HostCtx) => {
    ctx.distro = ctx.vm.distro ?? (ctx.facts.distro as string | undefined);
    const raw = t.vm!(ctx);
    return { n: forLab(fromVm(raw, ctx), raw, loaded.lab), raw };
  };
  /** Does step t run a probe on some live host (its interpretation may pass facts on)? */
  const probesSomewhere = (t: Step, tid: string) => {
    if (!probes.has(tid)) probes.set(tid, hosts.some((x) => !failedHosts.has(x.name) && !!vmAction(t, ctxs.get(x.name)!).n.probe));
    return probes.get(tid)!;
  };
  const ahead = (rb: Runbook, from: number, h: string): Array<{ id: string; fp: string; parts: Part[] }> => {
    const out: Array<{ id: string; fp: string; parts: Part[] }> = [];
    const ctx = ctxs.get(h)!;
    let selected = started;   // --from: a step before the starting point never goes along
    for (let j = from + 1; j < rb.steps.length; j++) {
      const t = rb.steps[j];
      const tid = `${rb.name}/${t.id}`;
      if (!selected && matches(t, rb, opts.from!)) selected = true;
      if (!selected || t.when === 'on-failure' || t.gathersFacts) break;
      if (t.target === 'cluster') {
        if (!clusterNoop.has(tid)) {
          const a = labCluster(t.cluster!(cctx), loaded.lab, opts.cluster);
          clusterNoop.set(tid, !failedHosts.has(CLUSTER) && localOnly(forLab(fromCluster(a, cctx), a, loaded.lab)));
        }
        if (clusterNoop.get(tid)) continue;
        break;
      }
      const tn = vmAction(t, ctx).n;
      const fp = fingerprintOf(tn);
      if (!localOnly(tn)) {
        const parts = chainable(tn, tid, opts) || (tn.probe && !tn.check) ? partsOf(tn) : undefined;
        if (!parts) break;
        out.push({ id: tid, fp, parts });
        if (parts[0].kind === 'probe') break;
      }
      if (probesSomewhere(t, tid)) break;
    }
    return out;
  };
  const chainVm = (vm: Vm, id: string, rb: Runbook, index: number, fp: string) => async (parts: Part[]) => {
    const done = await takeCarried(id, vm.name, fp);
    if (done.length) return done;
    let more: ReturnType<typeof ahead> = [];
    // a step that cannot even be built yet (it throws) is left to its own turn
    try { more = carryOn ? ahead(rb, index, vm.name) : []; } catch { more = []; }
    const t = trip(vm, [parts, ...more.map((m) => m.parts)]);
    const [mine, ...later] = t.steps;
    more.forEach((m, i) => carried.set(`${m.id}\0${vm.name}`, { fp: m.fp, results: later[i] }));
    if (more.length) openTrips.set(vm.name, t.done);
    return mine;
  };
  /** A step on one VM: its probe may have gone along in an earlier trip. */
  const onVm = async (id: string, h: string, n: Norm, fp: string, rb: Runbook, index: number) => {
    const { vm, facts } = ctxs.get(h)!;
    const early = n.probe ? await takeCarried(id, h, fp) : [];
    const direct = early.length === 1 ? async (r: Runnable) => (r === n.probe ? early[0] : runVm(vm)(r)) : runVm(vm);
    return execute(id, n, `${vm.user}@${vm.host}:${vm.port}`, loaded.lab, direct, opts, facts, chainVm(vm, id, rb, index, fp));
  };
  const onAbort = () => { for (const vm of [...busy]) void stopRemote(vm, opts.ssh, runId); };
  // one abort listener per running command (up to --forks of them) besides this one
  if (opts.signal) setMaxListeners(0, opts.signal);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const runHere = (r: Runnable) => ('text' in r ? Promise.reject(new Error('a VM script in a cluster step'))
    : opts.cluster ? opts.cluster.run(r, opts.ssh.commandTimeoutMs) : runLocal(r, opts.ssh.commandTimeoutMs));

  outer: for (const rb of runbooks) {
    for (const [index, step] of rb.steps.entries()) {
      const id = `${rb.name}/${step.id}`;
      if (!started && matches(step, rb, opts.from!)) started = true;
      const selected = opts.only ? matches(step, rb, opts.only) : started;
      if (!selected && !step.gathersFacts) continue;
      const rec: StepRecord = { id, title: step.title, article: step.article, hosts: {} };
      const onFailure = step.when === 'on-failure';
      const clusterDown = failedHosts.has(CLUSTER);

      // who this step runs on, and what it would do there
      const targets: string[] = [];
      const norms = new Map<string, { n: Norm; raw: VmAction | ClusterAction }>();
      if (step.target === 'cluster') {
        if (clusterDown && !onFailure) rec.hosts[CLUSTER] = { status: 'skipped', lines: ['an earlier cluster step failed'] };
        else {
          const a = labCluster(step.cluster!(cctx), loaded.lab, opts.cluster);
          norms.set(CLUSTER, { n: forLab(fromCluster(a, cctx), a, loaded.lab), raw: a });
          targets.push(CLUSTER);
        }
      } else {
        for (const h of hosts) {
          const runs = onFailure ? failedHosts.has(h.name) : !failedHosts.has(h.name) && !clusterDown;
          if (!runs) {
            rec.hosts[h.name] = { status: 'skipped', lines: [onFailure ? 'nothing failed here' : clusterDown ? 'an earlier cluster step failed' : 'an earlier step failed on this host'] };
            continue;
          }
          norms.set(h.name, vmAction(step, ctxs.get(h.name)!));
          targets.push(h.name);
        }
      }
      if (opts.signal?.aborted) {
        // interrupted: report only what already ran on a VM in an earlier trip, then stop
        // (their trips have ended: the step before waited for them)
        const ran: string[] = [];
        for (const h of targets) if ((await carried.get(`${id}\0${h}`)?.results)?.length) ran.push(h);
        if (!ran.length) { report.stopped = id; break outer; }
        targets.splice(0, targets.length, ...ran);
      }
      await opts.hooks?.stepStart?.(step, id, targets);
      if (targets.length && opts.hooks?.confirm) {
        const d = await opts.hooks.confirm(step, id, new Map([...norms].map(([h, v]) => [h, v.raw])));
        if (d === 'quit') { report.stopped = id; report.records.push(rec); break outer; }
        if (d === 'skip') {
          for (const h of targets) rec.hosts[h] = { status: 'skipped', lines: ['skipped by you'] };
          targets.length = 0;
        }
      }
      opts.hooks?.running?.(id, targets);
      const stepT0 = performance.now();
      await pool(targets, opts.forks ?? 10, async (h) => {
        const { n } = norms.get(h)!;
        opts.hooks?.hostStart?.(id, h);
        const fp = fingerprintOf(n);
        const hostT0 = performance.now();
        let r: HostResult;
        const doneEarlier = resumed.has(rb.name) && !onFailure && !!journal?.doneBefore(id, h, fp);
        try {
          r = h === CLUSTER
            ? await execute(id, n, CLUSTER, loaded.lab, runHere, opts, clusterFacts)
            : await onVm(id, h, n, fp, rb, index);
        } catch (e) {
          r = { status: 'failed', lines: [], error: redact((e as Error).message) };
        }
        if (!opts.dryRun) journal?.record(id, h, r.status, fp);
        if (doneEarlier && r.status === 'unchanged') r = { ...r, status: 'skipped', lines: ['done in the interrupted run; its check confirms it now', ...r.lines] };
        if (opts.signal?.aborted && r.status === 'failed') r = { ...r, error: 'interrupted (Ctrl-C): stopped on this host; rerun to resume here' };
        if (r.status === 'failed' && !onFailure) failedHosts.add(h);
        r.ms = Math.round(performance.now() - hostT0);
        rec.hosts[h] = r;
        opts.hooks?.hostDone?.(id, h, r);
        // the steps that went along are still running there: the slot stays taken
        const open = openTrips.get(h);
        if (open) { openTrips.delete(h); await open; }
      });
      rec.hosts = Object.fromEntries(report.hosts.filter((h) => rec.hosts[h]).map((h) => [h, rec.hosts[h]]));
      if (targets.length) rec.ms = Math.round(performance.now() - stepT0);
      if (journal && !opts.dryRun) {
        learnHosts(journal, names, loaded, opts);
        journal.flush();
      }
      report.records.push(rec);
      opts.hooks?.stepEnd?.(rec);
    }
  }
  report.failed = report.records.some((r) => Object.values(r.hosts).some((h) => h.status === 'failed'));
  if (!opts.dryRun) journal?.finish(names, !report.failed && !report.stopped);
  if (journal?.notices.length) report.notices = [...journal.notices];
  if (opts.signal?.aborted) {
    report.stopped ??= 'interrupted';
    await Promise.all(hosts.map((h) => stopRemote(h, opts.ssh, runId)));
  }
  await closeMasters(hosts, opts.ssh);
  return report;
}

/** Tell the journal who the hosts are now: each VM by its host key in meshbook's
 *  known_hosts, the cluster by the lab's generation or kube-system's UID. */
async function identifyHosts(journal: Journal, names: string[], loaded: Loaded, hasCluster: boolean, opts: RunOptions): Promise<void> {
  const known = readKnownHosts(opts.ssh.knownHosts);
  for (const vm of loaded.inventory.vms) journal.identify(names, vm.name, hostKeyIdentity(known, vm.host, vm.port), 'host');
  if (!hasCluster) return;
  const r = loaded.lab ? undefined : await runLocal(CLUSTER_ID_CMD, 15_000).catch(() => undefined);
  journal.identify(names, CLUSTER, clusterIdentity(loaded.env, loaded.lab, r), 'cluster');
}

/** Hosts whose key became known during this run (first contact): record who they are. */
function learnHosts(journal: Journal, names: string[], loaded: Loaded, opts: RunOptions): void {
  const unknown = loaded.inventory.vms.filter((vm) => !journal.knows(names[0], vm.name));
  if (!unknown.length) return;
  const known = readKnownHosts(opts.ssh.knownHosts);
  for (const vm of unknown) {
    const id = hostKeyIdentity(known, vm.host, vm.port);
    if (id) journal.learn(names, vm.name, id);
  }
}

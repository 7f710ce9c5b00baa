// Running runbooks step by step over the VMs: every step on every live VM at once (up to
// --forks), check before change, --dry-run runs probes and prints mutations, a journal
// that advises (the checks decide), and a result per step x host. The rules for one
// step on one host are in action.ts, the round trip that carries several steps to a VM
// in trip.ts (sent by sender.ts), which steps a run takes in select.ts.
import { setMaxListeners } from 'node:events';
import pMap from 'p-map';
import type { ClusterAction, ClusterCtx, Facts, HostCtx, RemoteResult, Runbook, Step, VmAction } from './types.ts';
import type { Vm } from './inventory.ts';
import type { Loaded } from './inputs.ts';
import type { HostResult, RunOptions, RunReport, StepRecord } from './run-types.ts';
import { runLocal } from './local.ts';
import { Journal, workDirFor } from './journal.ts';
import { closeMasters } from './ssh.ts';
import { redact } from './redact.ts';
import { identifyHosts, learnHosts } from './journal-hosts.ts';
import { VmSender, type Carried } from './sender.ts';
import { StepSelection, matches } from './select.ts';
import type { Part } from './trip.ts';
import {
  CLUSTER,
  canChain,
  chainParts,
  clusterActionOf,
  decidedLocally,
  fingerprintAction,
  labCluster,
  needLabRules,
  normalizeCluster,
  normalizeVm,
  runAction,
  vmActionOf,
  withLabRules,
  type NormalAction,
  type Runnable,
} from './action.ts';

export type { Decision, Hooks, HostResult, RunOptions, RunReport, StepRecord } from './run-types.ts';
export { matches } from './select.ts';

export async function runRunbooks(runbooks: Runbook[], loaded: Loaded, opts: RunOptions): Promise<RunReport> {
  const run = new Run(runbooks, loaded, opts);
  return run.all();
}

/** One run: its hosts, their contexts and facts, what failed where, and the trips open. */
class Run {
  private readonly hosts: Vm[];
  private readonly clusterFacts: Facts = {};
  private readonly cctx: ClusterCtx;
  private readonly ctxs: Map<string, HostCtx>;
  private readonly report: RunReport;
  private readonly failedHosts = new Set<string>();
  private readonly names: string[];
  private readonly journal?: Journal;
  /** runbooks whose last run did not finish: a step it finished is labelled so, when its check confirms it */
  private resumed = new Set<string>();
  private readonly select: StepSelection;
  private readonly sender: VmSender;
  private readonly carryOn: boolean;
  private readonly clusterNoop = new Map<string, boolean>();
  private readonly probes = new Map<string, boolean>();

  constructor(
    private readonly runbooks: Runbook[],
    private readonly loaded: Loaded,
    private readonly opts: RunOptions,
  ) {
    needLabRules(loaded.lab, opts.labRules, 'run');
    this.hosts = loaded.inventory.vms;
    this.cctx = {
      env: loaded.env,
      facts: this.clusterFacts,
      lab: loaded.lab,
      vms: this.hosts,
      workDir: workDirFor(loaded.envFile),
      envFile: loaded.envFile,
      dryRun: opts.dryRun,
    };
    this.ctxs = new Map(
      this.hosts.map((vm) => [
        vm.name,
        {
          vm,
          env: loaded.env,
          facts: {},
          cluster: this.clusterFacts,
          vms: this.hosts,
          lab: loaded.lab,
          distro: vm.distro,
          dryRun: opts.dryRun,
        },
      ]),
    );
    const hosts = [...(this.hasCluster() ? [CLUSTER] : []), ...this.hosts.map((h) => h.name)];
    this.report = {
      records: [],
      hosts,
      failed: false,
      runbooks: runbooks.map((rb) => rb.name),
      envFile: loaded.envFile,
    };
    this.names = runbooks.map((rb) => rb.name);
    this.journal = opts.journal;
    this.select = new StepSelection(opts);
    this.sender = new VmSender(opts);
    this.carryOn = !opts.dryRun && !opts.hooks?.confirm && !opts.only;
  }

  private hasCluster(): boolean {
    return this.runbooks.some((rb) => rb.steps.some((s) => s.target === 'cluster'));
  }

  /** Every selected step of every runbook, in order; then the journal and connections closed. */
  async all(): Promise<RunReport> {
    const { journal, opts } = this;
    // the journal advises: on a resumed run every step still runs its check, and a step the
    // journal says was done is labelled so only when its check confirms it now
    if (journal && !opts.from && !opts.only && !opts.dryRun) this.resumed = new Set(journal.interrupted(this.names));
    if (journal && !opts.dryRun) {
      await identifyHosts(journal, this.names, this.loaded, this.hasCluster(), opts);
      journal.start(this.names);
    }
    const onAbort = () => this.sender.stopBusy();
    // one abort listener per running command (up to --forks of them) besides this one
    if (opts.signal) setMaxListeners(0, opts.signal);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    outer: for (const rb of this.runbooks) {
      for (const [index, step] of rb.steps.entries()) {
        if (!(await this.step(rb, index, step))) break outer;
      }
    }
    return this.finish();
  }

  private async finish(): Promise<RunReport> {
    const { report, journal, opts } = this;
    report.failed = report.records.some((r) => Object.values(r.hosts).some((h) => h.status === 'failed'));
    if (!opts.dryRun) journal?.finish(this.names, !report.failed && !report.stopped);
    if (journal?.notices.length) report.notices = [...journal.notices];
    if (opts.signal?.aborted) {
      report.stopped ??= 'interrupted';
      await this.sender.stopAll(this.hosts);
    }
    await closeMasters(this.hosts, opts.ssh);
    return report;
  }

  /** One step on its hosts. False when the run stops here (quit, or interrupted). */
  private async step(rb: Runbook, index: number, step: Step): Promise<boolean> {
    const { opts, report } = this;
    const id = `${rb.name}/${step.id}`;
    const selected = this.select.next(step, rb);
    if (!selected && !step.gathersFacts) return true;
    const rec: StepRecord = { id, title: step.title, article: step.article, hosts: {} };
    const { targets, actions } = this.targetsOf(step, id, rec);
    if (opts.signal?.aborted) {
      // interrupted: report only what already ran on a VM in an earlier trip, then stop
      // (their trips have ended: the step before waited for them)
      const ran: string[] = [];
      for (const h of targets) if (await this.sender.ranEarlier(id, h)) ran.push(h);
      if (!ran.length) {
        report.stopped = id;
        return false;
      }
      targets.splice(0, targets.length, ...ran);
    }
    await opts.hooks?.stepStart?.(step, id, targets);
    if (targets.length && opts.hooks?.confirm) {
      const d = await opts.hooks.confirm(step, id, new Map([...actions].map(([h, v]) => [h, v.raw])));
      if (d === 'quit') {
        report.stopped = id;
        report.records.push(rec);
        return false;
      }
      if (d === 'skip') {
        for (const h of targets) rec.hosts[h] = { status: 'skipped', lines: ['skipped by you'] };
        targets.length = 0;
      }
    }
    opts.hooks?.running?.(id, targets);
    const stepT0 = performance.now();
    await pMap(targets, (h) => this.stepOnHost(rb, index, step, h, actions.get(h)!.n, rec), {
      concurrency: Math.max(1, opts.forks ?? 10),
    });
    rec.hosts = Object.fromEntries(report.hosts.filter((h) => rec.hosts[h]).map((h) => [h, rec.hosts[h]]));
    if (targets.length) rec.ms = Math.round(performance.now() - stepT0);
    if (this.journal && !opts.dryRun) {
      learnHosts(this.journal, this.names, this.loaded, opts);
      this.journal.flush();
    }
    report.records.push(rec);
    opts.hooks?.stepEnd?.(rec);
    return true;
  }

  /** Who a step runs on, and what it would do there; hosts it skips get their reason. */
  private targetsOf(step: Step, id: string, rec: StepRecord) {
    const targets: string[] = [];
    const actions = new Map<string, { n: NormalAction; raw: VmAction | ClusterAction }>();
    const onFailure = step.when === 'on-failure';
    const clusterDown = this.failedHosts.has(CLUSTER);
    if (step.target === 'cluster') {
      if (clusterDown && !onFailure)
        rec.hosts[CLUSTER] = { status: 'skipped', lines: ['an earlier cluster step failed'] };
      else {
        const a = this.clusterAction(step, id);
        actions.set(CLUSTER, { n: withLabRules(normalizeCluster(a, this.cctx), a, this.loaded.lab), raw: a });
        targets.push(CLUSTER);
      }
      return { targets, actions };
    }
    for (const h of this.hosts) {
      const runs = onFailure ? this.failedHosts.has(h.name) : !this.failedHosts.has(h.name) && !clusterDown;
      if (!runs) {
        rec.hosts[h.name] = {
          status: 'skipped',
          lines: [
            onFailure
              ? 'nothing failed here'
              : clusterDown
                ? 'an earlier cluster step failed'
                : 'an earlier step failed on this host',
          ],
        };
        continue;
      }
      actions.set(h.name, this.vmAction(step, id, this.ctxs.get(h.name)!));
      targets.push(h.name);
    }
    return { targets, actions };
  }

  /** A step on one host (its --forks slot held until a trip it opened has ended). */
  private async stepOnHost(
    rb: Runbook,
    index: number,
    step: Step,
    h: string,
    n: NormalAction,
    rec: StepRecord,
  ): Promise<void> {
    const { opts, journal } = this;
    const id = `${rb.name}/${step.id}`;
    const onFailure = step.when === 'on-failure';
    opts.hooks?.hostStart?.(id, h);
    const fp = fingerprintAction(n);
    const hostT0 = performance.now();
    const doneEarlier = this.resumed.has(rb.name) && !onFailure && !!journal?.doneBefore(id, h, fp);
    let r: HostResult;
    try {
      r =
        h === CLUSTER
          ? await runAction(id, n, CLUSTER, this.loaded.lab, (x) => this.runOnCluster(x), opts, this.clusterFacts)
          : await this.runOnVm(id, h, n, fp, rb, index);
    } catch (e) {
      r = { status: 'failed', lines: [], error: redact((e as Error).message) };
    }
    if (!opts.dryRun) journal?.record(id, h, r.status, fp);
    if (doneEarlier && r.status === 'unchanged')
      r = { ...r, status: 'skipped', lines: ['done in the interrupted run; its check confirms it now', ...r.lines] };
    if (opts.signal?.aborted && r.status === 'failed')
      r = { ...r, error: 'interrupted (Ctrl-C): stopped on this host; rerun to resume here' };
    if (r.status === 'failed' && !onFailure) this.failedHosts.add(h);
    r.ms = Math.round(performance.now() - hostT0);
    rec.hosts[h] = r;
    opts.hooks?.hostDone?.(id, h, r);
    // the steps that went along are still running there: the slot stays taken
    const open = this.sender.takeOpenTrip(h);
    if (open) await open;
  }

  private runOnCluster(r: Runnable): Promise<RemoteResult> {
    const { opts } = this;
    if ('text' in r) return Promise.reject(new Error('a VM script in a cluster step'));
    return opts.cluster ? opts.cluster.run(r, opts.ssh.commandTimeoutMs) : runLocal(r, opts.ssh.commandTimeoutMs);
  }

  /** A VM step's action on one host (with the lab's rule for it), raw and normalized. */
  private vmAction(t: Step, tid: string, ctx: HostCtx) {
    ctx.distro = ctx.vm.distro ?? (ctx.facts.distro as string | undefined);
    const raw = vmActionOf(t, tid, ctx, this.opts.labRules);
    return { n: withLabRules(normalizeVm(raw, ctx), raw, this.loaded.lab), raw };
  }

  /** A cluster step's action (with the lab's rule for it; the lab without a cluster: not in lab). */
  private clusterAction(t: Step, tid: string): ClusterAction {
    return labCluster(clusterActionOf(t, tid, this.cctx, this.opts.labRules), this.loaded.lab, this.opts.cluster);
  }

  /** Does step t run a probe on some live host (its interpretation may pass facts on)? */
  private probesSomewhere(t: Step, tid: string): boolean {
    if (!this.probes.has(tid)) {
      this.probes.set(
        tid,
        this.hosts.some(
          (x) => !this.failedHosts.has(x.name) && !!this.vmAction(t, tid, this.ctxs.get(x.name)!).n.probe,
        ),
      );
    }
    return this.probes.get(tid)!;
  }

  /** A cluster step that sends nothing (decided on the workstation) does not end a trip. */
  private clusterSendsNothing(t: Step, tid: string): boolean {
    if (!this.clusterNoop.has(tid)) {
      const a = this.clusterAction(t, tid);
      this.clusterNoop.set(
        tid,
        !this.failedHosts.has(CLUSTER) &&
          decidedLocally(withLabRules(normalizeCluster(a, this.cctx), a, this.loaded.lab)),
      );
    }
    return this.clusterNoop.get(tid)!;
  }

  /** The steps after `from` that can go to host `h` in the same round trip: consecutive
   *  VM steps already decided, with nothing in between that does something on the
   *  cluster, gathers facts, asks a question, or probes (its facts may pass between hosts:
   *  hosts do not wait for each other between carried steps, as Ansible's free strategy). */
  private stepsToCarry(rb: Runbook, from: number, h: string): Carried[] {
    const out: Carried[] = [];
    const ctx = this.ctxs.get(h)!;
    let selected = this.select.pastStart; // --from: a step before the starting point never goes along
    for (let j = from + 1; j < rb.steps.length; j++) {
      const t = rb.steps[j];
      const tid = `${rb.name}/${t.id}`;
      if (!selected && matches(t, rb, this.opts.from!)) selected = true;
      if (!selected || t.when === 'on-failure' || t.gathersFacts) break;
      if (t.target === 'cluster') {
        if (this.clusterSendsNothing(t, tid)) continue;
        break;
      }
      const tn = this.vmAction(t, tid, ctx).n;
      const fp = fingerprintAction(tn);
      if (!decidedLocally(tn)) {
        const parts = canChain(tn, tid, this.opts) || (tn.probe && !tn.check) ? chainParts(tn) : undefined;
        if (!parts) break;
        out.push({ id: tid, fp, parts });
        if (parts[0].kind === 'probe') break;
      }
      if (this.probesSomewhere(t, tid)) break;
    }
    return out;
  }

  /** The chain for one VM step: its own parts, plus the steps after it that can go along. */
  private chainOnVm(vm: Vm, id: string, rb: Runbook, index: number, fp: string) {
    return async (parts: Part[]): Promise<RemoteResult[]> => {
      const done = await this.sender.takeCarried(id, vm.name, fp);
      if (done.length) return done;
      let more: Carried[] = [];
      // a step that cannot even be built yet (it throws) is left to its own turn
      try {
        more = this.carryOn ? this.stepsToCarry(rb, index, vm.name) : [];
      } catch {
        more = [];
      }
      return this.sender.sendAlong(vm, parts, more);
    };
  }

  /** A step on one VM: its probe may have gone along in an earlier trip. */
  private async runOnVm(
    id: string,
    h: string,
    n: NormalAction,
    fp: string,
    rb: Runbook,
    index: number,
  ): Promise<HostResult> {
    const { vm, facts } = this.ctxs.get(h)!;
    const early = n.probe ? await this.sender.takeCarried(id, h, fp) : [];
    const direct =
      early.length === 1
        ? async (r: Runnable) => (r === n.probe ? early[0] : this.sender.sendOne(vm, r))
        : (r: Runnable) => this.sender.sendOne(vm, r);
    return runAction(
      id,
      n,
      `${vm.user}@${vm.host}:${vm.port}`,
      this.loaded.lab,
      direct,
      this.opts,
      facts,
      this.chainOnVm(vm, id, rb, index, fp),
    );
  }
}

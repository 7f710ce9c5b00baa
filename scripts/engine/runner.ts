// Running runbooks step by step over the VMs: every step on every live VM at once (up
// to --forks), check before change, --dry-run runs probes and prints mutations, a
// journal to resume from, and a result per step x host.
import type { HostCtx, RemoteResult, Runbook, Status, Step, VmAction } from './types.ts';
import type { Loaded } from './inputs.ts';
import type { Script } from './sh.ts';
import { runScript, closeMaster, type SshConfig } from './ssh.ts';
import { Journal, fingerprint } from './journal.ts';
import { redact } from './redact.ts';
import { explain } from './known-failures.ts';

export interface HostResult {
  status: Status;
  lines: string[];          // what the step found or did, shown under the host
  error?: string;           // one line: cause (and fix when known)
  tail?: string;            // last lines of stderr on failure (redacted)
  planned?: string[];       // --dry-run: the mutations that would run
}

export interface StepRecord {
  id: string;               // runbook/step
  title: string;
  article: string;
  hosts: Record<string, HostResult>;
}

export interface RunReport {
  records: StepRecord[];
  hosts: string[];
  failed: boolean;
  stopped?: string;         // the walkthrough was quit
}

export type Decision = 'yes' | 'skip' | 'quit';

export interface Hooks {
  stepStart?(step: Step, id: string, hosts: string[]): void | Promise<void>;
  /** Walkthrough: asked before a step runs (after stepStart). */
  confirm?(step: Step, id: string, actions: Map<string, VmAction>): Promise<Decision>;
  running?(id: string, hosts: string[]): void;
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

function actionFingerprint(a: VmAction): string {
  return fingerprint(a.skip, a.probe?.text, a.check?.text, a.apply?.text, a.verify?.text);
}

/** Run one step's action on one host. */
async function execute(id: string, a: VmAction, ctx: HostCtx, opts: RunOptions): Promise<HostResult> {
  const run = (s: Script) => runScript(ctx.vm, s, opts.ssh);
  const fail = (what: string, r: RemoteResult): HostResult => {
    const known = explain(`${r.stderr}\n${r.stdout}`);
    const cause = r.timedOut ? `${what} timed out after ${opts.ssh.commandTimeoutMs} ms (host stopped answering?)`
      : r.code === 255 ? `${what}: ssh could not reach ${ctx.vm.user}@${ctx.vm.host}:${ctx.vm.port}`
      : `${what} exited ${r.code}`;
    return {
      status: 'failed', lines: [],
      error: redact(known ? `${cause}: ${known.cause}; fix: ${known.fix}` : cause),
      tail: tail(r.stderr || r.stdout),
    };
  };
  if (a.skip) return { status: 'skipped', lines: [a.skip] };
  const lab = ctx.lab && a.notInLab ? [`not in lab: ${a.notInLab}`] : [];
  if (lab.length) {
    const s = a.labStandIn;
    if (s) lab.push(`lab stand-in: ${s.what}`);
    a = { ...a, check: s?.check ?? a.check, apply: s?.apply, verify: s?.verify, consent: undefined };
  }

  if (a.probe) {
    const r = await run(a.probe);
    if (r.code === 255 || r.timedOut) return fail('probe', r);
    const it = a.interpret ? a.interpret(r, ctx) : { ok: r.code === 0, lines: r.stdout.trim() ? r.stdout.trim().split('\n') : [] };
    if (it.facts) Object.assign(ctx.facts, it.facts);
    if (!it.ok) return { status: 'failed', lines: it.lines.map(redact), error: redact(it.lines.find((l) => /^(missing|error|unknown)/i.test(l)) ?? 'check failed'), tail: tail(r.stderr) };
    return { status: lab.length ? 'not in lab' : 'ok', lines: [...it.lines.map(redact), ...lab] };
  }

  if (a.check) {
    const r = await run(a.check);
    const detail = r.stdout.trim() ? r.stdout.trim().split('\n').map(redact) : [];
    if (r.code === 0) return { status: lab.length ? 'not in lab' : 'unchanged', lines: [...detail, ...lab] };
    if (r.code !== 10) return fail('check', r);
    if (!a.apply) return lab.length ? { status: 'not in lab', lines: [...detail, ...lab] } : { status: 'failed', lines: detail, error: 'not in the desired state and no change is defined' };
    if (a.consent && !opts.yes && !opts.consented?.has(id)) {
      return { status: 'failed', lines: detail, error: `needs consent: ${a.consent}; rerun with --yes (or answer yes in the walkthrough) to allow it` };
    }
    if (opts.dryRun) return { status: 'would change', lines: detail, planned: [a.apply.display, ...(a.verify ? [a.verify.display] : [])] };
    return applyAndVerify(a, detail, lab, run, fail);
  }

  if (a.apply) {
    if (opts.dryRun) return { status: 'would change', lines: [], planned: [a.apply.display] };
    return applyAndVerify(a, [], lab, run, fail);
  }
  return { status: lab.length ? 'not in lab' : 'skipped', lines: lab.length ? lab : ['nothing to do'] };
}

async function applyAndVerify(a: VmAction, detail: string[], lab: string[], run: (s: Script) => Promise<RemoteResult>, fail: (w: string, r: RemoteResult) => HostResult): Promise<HostResult> {
  const r = await run(a.apply!);
  if (r.code !== 0) return fail('change', r);
  const out = r.stdout.trim() ? r.stdout.trim().split('\n').map(redact) : [];
  if (a.verify) {
    const v = await run(a.verify);
    if (v.code !== 0) return { ...fail('verify', v), lines: [...detail, ...out] };
  }
  return { status: lab.length ? 'not in lab' : 'changed', lines: [...detail, ...out, ...lab] };
}

export async function runRunbooks(runbooks: Runbook[], loaded: Loaded, opts: RunOptions): Promise<RunReport> {
  const hosts = loaded.inventory.vms;
  const ctxs = new Map<string, HostCtx>(hosts.map((vm) => [vm.name, {
    vm, env: loaded.env, facts: {}, lab: loaded.lab, distro: vm.distro,
  }]));
  const report: RunReport = { records: [], hosts: hosts.map((h) => h.name), failed: false };
  const failedHosts = new Set<string>();
  const journal = opts.journal;
  const resuming = !!journal?.resuming && !opts.from && !opts.only && !opts.dryRun;
  let started = !opts.from;
  journal && !opts.dryRun && journal.start();

  outer: for (const rb of runbooks) {
    for (const step of rb.steps) {
      const id = `${rb.name}/${step.id}`;
      if (!started && matches(step, rb, opts.from!)) started = true;
      const selected = opts.only ? matches(step, rb, opts.only) : started;
      const rec: StepRecord = { id, title: step.title, article: step.article, hosts: {} };
      const onFailure = step.when === 'on-failure';
      const targets = hosts.filter((h) => onFailure ? failedHosts.has(h.name) : !failedHosts.has(h.name));
      if (!selected && !step.gathersFacts) continue;
      for (const h of hosts) if (!targets.includes(h)) {
        rec.hosts[h.name] = onFailure ? { status: 'skipped', lines: ['nothing failed here'] } : { status: 'skipped', lines: ['an earlier step failed on this host'] };
      }
      const actions = new Map<string, VmAction>();
      for (const h of targets) {
        const ctx = ctxs.get(h.name)!;
        ctx.distro = ctx.vm.distro ?? (ctx.facts.distro as string | undefined);
        actions.set(h.name, step.vm(ctx));
      }
      await opts.hooks?.stepStart?.(step, id, targets.map((t) => t.name));
      if (targets.length && opts.hooks?.confirm) {
        const d = await opts.hooks.confirm(step, id, actions);
        if (d === 'quit') { report.stopped = id; report.records.push(rec); break outer; }
        if (d === 'skip') {
          for (const h of targets) { rec.hosts[h.name] = { status: 'skipped', lines: ['skipped by you'] }; opts.hooks?.hostDone?.(id, h.name, rec.hosts[h.name]); }
          report.records.push(rec);
          opts.hooks?.stepEnd?.(rec);
          continue;
        }
      }
      opts.hooks?.running?.(id, targets.map((t) => t.name));
      await pool(targets, opts.forks ?? 10, async (h) => {
        const a = actions.get(h.name)!;
        const fp = actionFingerprint(a);
        let r: HostResult;
        if (resuming && !step.gathersFacts && !onFailure && journal!.doneBefore(id, h.name, fp)) {
          r = { status: 'skipped', lines: ['done in the interrupted run (resumed)'] };
        } else {
          try {
            r = await execute(id, a, ctxs.get(h.name)!, opts);
          } catch (e) {
            r = { status: 'failed', lines: [], error: redact((e as Error).message) };
          }
          if (!opts.dryRun) journal?.record(id, h.name, r.status, fp);
        }
        if (r.status === 'failed' && !onFailure) failedHosts.add(h.name);
        rec.hosts[h.name] = r;
        opts.hooks?.hostDone?.(id, h.name, r);
      });
      rec.hosts = Object.fromEntries(hosts.filter((h) => rec.hosts[h.name]).map((h) => [h.name, rec.hosts[h.name]]));
      report.records.push(rec);
      opts.hooks?.stepEnd?.(rec);
    }
  }
  if (opts.from && !started) throw new Error(`--from ${opts.from}: no such step; see \`meshbook list\``);
  report.failed = report.records.some((r) => Object.values(r.hosts).some((h) => h.status === 'failed'));
  if (!opts.dryRun) journal?.finish(!report.failed && !report.stopped);
  await Promise.all(hosts.map((h) => closeMaster(h, opts.ssh)));
  return report;
}

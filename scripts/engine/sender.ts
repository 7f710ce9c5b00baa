// Sending a run's scripts to its VMs: one script on its own, or several steps in one round
// trip (trip.ts builds and splits it) whose later steps' results wait for their turn; a
// command past its time limit, or every command on Ctrl-C, is stopped on the VM too.
import crypto from 'node:crypto';
import type { RemoteResult } from './types.ts';
import type { Vm } from './inventory.ts';
import type { RunOptions } from './run-types.ts';
import { runLocal } from './local.ts';
import { runScript, stopRemote } from './ssh.ts';
import { chainScript, decidedSteps, splitChain, type Part } from './trip.ts';
import type { Runnable } from './action.ts';

/** Steps that went along in an earlier trip: what to send, and the step's fingerprint. */
export interface Carried {
  id: string;
  fp: string;
  parts: Part[];
}

/** What one run sends to its VMs, what runs there now, and the results kept for later steps. */
export class VmSender {
  readonly runId = crypto.randomBytes(6).toString('hex');
  private readonly busy = new Set<Vm>();
  /** results of steps that went along in an earlier trip, by step id and host */
  private readonly carried = new Map<string, { fp: string; results: Promise<RemoteResult[]> }>();
  private readonly openTrips = new Map<string, Promise<void>>();

  constructor(private readonly opts: RunOptions) {}

  /** Stop what runs now on every VM busy with a command (on Ctrl-C). */
  stopBusy(): void {
    for (const vm of [...this.busy]) void stopRemote(vm, this.opts.ssh, this.runId);
  }

  /** Stop whatever this run left running on these VMs. */
  async stopAll(hosts: Vm[]): Promise<void> {
    await Promise.all(hosts.map((h) => stopRemote(h, this.opts.ssh, this.runId)));
  }

  /** A command past its time limit is stopped on the VM too (its session), not left running. */
  private async stopIfTimedOut(vm: Vm, r: RemoteResult): Promise<RemoteResult> {
    if (r.timedOut) await stopRemote(vm, this.opts.ssh, this.runId);
    return r;
  }

  /** One script (or a local command of a VM step: a lab rule's onRunner, through the cluster provider) sent
   *  on its own. */
  async sendOne(vm: Vm, r: Runnable): Promise<RemoteResult> {
    if (!('text' in r)) {
      const timeout = this.opts.ssh.commandTimeoutMs;
      return this.opts.cluster ? this.opts.cluster.run(r, timeout) : runLocal(r, timeout);
    }
    this.busy.add(vm);
    try {
      return await this.stopIfTimedOut(
        vm,
        await runScript(vm, r, this.opts.ssh, { id: this.runId, signal: this.opts.signal }),
      );
    } finally {
      this.busy.delete(vm);
    }
  }

  /** Send steps in one round trip; per step a promise, settled as soon as that step's
   *  markers have arrived (not at the end of the trip). */
  private sendTrip(vm: Vm, steps: Part[][]): { steps: Array<Promise<RemoteResult[]>>; done: Promise<void> } {
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
    this.busy.add(vm);
    const done = runScript(vm, chainScript(steps, nonce), this.opts.ssh, {
      id: this.runId,
      signal: this.opts.signal,
      marker: `\n__MESHBOOK_${nonce} `,
      onOutput: (stdout, stderr) => settle({ code: 0, stdout, stderr }, false),
    })
      .then((r) => this.stopIfTimedOut(vm, r))
      .catch((e: Error) => ({ code: 255, stdout: '', stderr: e.message }))
      .then((r) => {
        this.busy.delete(vm);
        settle(r, true);
      });
    return { steps: promises, done };
  }

  /** Send one step's parts with the steps that go along; their results are kept for their
   *  turn and the trip stays open on the VM until it ends. Returns this step's results. */
  sendAlong(vm: Vm, parts: Part[], more: Carried[]): Promise<RemoteResult[]> {
    const t = this.sendTrip(vm, [parts, ...more.map((m) => m.parts)]);
    const [mine, ...later] = t.steps;
    more.forEach((m, i) => this.carried.set(`${m.id}\0${vm.name}`, { fp: m.fp, results: later[i] }));
    if (more.length) this.openTrips.set(vm.name, t.done);
    return mine;
  }

  /** The results step `id` got on host `h` in an earlier trip (none when its fingerprint changed). */
  async takeCarried(id: string, h: string, fp: string): Promise<RemoteResult[]> {
    const c = this.carried.get(`${id}\0${h}`);
    this.carried.delete(`${id}\0${h}`);
    return c && c.fp === fp ? c.results : [];
  }

  /** Whether step `id` already ran on host `h` in an earlier trip (awaits that trip's results). */
  async ranEarlier(id: string, h: string): Promise<boolean> {
    return !!(await this.carried.get(`${id}\0${h}`)?.results)?.length;
  }

  /** The trip still running on host `h` for steps that went along (taken: awaited once). */
  takeOpenTrip(h: string): Promise<void> | undefined {
    const open = this.openTrips.get(h);
    if (open) this.openTrips.delete(h);
    return open;
  }
}

// A run's ledger fed by the runner's hooks (the same ones the terminal uses): the step (title,
// article, notes), each host's start and end (status, time, the commands sent with their exit
// codes and masked output tails, facts), and every verifier result a command printed.
import type { Hooks, HostResult, StepRecord } from '../engine/run-types.ts';
import type { RunLedger } from './ledger.ts';

/** The ledger's side of a run: the runner's hooks writing events. */
export function ledgerHooks(ledger: RunLedger): Hooks {
  const ended = new Set<string>();
  const started = new Map<string, string>();
  const hostEnd = (step: string, host: string, r: HostResult) => {
    ended.add(`${step}\0${host}`);
    const { sent, ...rest } = r;
    for (const s of sent ?? []) if (s.verify) ledger.event('verify-result', { step, host, result: s.verify });
    ledger.event('step-end', {
      step,
      host,
      startedAt: started.get(`${step}\0${host}`),
      ...rest,
      sent: sent?.map(({ verify: _verify, ...s }) => s),
    });
  };
  return {
    stepStart(step, id, hosts) {
      ledger.event('step', {
        step: id,
        title: step.title,
        article: step.article,
        notes: step.notes,
        target: step.target,
        hosts,
      });
    },
    hostStart(id, host) {
      started.set(`${id}\0${host}`, new Date().toISOString());
      ledger.event('step-start', { step: id, host });
    },
    hostDone(id, host, r) {
      hostEnd(id, host, r);
    },
    stepEnd(rec: StepRecord) {
      // hosts a step did not run on (skipped before it started: an earlier failure) end here
      for (const [h, r] of Object.entries(rec.hosts)) if (!ended.has(`${rec.id}\0${h}`)) hostEnd(rec.id, h, r);
    },
  };
}

/** Two sets of hooks as one: both see every event; `confirm` is the first's. */
export function bothHooks(a: Hooks | undefined, b: Hooks): Hooks {
  if (!a) return b;
  return {
    ...a,
    async stepStart(step, id, hosts) {
      await b.stepStart?.(step, id, hosts);
      await a.stepStart?.(step, id, hosts);
    },
    running(id, hosts) {
      b.running?.(id, hosts);
      a.running?.(id, hosts);
    },
    hostStart(id, host) {
      b.hostStart?.(id, host);
      a.hostStart?.(id, host);
    },
    hostDone(id, host, r) {
      b.hostDone?.(id, host, r);
      a.hostDone?.(id, host, r);
    },
    stepEnd(rec) {
      b.stepEnd?.(rec);
      a.stepEnd?.(rec);
    },
  };
}

// Which steps a run takes: all of them, from a step on (--from), or one (--only, with the
// steps that gather facts). A step is named by its id, with or without its runbook, or by
// its number prefix (`05`, `traffic-shift/05`).
import type { Runbook, Step } from './types.ts';

export function matches(step: Step, rb: Runbook, sel: string): boolean {
  return (
    sel === step.id ||
    sel === `${rb.name}/${step.id}` ||
    step.id.startsWith(`${sel}-`) ||
    `${rb.name}/${step.id}`.startsWith(`${sel}-`)
  );
}

/** Walks the runbooks' steps in order and says, per step, whether the run takes it. */
export class StepSelection {
  private started: boolean;

  constructor(private readonly o: { from?: string; only?: string }) {
    this.started = !o.from;
  }

  /** Call once per step, in order: is it selected (a fact-gathering step may still run)? */
  next(step: Step, rb: Runbook): boolean {
    if (!this.started && matches(step, rb, this.o.from!)) this.started = true;
    return this.o.only ? matches(step, rb, this.o.only) : this.started;
  }

  /** Has the starting point been passed (steps after it may go along in a trip)? */
  get pastStart(): boolean {
    return this.started;
  }
}

// What the walkthrough shows around each step: the exact commands per host, and where the step stands.
import { chalk } from 'zx';
import type { ClusterAction, Runbook, VmAction } from '../types.ts';
import { planned } from '../plan.ts';
import type { StepRecord } from '../run-types.ts';

/** Indent every line of `t` by `pad`. */
const indent = (t: string, pad = '  ') =>
  t
    .split('\n')
    .map((l) => `${pad}${l}`)
    .join('\n');

/** One action as text: skipped, not in lab (and its stand-in), destructive, then each script. */
function actionText(a: VmAction | ClusterAction, lab: boolean): string {
  const p = planned(a, undefined, lab);
  if (p.skip) return `skipped: ${p.skip}`;
  const parts: string[] = [];
  if (lab && p.notInLab)
    parts.push(chalk.cyan(`not in lab: ${p.notInLab}`) + (p.labStandIn ? `\nlab stand-in: ${p.labStandIn}` : ''));
  if (p.consent) parts.push(chalk.red(`destructive: ${p.consent}`));
  for (const s of p.scripts) parts.push(`${chalk.bold(s.role)} (${s.kind}):\n${indent(s.script)}`);
  return parts.join('\n');
}

/** A step's actions as blocks `on HOSTS:` (hosts with the same commands share one block). */
export function showActions(actions: Map<string, VmAction | ClusterAction>, lab: boolean): string[] {
  const groups = new Map<string, string[]>();
  for (const [host, a] of actions) {
    const t = actionText(a, lab);
    groups.set(t, [...(groups.get(t) ?? []), host]);
  }
  return [...groups].map(([t, hosts]) => `on ${hosts.join(', ')}:\n${indent(t)}`);
}

/** `step 3 of 7` per step (its place in its runbook), and which steps the person skipped
 *  (said when a later step fails: it may depend on them). */
export function stepProgress(rb: Runbook) {
  const skipped: Array<{ id: string; index: number }> = [];
  const indexOf = (id: string) => rb.steps.findIndex((s) => `${rb.name}/${s.id}` === id);
  const skippedBefore = (id: string) =>
    skipped.filter((s) => s.index < indexOf(id)).map((s) => s.id.slice(rb.name.length + 1));
  const note = (id: string) => {
    const before = skippedBefore(id);
    if (!before.length) return undefined;
    const list = before.length === 1 ? before[0] : `${before.slice(0, -1).join(', ')} and ${before.at(-1)}`;
    return `you skipped ${list} earlier; this step may depend on ${before.length === 1 ? 'it' : 'them'}`;
  };
  return {
    label: (id: string) => `step ${indexOf(id) + 1} of ${rb.steps.length}`,
    skip: (id: string) => skipped.push({ id, index: indexOf(id) }),
    note,
  };
}

/** Whether a step failed on any host. */
export const failedIn = (rec: StepRecord) => Object.values(rec.hosts).some((h) => h.status === 'failed');

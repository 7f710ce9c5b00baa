// The canary's output: the timeline table and the final verdict (text), or one JSON object.
import Table from 'cli-table3';
import { chalk } from 'zx';
import { redact } from '../engine/redact.ts';
import type { CanaryReport } from './run.ts';
import type { Entry } from './state.ts';
import { showWeights } from './weights.ts';

const COLOR: Record<string, (s: string) => string> = {
  PASS: chalk.green,
  FAIL: chalk.red,
  'CONFIRM-FAILED': chalk.red,
  INCONCLUSIVE: chalk.yellow,
  INTERRUPTED: chalk.yellow,
};

const msText = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${x.toFixed(x < 10 ? 1 : 0)}`);

/** One row per step, rollback or restore. */
export function timelineTable(timeline: Entry[]): string {
  const t = new Table({
    head: ['step', 'weights', 'N', 'verdict', 'p', 'errors %', 'p99 ms canary / baseline', 'duration'],
    style: { head: [], border: [] },
  });
  for (const e of timeline) {
    const f = e.figures;
    t.push([
      e.label,
      showWeights(e.weights),
      f ? `${f.n}${f.resampled ? ' (2N)' : ''}` : '-',
      (COLOR[e.outcome] ?? ((s: string) => s))(
        e.outcome === 'PASS' ? 'PASS' : `${e.outcome}${e.gate ? ` ${e.gate}` : ''}`,
      ),
      f?.p === null || f?.p === undefined ? '-' : f.p.toFixed(3),
      f ? f.errorsPct.toFixed(2) : '-',
      f ? `${msText(f.canaryP99Ms)} / ${msText(f.baselineP99Ms)}` : '-',
      `${(e.durationMs / 1000).toFixed(1)} s`,
    ]);
  }
  return t.toString();
}

export function renderText(r: CanaryReport): string {
  const head =
    r.result === 'promoted' || r.result === 'restored' || r.result === 'unchanged'
      ? chalk.green
      : r.result === 'held' || r.result === 'interrupted'
        ? chalk.yellow
        : chalk.red;
  const lines = [];
  if (r.state.timeline.length) lines.push(timelineTable(r.state.timeline));
  lines.push(head(`${r.result.toUpperCase()} (exit ${r.exitCode}): ${r.message}`));
  return redact(lines.join('\n'));
}

/** The same as one object (`--json`). */
export function renderJson(r: CanaryReport, dataPlane: string): string {
  const s = r.state;
  return redact(
    JSON.stringify(
      {
        tool: 'meshbook canary',
        schemaVersion: 1,
        result: r.result,
        exitCode: r.exitCode,
        message: r.message,
        to: s.to,
        steps: s.steps,
        startWeights: s.start,
        weights: s.applied,
        confirmed: s.confirmed,
        dataPlane,
        startedAt: s.startedAt,
        timeline: s.timeline,
      },
      null,
      2,
    ),
  );
}

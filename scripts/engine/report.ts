// How a run looks: a line per step, the result per host under it (with the failure's
// stderr tail and known cause), a spinner on a terminal, and a summary table.
import ora, { type Ora } from 'ora';
import Table from 'cli-table3';
import { chalk } from 'zx';
import type { Hooks, HostResult, RunReport } from './runner.ts';
import type { Status } from './types.ts';
import { redact } from './redact.ts';

const COLOR: Record<Status, (s: string) => string> = {
  ok: chalk.green, changed: chalk.yellow, unchanged: chalk.green, skipped: chalk.gray,
  'not in lab': chalk.cyan, failed: chalk.red, 'would change': chalk.magenta,
};

export function paint(s: Status): string {
  return COLOR[s](s);
}

export function hostLines(host: string, r: HostResult, verbose = true): string[] {
  const out = [`  ${host.padEnd(10)} ${paint(r.status)}${r.error ? `  ${r.error}` : ''}`];
  if (verbose) for (const l of r.lines) out.push(`    ${l}`);
  for (const p of r.planned ?? []) out.push(chalk.magenta('    would run:'), ...p.split('\n').map((l) => `      ${l}`));
  if (r.tail) out.push(chalk.gray('    stderr (last lines):'), ...r.tail.split('\n').map((l) => chalk.gray(`      ${l}`)));
  return out;
}

/** Hooks that print progress to stderr/stdout as a run goes. */
export function textHooks(print: (s: string) => void = (s) => console.log(redact(s))): Hooks {
  let spinner: Ora | undefined;

  return {
    stepStart(step, id) {
      print(chalk.bold(`\n▶ ${id}: ${step.title}`) + chalk.gray(`  [article ${step.article}]`));
    },
    running(_id, hosts) {
      if (process.stderr.isTTY && hosts.length) spinner = ora({ text: `running on ${hosts.length} host(s)`, stream: process.stderr }).start();
    },
    hostDone(_id, host, r) {
      if (spinner) spinner.text = `${host}: ${r.status}`;
    },
    stepEnd(rec) {
      spinner?.stop();
      spinner = undefined;
      const lines = Object.entries(rec.hosts).flatMap(([h, r]) => hostLines(h, r));
      if (lines.length) print(lines.join('\n'));
    },
  };
}

export function summaryTable(rep: RunReport): string {
  const t = new Table({ head: ['step', ...rep.hosts], style: { head: [], border: [], compact: true } });
  for (const r of rep.records) t.push([r.id, ...rep.hosts.map((h) => (r.hosts[h] ? paint(r.hosts[h].status) : '-'))]);
  return t.toString();
}

export function failuresSummary(rep: RunReport): string[] {
  const out: string[] = [];
  for (const r of rep.records) for (const [h, res] of Object.entries(r.hosts)) {
    if (res.status === 'failed') out.push(`${h}: ${r.id}: ${res.error ?? 'failed'}`);
  }
  return out.map(redact);
}

export function reportJson(rep: RunReport): object {
  return {
    ok: !rep.failed && !rep.stopped,
    hosts: rep.hosts,
    stopped: rep.stopped,
    steps: rep.records.map((r) => ({ id: r.id, title: r.title, article: r.article, hosts: r.hosts })),
    failures: failuresSummary(rep),
  };
}

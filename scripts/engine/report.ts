// How a run looks: a line per step, the result per host under it (with the failure's
// stderr tail and known cause), a spinner on a terminal, and a summary table.
import ora, { type Ora } from 'ora';
import Table from 'cli-table3';
import { chalk } from 'zx';
import type { Hooks, HostResult, RunReport } from './runner.ts';
import type { Status } from './types.ts';
import { redact } from './redact.ts';

const COLOR: Record<Status, (s: string) => string> = {
  ok: chalk.green,
  changed: chalk.yellow,
  unchanged: chalk.green,
  skipped: chalk.gray,
  'not in lab': chalk.cyan,
  failed: chalk.red,
  'would change': chalk.magenta,
};

export function paint(s: Status): string {
  return COLOR[s](s);
}

export function hostLines(host: string, r: HostResult, verbose = true): string[] {
  const out = [`  ${host.padEnd(10)} ${paint(r.status)}${r.error ? `  ${r.error}` : ''}`];
  if (verbose) for (const l of r.lines) out.push(`    ${l}`);
  for (const p of r.planned ?? []) out.push(chalk.magenta('    would run:'), ...p.split('\n').map((l) => `      ${l}`));
  if (r.tail)
    out.push(chalk.gray('    stderr (last lines):'), ...r.tail.split('\n').map((l) => chalk.gray(`      ${l}`)));
  return out;
}

/** Hosts above which a non-terminal run prints one `[host] status` line per result as it
 *  arrives instead of a grouped block per step. */
export const STREAM_ABOVE = 5;

/** Hooks that print progress as a run goes. On a terminal: a spinner whose text says how
 *  far the step is (`4/30 hosts done, 1 failed, running: vm5 vm6 ...`). Otherwise, for a
 *  fleet: `[vm3] changed` lines as results arrive (details of failures under them). */
export function textHooks(
  print: (s: string) => void = (s) => console.log(redact(s)),
  tty = !!process.stderr.isTTY,
): Hooks {
  let spinner: Ora | undefined;
  let total = 0,
    done = 0,
    failed = 0,
    stream = false;
  const running = new Set<string>();
  const status = () => {
    const r = [...running];
    const shown = r.slice(0, 8).join(' ') + (r.length > 8 ? ` +${r.length - 8}` : '');
    return `${done}/${total} hosts done${failed ? `, ${failed} failed` : ''}${r.length ? `, running: ${shown}` : ''}`;
  };

  return {
    stepStart(step, id) {
      print(chalk.bold(`\n▶ ${id}: ${step.title}`) + chalk.gray(`  [article ${step.article}]`));
    },
    running(_id, hosts) {
      total = hosts.length;
      done = 0;
      failed = 0;
      running.clear();
      stream = !tty && hosts.length > STREAM_ABOVE;
      if (tty && hosts.length) spinner = ora({ text: status(), stream: process.stderr }).start();
    },
    hostStart(_id, host) {
      running.add(host);
      if (spinner) spinner.text = status();
    },
    hostDone(_id, host, r) {
      running.delete(host);
      done++;
      if (r.status === 'failed') failed++;
      if (spinner) spinner.text = status();
      if (stream) {
        const [head, ...rest] = hostLines(host, r, false);
        print(
          [
            `[${host}] ${head.trimStart().slice(host.length).trimStart()}`,
            ...(r.status === 'failed' ? rest.map((l) => `[${host}] ${l}`) : []),
          ].join('\n'),
        );
      }
    },
    stepEnd(rec) {
      spinner?.stop();
      spinner = undefined;
      if (stream) {
        const c: Record<string, number> = {};
        for (const r of Object.values(rec.hosts)) c[r.status] = (c[r.status] ?? 0) + 1;
        print(
          chalk.gray(
            `  ${Object.entries(c)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')}`,
          ),
        );
        return;
      }
      const lines = Object.entries(rec.hosts).flatMap(([h, r]) => hostLines(h, r));
      if (lines.length) print(lines.join('\n'));
    },
  };
}

// eslint-disable-next-line no-control-regex -- ESC starts an ANSI colour sequence
const ANSI = /\u001b\[[0-9;]*m/g;
const visible = (s: string) => s.replace(ANSI, '').length;
/** Statuses that need no one's attention in a summary. */
const FINE = new Set<Status>(['ok', 'changed', 'unchanged', 'not in lab', 'would change']);

/** The step x host table; past `width` columns (a fleet), per step the count per status
 *  and the names of the hosts that are not fine, on one line each (everything else is in
 *  --json). */
export function summaryTable(rep: RunReport, width = process.stdout.columns || 120): string {
  const t = new Table({ head: ['step', ...rep.hosts], style: { head: [], border: [], compact: true } });
  for (const r of rep.records) t.push([r.id, ...rep.hosts.map((h) => (r.hosts[h] ? paint(r.hosts[h].status) : '-'))]);
  const full = t.toString();
  if (Math.max(...full.split('\n').map(visible)) <= width) return full;
  const idWidth = Math.min(40, Math.max(...rep.records.map((r) => r.id.length)));
  const lines = [
    `${rep.hosts.length} hosts; per step: hosts per status, and the hosts that need a look (all of it: --json, meshbook report)`,
  ];
  for (const r of rep.records) {
    const counts = new Map<Status, number>();
    for (const res of Object.values(r.hosts)) counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
    const head = `${r.id.padEnd(idWidth)}  ${[...counts].map(([st, n]) => `${n} ${paint(st)}`).join(', ')}`;
    const bad = Object.entries(r.hosts).filter(
      ([, res]) =>
        !FINE.has(res.status) &&
        !(res.status === 'skipped' && /nothing failed here|resumed|confirms it/.test(res.lines[0] ?? '')),
    );
    lines.push(
      bad.length
        ? `${head}: ${fitNames(
            bad.map(([h]) => h),
            width - visible(head) - 2,
          )}`
        : head,
    );
  }
  return lines.join('\n');
}

/** As many names as fit in `room` columns, then "+N more". */
function fitNames(names: string[], room: number): string {
  const out: string[] = [];
  let used = 0;
  for (const [i, n] of names.entries()) {
    const more = names.length - i - 1;
    const need = n.length + (out.length ? 1 : 0) + (more ? ` +${more} more`.length : 0);
    if (used + need > room && out.length) return `${out.join(' ')} +${names.length - i} more`;
    out.push(n);
    used += n.length + (out.length > 1 ? 1 : 0);
  }
  return out.join(' ');
}

/** The command that resumes this run (every check runs again; finished steps are confirmed, not redone). */
export function rerunCommand(rep: RunReport): string {
  const names = rep.runbooks ?? [...new Set(rep.records.map((r) => r.id.split('/')[0]))];
  return `meshbook rebuild ${names.join(' ')}${rep.envFile ? ` --env ${rep.envFile}` : ''}`;
}

/** One line per failed host: host, step, cause (with the known fix), next action. */
export function failuresSummary(rep: RunReport): string[] {
  const out: string[] = [];
  const rerun = rerunCommand(rep);
  for (const r of rep.records)
    for (const [h, res] of Object.entries(r.hosts)) {
      if (res.status !== 'failed') continue;
      const error = res.error ?? 'failed';
      const next = /rerun with|to resume/.test(error)
        ? ''
        : `; next: ${/; fix: /.test(error) ? 'apply the fix, then ' : 'see the stderr above, fix it, then '}rerun ` +
          `\`${rerun}\` to resume (finished steps are checked, not redone)`;
      out.push(`${h}: ${r.id}: ${error}${next}`);
    }
  return out.map(redact);
}

/** Results without what the ledger keeps (the commands sent, their output, the facts). */
const brief = (hosts: Record<string, HostResult>) =>
  Object.fromEntries(Object.entries(hosts).map(([h, { sent: _s, facts: _f, ...r }]) => [h, r]));

export function reportJson(rep: RunReport): object {
  return {
    ok: !rep.failed && !rep.stopped,
    hosts: rep.hosts,
    stopped: rep.stopped,
    steps: rep.records.map((r) => ({ id: r.id, title: r.title, article: r.article, ms: r.ms, hosts: brief(r.hosts) })),
    failures: failuresSummary(rep),
  };
}

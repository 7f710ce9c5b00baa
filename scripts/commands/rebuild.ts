// `meshbook rebuild`: the non-interactive run over every VM (runner and report load only when it runs).
import type { Command } from 'commander';
import { InputError, loadInputs } from '../engine/inputs.ts';
import { Journal, journalDir } from '../engine/journal.ts';
import { lockEnv } from '../engine/lock.ts';
import { stateHome } from '../engine/files.ts';
import { redact } from '../engine/redact.ts';
import { zx } from '../engine/lazy.ts';
import type { RunReport } from '../engine/run-types.ts';
import { checkStep, labRules, positiveInt, runbooksOf, sshConfig } from './common.ts';

interface RebuildOptions {
  env: string;
  yes?: boolean;
  dryRun?: boolean;
  from?: string;
  only?: string;
  forks: number;
  timeout: number;
  connectTimeout: number;
  json?: boolean;
  runsDir?: string;
}

/** A warning on stderr (also with --json: stdout stays one JSON object). */
const say = (line: string) => console.error(zx.chalk.yellow(redact(line)));

/** Refuse a lab run (VMs in a network namespace) without root. */
function requireRootForNetns(netns: string | undefined): void {
  if (netns && process.getuid?.() !== 0)
    throw new InputError([`LAB_NETNS: reaching the lab's VMs (namespace ${netns}) needs root; run as root`]);
}

/** One run at a time per env file (a dry run changes nothing and needs no lock). */
function lockUnlessDryRun(o: RebuildOptions): void {
  if (o.dryRun) return;
  const lock = lockEnv(o.env);
  if (lock.tookOver)
    console.error(
      zx.chalk.yellow(`took over the lock of a run that is gone: pid ${lock.tookOver.pid} (${lock.tookOver.command})`),
    );
}

/** Say the journal's notices and whether the last run did not finish; returns the notices said. */
function warnAboutLastRun(journal: Journal, names: string[], o: RebuildOptions): string[] {
  const interrupted = o.from || o.only || o.dryRun ? [] : journal.interrupted(names);
  const early = journal.notices.splice(0);
  for (const n of early) say(n);
  if (interrupted.length)
    say(
      `the last run of ${interrupted.join(', ')} with ${o.env} did not finish: every step runs its check ` +
        `again; a step it finished is skipped only where the check confirms it (--from STEP to redo from a step)`,
    );
  return early;
}

/** Ctrl-C stops what runs on the VMs; a second Ctrl-C quits at once. */
function abortOnInterrupt(): AbortController {
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    console.error(zx.chalk.yellow('\ninterrupting: stopping what runs on the VMs (Ctrl-C again to quit at once)'));
    ac.abort();
  });
  return ac;
}

/** Print the run's outcome: one JSON object, or the summary table, failures and what to rerun. */
async function printOutcome(
  report: RunReport,
  early: string[],
  names: string[],
  o: RebuildOptions,
  aborted: boolean,
): Promise<void> {
  const { summaryTable, failuresSummary, reportJson } = await import('../engine/report.ts');
  if (o.json) {
    const notices = [...early, ...(report.notices ?? [])];
    console.log(redact(JSON.stringify({ ...reportJson(report), notices }, null, 2)));
    return;
  }
  console.log(`\n${summaryTable(report)}`);
  for (const f of failuresSummary(report)) console.log(zx.chalk.red(f));
  if (o.dryRun) console.log('dry run: probes ran, nothing was changed');
  if (aborted)
    console.log(
      `interrupted; the next \`meshbook rebuild ${names.join(' ')} --env ${o.env}\` resumes: ` +
        `every step runs its check, and what this run finished is confirmed, not redone`,
    );
}

/** Run the runbooks over every VM of the env file and set the exit code (0, 1 failed, 130 interrupted). */
async function rebuild(names: string[], o: RebuildOptions): Promise<void> {
  const rbs = await runbooksOf(names);
  checkStep(rbs, '--from', o.from);
  checkStep(rbs, '--only', o.only);
  const loaded = loadInputs(o.env, rbs, { checkFiles: true });
  const [{ runRunbooks }, { textHooks }, { openRun }, { ledgerHooks, bothHooks }] = await Promise.all([
    import('../engine/runner.ts'),
    import('../engine/report.ts'),
    import('../ledger/ledger.ts'),
    import('../ledger/hooks.ts'),
  ]);
  const netns = loaded.inventory.netns ?? loaded.env.LAB_NETNS;
  requireRootForNetns(netns);
  lockUnlessDryRun(o);
  const journal = new Journal(o.env);
  const early = warnAboutLastRun(journal, names, o);
  const ac = abortOnInterrupt();
  const ledger = openRun({ command: 'rebuild', envFile: o.env, inventory: loaded.inventory, runsDir: o.runsDir }, say);
  const report = await runRunbooks(rbs, loaded, {
    ssh: sshConfig(loaded.env, netns, o),
    dryRun: o.dryRun,
    yes: o.yes,
    from: o.from,
    only: o.only,
    forks: o.forks,
    journal,
    hooks: bothHooks(o.json ? undefined : textHooks(), ledgerHooks(ledger)),
    signal: ac.signal,
    cluster: loaded.lab ? (await import('../../lab/cluster/provider.ts')).labClusterFor(loaded.env) : undefined,
    labRules: await labRules(),
  });
  for (const n of report.notices ?? []) say(n);
  await printOutcome(report, early, names, o, ac.signal.aborted);
  process.exitCode = ac.signal.aborted ? 130 : report.failed ? 1 : 0;
  ledger.end(process.exitCode, { failed: report.failed, stopped: report.stopped ?? null, notices: report.notices });
  if (ledger.file) console.error(zx.chalk.gray(`run ledger: ${ledger.file} (meshbook report ${ledger.id})`));
}

/** Add `meshbook rebuild <runbook...> --env FILE [options]`. */
export function registerRebuild(program: Command): void {
  program
    .command('rebuild')
    .description(
      'non-interactive: bring every VM to the state the runbooks describe ' +
        '(checks first; a re-run changes nothing; resumes after a failure)',
    )
    .argument('<runbook...>', 'runbook name(s), run in order')
    .requiredOption('--env <file>', 'env file with the inputs')
    .option('--yes', 'allow destructive changes (e.g. --allowerasing on CentOS 8)')
    .option('--dry-run', 'connect and run the probes, print the mutations instead of running them')
    .option('--from <step>', 'start at this step (overrides the resume point)')
    .option('--only <step>', 'run only this step (and the preflight that gathers facts)')
    .option('--forks <n>', 'VMs worked on at once', positiveInt('--forks'), 10)
    .option('--timeout <seconds>', 'limit for one remote command', positiveInt('--timeout'), 900)
    .option('--connect-timeout <seconds>', 'SSH connect timeout', positiveInt('--connect-timeout'), 10)
    .option('--json', 'print one JSON object with every result (progress is not printed)')
    .option('--runs-dir <dir>', 'where the run ledger goes (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)')
    .addHelpText(
      'after',
      () => `
State: the run journal (one per runbook and env file) is kept in ${journalDir()}/<runbook>/
and the lock that allows one run per env file at a time in ${stateHome()}/locks/
(set MESHBOOK_STATE_DIR to move both). The journal only advises: every step runs its check.
Every run is recorded in a ledger (.meshbook/runs/, or --runs-dir / MESHBOOK_RUNS_DIR): meshbook runs, meshbook report.`,
    )
    .action(rebuild);
}

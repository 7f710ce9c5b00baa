#!/usr/bin/env -S npx tsx
// meshbook: runbooks for bringing VMs into an Istio / ASM mesh.
import fs from 'node:fs';
import path from 'node:path';
import { Argument, Command, CommanderError, Option, InvalidArgumentError } from 'commander';
// Start-up: `meshbook --help` and `meshbook list` load commander, the runbooks' step
// definitions (whose packages load on first use, engine/lazy.ts) and small modules of
// node builtins; everything else is imported by the command that needs it when it runs
// (the planner, the runner and its report, the walkthrough's prompts, the lab, the
// verifier's HTTP client, the Ansible export). bench/startup.mjs measures it.
import { InputError, loadInputs } from './engine/inputs.ts';
import { inLabNamespace } from './verify/in-lab-namespace.ts';
import { matches } from './engine/select.ts';
import { Journal, journalDir } from './engine/journal.ts';
import { lockEnv } from './engine/lock.ts';
import { stateHome } from './engine/files.ts';
import { redact } from './engine/redact.ts';
import { repoPath } from './engine/repo.ts';
import { listing } from './listing.ts';
import { zx } from './engine/lazy.ts';
import type { Runbook } from './engine/types.ts';
import type { SshConfig } from './engine/ssh.ts';
import { registerLab } from '../lab/cli.ts';
import { registerVerify } from './verify/cli.ts';

/** The lab's stand-ins and not-in-lab reasons, by step id (loaded only by commands that run or plan steps). */
const labRules = async () => (await import('../lab/stand-ins/index.ts')).LAB_RULES;

const VERSION = (JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version;

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || +v < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
  return Number(v);
};

/** chalk for stdout; plain text where chalk would print no colour anyway (stdout is not a
 *  terminal and FORCE_COLOR is not set), so that `meshbook list | …` does not load zx. */
function stdoutColors(): { bold: (s: string) => string; gray: (s: string) => string } {
  if (!process.stdout.isTTY && process.env.FORCE_COLOR === undefined) return { bold: String, gray: String };
  return zx.chalk;
}

/** The runbooks (every step's module): loaded by the commands that use them, not by --help. */
const runbooks = () => import('./runbooks.ts');

async function runbooksOf(names: string[]): Promise<Runbook[]> {
  const { findRunbook } = await runbooks();
  return names.map(findRunbook);
}

function sshConfig(
  env: Record<string, string>,
  netns: string | undefined,
  o: { timeout: number; connectTimeout: number },
): SshConfig {
  return {
    knownHosts: path.resolve(env.SSH_KNOWN_HOSTS || '.meshbook/known_hosts'),
    netns,
    connectTimeoutS: o.connectTimeout,
    commandTimeoutMs: o.timeout * 1000,
  };
}

function checkStep(rbs: Runbook[], flag: string, sel?: string) {
  if (sel && !rbs.some((rb) => rb.steps.some((s) => matches(s, rb, sel)))) {
    throw new InputError([
      `${flag}: ${JSON.stringify(sel)} is not a step of ${rbs.map((r) => r.name).join(', ')}; see meshbook list`,
    ]);
  }
}

export function buildProgram(): Command {
  const program = new Command('meshbook')
    .description(
      'Runbooks for bringing VM workloads into an Istio or Alibaba Cloud Service ' +
        'Mesh (ASM) mesh, with a local lab of network namespaces to rehearse them on.',
    )
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError('(add --help for usage)')
    // bad input (an unknown flag, a bad value, a missing option) exits 2, as every other
    // input error does: commander would exit 1 (inherited by the commands added below)
    .exitOverride();

  program
    .command('list')
    .description('the runbooks and their numbered steps')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const rbs = await listing();
      if (o.json) {
        console.log(JSON.stringify(rbs, null, 2));
        return;
      }
      const chalk = stdoutColors();
      for (const r of rbs) {
        console.log(chalk.bold(`${r.name}`) + `: ${r.title}` + chalk.gray(`  (${r.article})`));
        for (const s of r.steps) console.log(`  ${s.id.padEnd(28)} ${s.title}` + chalk.gray(`  [${s.article}]`));
      }
    });

  program
    .command('plan')
    .description('print what a rebuild would do, per host, without connecting anywhere')
    .argument('<runbook...>', 'runbook name(s), see meshbook list')
    .requiredOption('--env <file>', 'env file with the inputs (see envs/*.env.example)')
    .addOption(
      new Option('--format <format>', 'output format (ansible: a playbook and inventory for fleets, written to -o DIR)')
        .choices(['text', 'sh', 'json', 'ansible'])
        .default('text'),
    )
    .option('-o, --output <dir>', 'with --format ansible: the directory to write into')
    .action(async (names: string[], o) => {
      const rbs = await runbooksOf(names);
      if (o.format === 'ansible' && !o.output)
        throw new InputError(['-o: missing; --format ansible writes files: give the directory, e.g. -o ansible/']);
      const loaded = loadInputs(o.env, rbs);
      if (o.format === 'ansible') {
        const { exportAnsible } = await import('./ansible/export.ts');
        const { files } = await exportAnsible(rbs, loaded, o.output, { labRules: await labRules() });
        for (const f of files) console.log(`wrote ${f}`);
        console.log(
          `run: ANSIBLE_CONFIG=${path.join(o.output, 'ansible.cfg')} ansible-playbook ` +
            `-i ${path.join(o.output, 'inventory.yml')} ${path.join(o.output, 'playbook.yml')}`,
        );
        return;
      }
      const { plan, planSh, planText } = await import('./engine/plan.ts');
      const steps = plan(rbs, loaded, { labRules: await labRules() });
      const out =
        o.format === 'json'
          ? JSON.stringify(
              { env: loaded.envFile, lab: loaded.lab, hosts: loaded.inventory.vms.map((v) => v.name), steps },
              null,
              2,
            )
          : o.format === 'sh'
            ? planSh(steps, loaded)
            : planText(steps, loaded);
      console.log(redact(out));
    });

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
    .addHelpText(
      'after',
      () => `
State: the run journal (one per runbook and env file) is kept in ${journalDir()}/<runbook>/
and the lock that allows one run per env file at a time in ${stateHome()}/locks/
(set MESHBOOK_STATE_DIR to move both). The journal only advises: every step runs its check.`,
    )
    .action(async (names: string[], o) => {
      const rbs = await runbooksOf(names);
      checkStep(rbs, '--from', o.from);
      checkStep(rbs, '--only', o.only);
      const loaded = loadInputs(o.env, rbs, { checkFiles: true });
      const [{ runRunbooks }, { textHooks, summaryTable, failuresSummary, reportJson }] = await Promise.all([
        import('./engine/runner.ts'),
        import('./engine/report.ts'),
      ]);
      const { chalk } = zx;
      const netns = loaded.inventory.netns ?? loaded.env.LAB_NETNS;
      if (netns && process.getuid?.() !== 0)
        throw new InputError([`LAB_NETNS: reaching the lab's VMs (namespace ${netns}) needs root; run as root`]);
      // one run at a time per env file (a dry run changes nothing and needs no lock)
      if (!o.dryRun) {
        const lock = lockEnv(o.env);
        if (lock.tookOver)
          console.error(
            chalk.yellow(
              `took over the lock of a run that is gone: pid ${lock.tookOver.pid} (${lock.tookOver.command})`,
            ),
          );
      }
      const journal = new Journal(o.env);
      const interrupted = o.from || o.only || o.dryRun ? [] : journal.interrupted(names);
      // warnings go to stderr also with --json (stdout stays one JSON object)
      const say = (line: string) => console.error(chalk.yellow(redact(line)));
      const early = journal.notices.splice(0);
      for (const n of early) say(n);
      if (interrupted.length)
        say(
          `the last run of ${interrupted.join(', ')} with ${o.env} did not finish: every step runs its check ` +
            `again; a step it finished is skipped only where the check confirms it (--from STEP to redo from a step)`,
        );
      const ac = new AbortController();
      process.on('SIGINT', () => {
        if (ac.signal.aborted) process.exit(130);
        console.error(chalk.yellow('\ninterrupting: stopping what runs on the VMs (Ctrl-C again to quit at once)'));
        ac.abort();
      });
      const report = await runRunbooks(rbs, loaded, {
        ssh: sshConfig(loaded.env, netns, o),
        dryRun: o.dryRun,
        yes: o.yes,
        from: o.from,
        only: o.only,
        forks: o.forks,
        journal,
        hooks: o.json ? undefined : textHooks(),
        signal: ac.signal,
        cluster: loaded.lab ? (await import('../lab/cluster/provider.ts')).labClusterFor(loaded.env) : undefined,
        labRules: await labRules(),
      });
      for (const n of report.notices ?? []) say(n);
      if (o.json)
        console.log(
          redact(JSON.stringify({ ...reportJson(report), notices: [...early, ...(report.notices ?? [])] }, null, 2)),
        );
      else {
        console.log(`\n${summaryTable(report)}`);
        for (const f of failuresSummary(report)) console.log(chalk.red(f));
        if (o.dryRun) console.log('dry run: probes ran, nothing was changed');
        if (ac.signal.aborted)
          console.log(
            `interrupted; the next \`meshbook rebuild ${names.join(' ')} --env ${o.env}\` resumes: ` +
              `every step runs its check, and what this run finished is confirmed, not redone`,
          );
      }
      process.exitCode = ac.signal.aborted ? 130 : report.failed ? 1 : 0;
    });

  program
    .command('walkthrough')
    .description('interactive: pick a runbook, answer what is missing, confirm each step (yes / skip / quit)')
    .argument('[runbook]', 'runbook name (asked when absent)')
    .option('--env <file>', 'env file with the inputs you already have')
    .option('--timeout <seconds>', 'limit for one remote command', positiveInt('--timeout'), 900)
    .option('--connect-timeout <seconds>', 'SSH connect timeout', positiveInt('--connect-timeout'), 10)
    .action(async (name: string | undefined, o) => {
      if (o.env) lockEnv(o.env);
      const [{ walkthrough }, { labClusterFor }, { RUNBOOKS }] = await Promise.all([
        import('./engine/walkthrough.ts'),
        import('../lab/cluster/provider.ts'),
        runbooks(),
      ]);
      const rep = await walkthrough(RUNBOOKS, {
        runbook: name,
        envFile: o.env,
        ssh: (env, netns) => sshConfig(env, netns, o),
        cluster: labClusterFor,
        labRules: await labRules(),
      });
      process.exitCode = rep?.failed ? 1 : 0;
    });

  program
    .command('demo')
    .description(
      'the main job on the local lab (npm start): build the lab, rebuild traffic-shift on it, verify the split; ' +
        "`demo bookinfo`: article 5's Bookinfo and its user-based routing on the lab",
    )
    .addArgument(
      new Argument('[runbook]', 'what to run').choices(['traffic-shift', 'bookinfo']).default('traffic-shift'),
    )
    .option('--vms <n>', 'lab VMs', positiveInt('--vms'), 3)
    .action(async (runbook: 'traffic-shift' | 'bookinfo', o) => {
      process.exitCode = await (await import('./demo.ts')).demo({ ...o, runbook });
    });

  registerLab(program);
  registerVerify(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    const code = await inLabNamespace(argv);
    if (code !== undefined) {
      process.exitCode = code;
      return;
    }
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed the message (or the help, or the version) already
      process.exitCode = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(e.code) ? 0 : 2;
    } else if (e instanceof InputError) {
      for (const p of e.problems) console.error(zx.chalk.red(redact(p)));
      console.error('nothing was run');
      process.exitCode = 2;
    } else if ((e as Error).name === 'ExitPromptError') {
      console.error('walkthrough quit');
      process.exitCode = 130;
    } else {
      console.error(zx.chalk.red(redact((e as Error).message)));
      process.exitCode = 2;
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('bin/meshbook.js')) await main();

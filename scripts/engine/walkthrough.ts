// The guided walkthrough: pick a runbook, answer what is missing (secrets masked), see
// each step's purpose, article section and exact commands, then yes / skip / quit.
// Every answer is checked as it is typed (a bad one is said and asked again, never a
// stack trace); when it ends by suggesting `meshbook rebuild`, the env file it names
// exists (it offers to save the answers, secrets only with consent).
import { select, confirm } from '@inquirer/prompts';
import { chalk } from 'zx';
import type { Runbook, Step } from './types.ts';
import { InputError, type Loaded } from './inputs.ts';
import { runRunbooks, type Hooks, type RunOptions, type RunReport } from './runner.ts';
import { textHooks, summaryTable, failuresSummary } from './report.ts';
import { redact } from './redact.ts';
import { Journal } from './journal.ts';
import { bothHooks } from '../ledger/hooks.ts';
import { gatherInputs, type Answers } from './walkthrough/answers.ts';
import { failedIn, showActions, stepProgress } from './walkthrough/show.ts';
import { failuresWithoutFile, notSavedHint, offerToSave } from './walkthrough/save.ts';

type Progress = ReturnType<typeof stepProgress>;

/** The walkthrough asks questions: without a terminal on both ends it cannot. */
export function needsTerminal(runbook: string | undefined, envFile: string | undefined): string | undefined {
  if (process.stdin.isTTY && process.stdout.isTTY) return undefined;
  const which =
    !process.stdin.isTTY && !process.stdout.isTTY
      ? 'stdin and stdout are not terminals'
      : `${process.stdin.isTTY ? 'stdout' : 'stdin'} is not a terminal`;
  return (
    `walkthrough: needs a terminal to ask its questions (${which}); without one, ` +
    `run \`meshbook rebuild ${runbook ?? '<runbook>'} --env ${envFile ?? 'FILE'}\` ` +
    `(an env file with every input, see envs/${runbook ?? '<runbook>'}.env.example)`
  );
}

/** The runbook named on the command line, or the one the person picks. */
async function pickRunbook(runbooks: Runbook[], name: string | undefined, envFile: string | undefined) {
  const known = name ? runbooks.find((r) => r.name === name) : undefined;
  const noTty = needsTerminal(known?.name, envFile);
  if (noTty) throw new InputError([noTty]);
  if (name && !known) throw new InputError([`runbook: ${JSON.stringify(name)} is not known; see meshbook list`]);
  return (
    known ??
    (await select({
      message: 'Which runbook?',
      choices: runbooks.map((r) => ({ name: `${r.name}: ${r.title}`, value: r, description: r.summary })),
    }))
  );
}

/** Ask yes / skip / quit for a step after showing its notes and commands; a destructive one asks consent too. */
async function confirmStep(
  step: Step,
  id: string,
  actions: Parameters<NonNullable<Hooks['confirm']>>[2],
  ctx: { loaded: Loaded; progress: Progress; consented: Set<string> },
) {
  console.log(chalk.gray(`  mirrors article ${step.article}`));
  for (const n of step.notes ?? []) console.log(chalk.yellow(`  note: ${n}`));
  for (const block of showActions(actions, ctx.loaded.lab))
    console.log(
      redact(block)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  const d = await select({
    message: `Run ${id}? (${ctx.progress.label(id)})`,
    choices: [
      { name: 'yes', value: 'yes' as const },
      { name: 'skip this step', value: 'skip' as const },
      { name: 'quit', value: 'quit' as const },
    ],
  });
  if (d === 'skip') ctx.progress.skip(id);
  const consent = [...actions.values()].find((a) => a.consent && !(ctx.loaded.lab && a.notInLab))?.consent;
  if (d === 'yes' && consent) {
    if (await confirm({ message: `This step is destructive: ${consent}. Allow it?`, default: false }))
      ctx.consented.add(id);
  }
  return d;
}

/** The text hooks, plus the step's place in the runbook, a note about skipped steps, and the question. */
function walkthroughHooks(loaded: Loaded, progress: Progress, consented: Set<string>): Hooks {
  const text = textHooks();
  return {
    ...text,
    stepStart(step: Step, id: string) {
      console.log(
        chalk.bold(`\n▶ ${progress.label(id)} · ${id}: ${step.title}`) + chalk.gray(`  [article ${step.article}]`),
      );
    },
    stepEnd(rec) {
      text.stepEnd?.(rec);
      const note = failedIn(rec) ? progress.note(rec.id) : undefined;
      if (note) console.log(chalk.yellow(`  ${note}`));
    },
    confirm: (step, id, actions) => confirmStep(step, id, actions, { loaded, progress, consented }),
  };
}

/** After a failure or a stop: what failed, what skipped steps it may depend on, and the rebuild to run
 *  (naming an env file that exists and holds these answers, once the person saved them). */
async function sayWhatNext(
  rb: Runbook,
  report: RunReport,
  answers: Answers,
  envFile: string | undefined,
  progress: Progress,
): Promise<void> {
  const saved =
    envFile && !answers.asked.size
      ? { file: envFile, blank: [] as string[] }
      : await offerToSave(rb, answers.env, answers.base, [...answers.asked], envFile);
  report.envFile = saved?.file;
  const fill = saved?.blank.length ? `fill in ${saved.blank.join(', ')} in ${saved.file}, then ` : '';
  const failures = saved
    ? failuresSummary(report).map((l) => (fill ? l.replace(/(rerun `meshbook rebuild)/, `${fill}$1`) : l))
    : failuresWithoutFile(report);
  for (const f of failures) console.log(chalk.red(f));
  for (const rec of report.records) {
    const note = failedIn(rec) ? progress.note(rec.id) : undefined;
    if (note) console.log(chalk.yellow(`${rec.id} failed: ${note}`));
  }
  if (report.stopped) {
    const first = report.stopped === `${rb.name}/${rb.steps[0].id}`;
    const cmd = saved
      ? `meshbook rebuild ${rb.name} --env ${saved.file}${first ? '' : ` --from ${report.stopped}`}`
      : undefined;
    console.log(
      `stopped at ${report.stopped}` +
        (cmd ? `; ${first ? 'to run it without questions' : 'resume with'}: ${fill}${cmd}` : `; ${notSavedHint(rb)}`),
    );
  }
}

/** Run one runbook interactively: pick it, gather its inputs, confirm each step, then say what next. */
export async function walkthrough(
  runbooks: Runbook[],
  opts: {
    runbook?: string;
    envFile?: string;
    ssh: (env: Record<string, string>, netns?: string) => RunOptions['ssh'];
    cluster?: (env: Record<string, string>) => RunOptions['cluster'];
    labRules?: RunOptions['labRules'];
    /** the run ledger's hooks, once the inputs are known */
    record?: (loaded: Loaded) => Hooks;
  },
): Promise<RunReport | undefined> {
  const rb = await pickRunbook(runbooks, opts.runbook, opts.envFile);
  console.log(chalk.bold(`\n${rb.title}`) + chalk.gray(` (mirrors ${rb.article})`) + `\n${rb.summary}\n`);
  const { answers, loaded } = await gatherInputs(rb, opts.envFile);
  const progress = stepProgress(rb);
  const consented = new Set<string>();
  const report = await runRunbooks([rb], loaded, {
    ssh: opts.ssh(loaded.env, loaded.inventory.netns ?? loaded.env.LAB_NETNS),
    cluster: loaded.lab ? opts.cluster?.(loaded.env) : undefined,
    labRules: opts.labRules,
    consented,
    journal: opts.envFile ? new Journal(opts.envFile) : undefined,
    hooks: bothHooks(walkthroughHooks(loaded, progress, consented), opts.record?.(loaded) ?? {}),
  });
  console.log(`\n${summaryTable(report)}`);
  if (!report.failed && !report.stopped) return report;
  await sayWhatNext(rb, report, answers, opts.envFile, progress);
  return report;
}

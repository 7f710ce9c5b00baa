// The guided walkthrough: pick a runbook, answer what is missing (secrets masked), see
// each step's purpose, article section and exact commands, then yes / skip / quit.
// Every answer is checked as it is typed (a bad one is said and asked again, never a
// stack trace); when it ends by suggesting `meshbook rebuild`, the env file it names
// exists (it offers to save the answers, secrets only with consent).
import fs from 'node:fs';
import path from 'node:path';
import { select, input, password, confirm } from '@inquirer/prompts';
import { chalk } from 'zx';
import type { ClusterAction, InputSpec, Runbook, Step, VmAction } from './types.ts';
import { planned } from './plan.ts';
import { COMMON_INPUTS, InputError, checkInputs, inputsOf, loadFrom, readEnvFile, type Loaded } from './inputs.ts';
import { expandHome, loadInventory } from './inventory.ts';
import { runRunbooks, type Hooks, type RunOptions, type RunReport, type StepRecord } from './runner.ts';
import { textHooks, summaryTable, failuresSummary } from './report.ts';
import { registerSecret, redact } from './redact.ts';
import { Journal } from './journal.ts';
import { envContent, envPathProblem, writePrivateFile } from './walkthrough/envfile.ts';
import { repoPath } from './repo.ts';

function showActions(actions: Map<string, VmAction | ClusterAction>, lab: boolean): string[] {
  const groups = new Map<string, string[]>();
  const text = (a: VmAction | ClusterAction) => {
    const p = planned(a, undefined, lab);
    if (p.skip) return `skipped: ${p.skip}`;
    const parts: string[] = [];
    if (lab && p.notInLab)
      parts.push(chalk.cyan(`not in lab: ${p.notInLab}`) + (p.labStandIn ? `\nlab stand-in: ${p.labStandIn}` : ''));
    if (p.consent) parts.push(chalk.red(`destructive: ${p.consent}`));
    for (const s of p.scripts)
      parts.push(
        `${chalk.bold(s.role)} (${s.kind}):\n${s.script
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n')}`,
      );
    return parts.join('\n');
  };
  for (const [host, a] of actions) {
    const t = text(a);
    groups.set(t, [...(groups.get(t) ?? []), host]);
  }
  return [...groups].map(
    ([t, hosts]) =>
      `on ${hosts.join(', ')}:\n${t
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`,
  );
}

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

/** A problem line without its `NAME: ` (the prompt already names the variable). */
const bare = (p: string, name: string) =>
  p.startsWith(`${name}: `) ? p.slice(name.length + 2) : p.startsWith(`${name} `) ? p.slice(name.length + 1) : p;

/** A secret's value never appears in a message about it. */
function hideValue(msg: string, value: string): string {
  if (!value) return msg;
  const quoted = JSON.stringify(value);
  const out = msg.split(quoted).join('the value');
  return value.length >= 4 ? out.split(value).join('***') : out;
}

/** `step 3 of 7` per step (its place in its runbook), and which steps the person skipped
 *  (said when a later step fails: it may depend on them). */
function stepProgress(rb: Runbook) {
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

const failedIn = (rec: StepRecord) => Object.values(rec.hosts).some((h) => h.status === 'failed');

export async function walkthrough(
  runbooks: Runbook[],
  opts: {
    runbook?: string;
    envFile?: string;
    ssh: (env: Record<string, string>, netns?: string) => RunOptions['ssh'];
    cluster?: (env: Record<string, string>) => RunOptions['cluster'];
    labRules?: RunOptions['labRules'];
  },
): Promise<RunReport | undefined> {
  const known = opts.runbook ? runbooks.find((r) => r.name === opts.runbook) : undefined;
  const noTty = needsTerminal(known?.name, opts.envFile);
  if (noTty) throw new InputError([noTty]);
  if (opts.runbook && !known)
    throw new InputError([`runbook: ${JSON.stringify(opts.runbook)} is not known; see meshbook list`]);
  const rb =
    known ??
    (await select({
      message: 'Which runbook?',
      choices: runbooks.map((r) => ({ name: `${r.name}: ${r.title}`, value: r, description: r.summary })),
    }));
  console.log(chalk.bold(`\n${rb.title}`) + chalk.gray(` (mirrors ${rb.article})`) + `\n${rb.summary}\n`);

  const fromFile: Record<string, string> = opts.envFile ? readEnvFile(opts.envFile) : {};
  const env: Record<string, string> = { ...fromFile };
  // paths in the answers (VM_INVENTORY) are relative to the env file, else to the cwd
  const base = path.resolve(opts.envFile ?? path.join(process.cwd(), 'walkthrough.env'));
  const relTo = opts.envFile ? `relative to ${opts.envFile}` : 'relative to this directory';
  for (const s of inputsOf([rb])) if (s.secret) registerSecret(env[s.name]);
  const needsVms = rb.steps.some((s) => s.target === 'vm');
  const specs: InputSpec[] = [
    { ...COMMON_INPUTS[0], description: `path of the VM inventory YAML (${relTo})`, required: needsVms },
    ...rb.inputs,
  ];
  const asked = new Set<string>();

  /** What is wrong with `value` for `spec` (one line, without the name), or undefined. */
  const problemOf = (spec: InputSpec, value: string): string | undefined => {
    try {
      if (spec.name === 'VM_INVENTORY') {
        const v = value.trim();
        if (!v)
          return spec.required
            ? `enter the path of your VM inventory YAML (${relTo}), e.g. ` +
                `inventory.yaml; envs/inventory.example.yaml shows the format`
            : undefined;
        const r = loadInventory(path.resolve(path.dirname(base), expandHome(v)), { checkFiles: true });
        return r.problems.length
          ? bare(r.problems[0], 'VM_INVENTORY') + (r.problems.length > 1 ? ` (and ${r.problems.length - 1} more)` : '')
          : undefined;
      }
      const p = checkInputs([spec], { ...env, [spec.name]: value });
      return p.length ? bare(p[0], spec.name) : undefined;
    } catch (e) {
      return `cannot be checked: ${(e as Error).message}`;
    }
  };
  const ask = async (spec: InputSpec): Promise<void> => {
    asked.add(spec.name);
    const message = `${spec.name}: ${spec.description}`;
    const validate = (v: string) => {
      const p = problemOf(spec, v);
      return p === undefined ? true : spec.secret ? hideValue(p, v) : p;
    };
    const value = spec.secret
      ? await password({ message, mask: '*', validate })
      : await input({ message, default: spec.default ?? undefined, validate });
    if (spec.secret) registerSecret(value);
    env[spec.name] = spec.name === 'VM_INVENTORY' ? expandHome(value.trim()) : value;
  };

  for (const spec of specs) {
    const have = env[spec.name];
    if (!have && !spec.required) continue;
    const p = have ? problemOf(spec, have) : 'missing';
    if (!p) continue;
    if (have) console.log(chalk.yellow(redact(`${spec.name}: ${spec.secret ? hideValue(p, have) : p}`)));
    await ask(spec);
  }
  // everything together (checks that look at several values): a problem with a value the
  // walkthrough can ask for is said and asked again; any other is an input error
  let loaded: Loaded;
  for (;;) {
    try {
      loaded = loadFrom(env, base, [rb], { checkFiles: true });
      break;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const named = e.problems.map((p) => ({
        p,
        spec: specs.find((s) => p.startsWith(`${s.name}:`) || p.startsWith(`${s.name} `)),
      }));
      if (named.some((n) => !n.spec)) throw e;
      for (const n of named) console.log(chalk.yellow(redact(n.p)));
      for (const spec of new Set(named.map((n) => n.spec!))) await ask(spec);
    }
  }

  const progress = stepProgress(rb);
  const consented = new Set<string>();
  const text = textHooks();
  const hooks: Hooks = {
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
    async confirm(step, id, actions) {
      console.log(chalk.gray(`  mirrors article ${step.article}`));
      for (const n of step.notes ?? []) console.log(chalk.yellow(`  note: ${n}`));
      for (const block of showActions(actions, loaded.lab))
        console.log(
          redact(block)
            .split('\n')
            .map((l) => `  ${l}`)
            .join('\n'),
        );
      const d = await select({
        message: `Run ${id}? (${progress.label(id)})`,
        choices: [
          { name: 'yes', value: 'yes' as const },
          { name: 'skip this step', value: 'skip' as const },
          { name: 'quit', value: 'quit' as const },
        ],
      });
      if (d === 'skip') progress.skip(id);
      const consent = [...actions.values()].find((a) => a.consent && !(loaded.lab && a.notInLab))?.consent;
      if (d === 'yes' && consent) {
        if (await confirm({ message: `This step is destructive: ${consent}. Allow it?`, default: false }))
          consented.add(id);
      }
      return d;
    },
  };
  const report = await runRunbooks([rb], loaded, {
    ssh: opts.ssh(loaded.env, loaded.inventory.netns ?? loaded.env.LAB_NETNS),
    cluster: loaded.lab ? opts.cluster?.(loaded.env) : undefined,
    labRules: opts.labRules,
    consented,
    journal: opts.envFile ? new Journal(opts.envFile) : undefined,
    hooks,
  });
  console.log(`\n${summaryTable(report)}`);

  if (!report.failed && !report.stopped) return report;
  // a rebuild is suggested: name an env file that exists and holds these answers
  const saved =
    opts.envFile && !asked.size
      ? { file: opts.envFile, blank: [] as string[] }
      : await offerToSave(rb, env, base, [...asked], opts.envFile);
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
  return report;
}

/** The example env file shipped with meshbook for this runbook, when there is one. */
function exampleOf(rb: Runbook): string | undefined {
  const f = repoPath('envs', `${rb.name}.env.example`);
  return fs.existsSync(f) ? f : undefined;
}

function notSavedHint(rb: Runbook): string {
  const ex = exampleOf(rb);
  return (
    `the answers were not saved: run \`meshbook walkthrough ${rb.name}\` again, or write an env ` +
    `file${ex ? ` (${ex} shows every key)` : ''} for \`meshbook rebuild ${rb.name} --env <it>\``
  );
}

/** Failure lines when no env file holds the answers: no rerun command to name. */
function failuresWithoutFile(report: RunReport): string[] {
  const out: string[] = [];
  for (const r of report.records)
    for (const [h, res] of Object.entries(r.hosts)) {
      if (res.status === 'failed') out.push(redact(`${h}: ${r.id}: ${res.error ?? 'failed'}`));
    }
  const rb = report.runbooks?.[0];
  if (out.length && rb)
    out.push(
      `next: fix the cause above, then run \`meshbook walkthrough ${rb}\` again (steps already done report unchanged)`,
    );
  return out;
}

/** Offer to write the answers to an env file; returns where (and which secrets were left
 *  blank), or undefined when the person declined. */
async function offerToSave(
  rb: Runbook,
  env: Record<string, string>,
  base: string,
  asked: string[],
  envFile: string | undefined,
): Promise<{ file: string; blank: string[] } | undefined> {
  console.log(
    envFile
      ? `\n${envFile} does not hold the answers you gave here (${asked.join(', ')}).`
      : '\n`meshbook rebuild` reads its inputs from an env file.',
  );
  if (!(await confirm({ message: 'Save your answers to an env file?', default: true }))) {
    console.log(notSavedHint(rb));
    return undefined;
  }
  let file: string;
  for (;;) {
    const answer = await input({
      message: 'env file to write',
      default: `${rb.name}.env`,
      validate: (v) => envPathProblem(v) ?? true,
    });
    file = path.resolve(expandHome(answer.trim()));
    if (!fs.existsSync(file)) break;
    if (await confirm({ message: `${file} exists; overwrite it?`, default: false })) break;
  }
  const specs = inputsOf([rb]);
  const secrets = specs.filter((s) => s.secret && env[s.name]).map((s) => s.name);
  const withSecrets =
    secrets.length > 0 &&
    (await confirm({
      message:
        `Write the secret${secrets.length > 1 ? 's' : ''} ${secrets.join(', ')} into it too ` +
        `(the file is 0600)? Otherwise ${secrets.length > 1 ? 'they are' : 'it is'} left blank`,
      default: false,
    }));
  const shown = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file) || file;
  const c = envContent({ runbook: rb.name, specs, env, withSecrets, fromEnvFile: base, file: shown });
  writePrivateFile(file, c.text);
  console.log(
    `saved ${shown} (mode 0600)` +
      (c.blank.length
        ? `; ${c.blank.join(', ')} left blank: fill ${c.blank.length > 1 ? 'them' : 'it'} in before meshbook rebuild`
        : '') +
      (c.unwritable.length
        ? `; ${c.unwritable.join(', ')} could not be written as KEY=value: ` +
          `fill ${c.unwritable.length > 1 ? 'them' : 'it'} in by hand`
        : ''),
  );
  return { file: shown, blank: [...c.blank, ...c.unwritable] };
}

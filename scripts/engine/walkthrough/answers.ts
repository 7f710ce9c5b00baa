// The walkthrough's questions: ask for each input that is missing or wrong, checking every
// answer as it is typed (a bad one is said and asked again; a secret's value never shown).
import path from 'node:path';
import { input, password } from '@inquirer/prompts';
import { chalk } from 'zx';
import type { InputSpec, Runbook } from '../types.ts';
import { COMMON_INPUTS, InputError, checkInputs, inputsOf, loadFrom, readEnvFile, type Loaded } from '../inputs.ts';
import { expandHome, loadInventory } from '../inventory.ts';
import { registerSecret, redact } from '../redact.ts';

/** The answers so far: the env (from the env file, then typed), where relative paths start, what was asked. */
export interface Answers {
  env: Record<string, string>;
  /** paths in the answers (VM_INVENTORY) are relative to the env file, else to the cwd */
  base: string;
  relTo: string;
  specs: InputSpec[];
  asked: Set<string>;
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

/** Start from the env file (if any): its values, secrets registered for redaction, the inputs to ask. */
function startAnswers(rb: Runbook, envFile: string | undefined): Answers {
  const fromFile: Record<string, string> = envFile ? readEnvFile(envFile) : {};
  const env: Record<string, string> = { ...fromFile };
  const base = path.resolve(envFile ?? path.join(process.cwd(), 'walkthrough.env'));
  const relTo = envFile ? `relative to ${envFile}` : 'relative to this directory';
  for (const s of inputsOf([rb])) if (s.secret) registerSecret(env[s.name]);
  const needsVms = rb.steps.some((s) => s.target === 'vm');
  const specs: InputSpec[] = [
    { ...COMMON_INPUTS[0], description: `path of the VM inventory YAML (${relTo})`, required: needsVms },
    ...rb.inputs,
  ];
  return { env, base, relTo, specs, asked: new Set<string>() };
}

/** What is wrong with the VM inventory path `value` (one line, without the name), or undefined. */
function inventoryProblem(a: Answers, spec: InputSpec, value: string): string | undefined {
  const v = value.trim();
  if (!v)
    return spec.required
      ? `enter the path of your VM inventory YAML (${a.relTo}), e.g. ` +
          `inventory.yaml; envs/inventory.example.yaml shows the format`
      : undefined;
  const r = loadInventory(path.resolve(path.dirname(a.base), expandHome(v)), { checkFiles: true });
  return r.problems.length
    ? bare(r.problems[0], 'VM_INVENTORY') + (r.problems.length > 1 ? ` (and ${r.problems.length - 1} more)` : '')
    : undefined;
}

/** What is wrong with `value` for `spec` (one line, without the name), or undefined. */
function problemOf(a: Answers, spec: InputSpec, value: string): string | undefined {
  try {
    if (spec.name === 'VM_INVENTORY') return inventoryProblem(a, spec, value);
    const p = checkInputs([spec], { ...a.env, [spec.name]: value });
    return p.length ? bare(p[0], spec.name) : undefined;
  } catch (e) {
    return `cannot be checked: ${(e as Error).message}`;
  }
}

/** Ask for one input (masked when secret) until the answer passes its check. */
async function ask(a: Answers, spec: InputSpec): Promise<void> {
  a.asked.add(spec.name);
  const message = `${spec.name}: ${spec.description}`;
  const validate = (v: string) => {
    const p = problemOf(a, spec, v);
    return p === undefined ? true : spec.secret ? hideValue(p, v) : p;
  };
  const value = spec.secret
    ? await password({ message, mask: '*', validate })
    : await input({ message, default: spec.default ?? undefined, validate });
  if (spec.secret) registerSecret(value);
  a.env[spec.name] = spec.name === 'VM_INVENTORY' ? expandHome(value.trim()) : value;
}

/** Ask for every input that is missing (and required) or whose value has a problem (said first). */
async function askWhatIsMissing(a: Answers): Promise<void> {
  for (const spec of a.specs) {
    const have = a.env[spec.name];
    if (!have && !spec.required) continue;
    const p = have ? problemOf(a, spec, have) : 'missing';
    if (!p) continue;
    if (have) console.log(chalk.yellow(redact(`${spec.name}: ${spec.secret ? hideValue(p, have) : p}`)));
    await ask(a, spec);
  }
}

/** Everything together (checks that look at several values): a problem with a value the
 *  walkthrough can ask for is said and asked again; any other is an input error. */
async function loadChecked(a: Answers, rb: Runbook): Promise<Loaded> {
  for (;;) {
    try {
      return loadFrom(a.env, a.base, [rb], { checkFiles: true });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const named = e.problems.map((p) => ({
        p,
        spec: a.specs.find((s) => p.startsWith(`${s.name}:`) || p.startsWith(`${s.name} `)),
      }));
      if (named.some((n) => !n.spec)) throw e;
      for (const n of named) console.log(chalk.yellow(redact(n.p)));
      for (const spec of new Set(named.map((n) => n.spec!))) await ask(a, spec);
    }
  }
}

/** Gather the runbook's inputs (env file, then questions) until they load together. */
export async function gatherInputs(
  rb: Runbook,
  envFile: string | undefined,
): Promise<{ answers: Answers; loaded: Loaded }> {
  const answers = startAnswers(rb, envFile);
  await askWhatIsMissing(answers);
  return { answers, loaded: await loadChecked(answers, rb) };
}

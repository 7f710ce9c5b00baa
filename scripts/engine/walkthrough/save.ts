// After a walkthrough that failed or stopped: offer to save the answers as an env file, so
// that the `meshbook rebuild` it suggests names a file that exists.
import fs from 'node:fs';
import path from 'node:path';
import { confirm, input } from '@inquirer/prompts';
import type { Runbook } from '../types.ts';
import type { RunReport } from '../run-types.ts';
import { inputsOf } from '../inputs.ts';
import { expandHome } from '../inventory.ts';
import { redact } from '../redact.ts';
import { repoPath } from '../repo.ts';
import { envContent, envPathProblem, writePrivateFile } from './envfile.ts';

/** The example env file shipped with meshbook for this runbook, when there is one. */
function exampleOf(rb: Runbook): string | undefined {
  const f = repoPath('envs', `${rb.name}.env.example`);
  return fs.existsSync(f) ? f : undefined;
}

/** What to do next when the answers were not saved. */
export function notSavedHint(rb: Runbook): string {
  const ex = exampleOf(rb);
  return (
    `the answers were not saved: run \`meshbook walkthrough ${rb.name}\` again, or write an env ` +
    `file${ex ? ` (${ex} shows every key)` : ''} for \`meshbook rebuild ${rb.name} --env <it>\``
  );
}

/** Failure lines when no env file holds the answers: no rerun command to name. */
export function failuresWithoutFile(report: RunReport): string[] {
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

/** Ask for the env file's path until it is a new file or one the person lets us overwrite. */
async function chooseEnvFile(rb: Runbook): Promise<string> {
  for (;;) {
    const answer = await input({
      message: 'env file to write',
      default: `${rb.name}.env`,
      validate: (v) => envPathProblem(v) ?? true,
    });
    const file = path.resolve(expandHome(answer.trim()));
    if (!fs.existsSync(file)) return file;
    if (await confirm({ message: `${file} exists; overwrite it?`, default: false })) return file;
  }
}

/** Whether the person allows the secrets they typed into the file (otherwise left blank). */
async function allowSecrets(secrets: string[]): Promise<boolean> {
  return (
    secrets.length > 0 &&
    (await confirm({
      message:
        `Write the secret${secrets.length > 1 ? 's' : ''} ${secrets.join(', ')} into it too ` +
        `(the file is 0600)? Otherwise ${secrets.length > 1 ? 'they are' : 'it is'} left blank`,
      default: false,
    }))
  );
}

/** Offer to write the answers to an env file; returns where (and which secrets were left
 *  blank), or undefined when the person declined. */
export async function offerToSave(
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
  const file = await chooseEnvFile(rb);
  const specs = inputsOf([rb]);
  const withSecrets = await allowSecrets(specs.filter((s) => s.secret && env[s.name]).map((s) => s.name));
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

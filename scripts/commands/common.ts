// What the top-level commands share: option parsers, the runbooks loaded on demand, SSH settings.
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { InputError } from '../engine/inputs.ts';
import { matches } from '../engine/select.ts';
import { zx } from '../engine/lazy.ts';
import type { Runbook } from '../engine/types.ts';
import type { SshConfig } from '../engine/ssh.ts';

/** The lab's stand-ins and not-in-lab reasons, by step id (loaded only by commands that run or plan steps). */
export const labRules = async () => (await import('../../lab/stand-ins/index.ts')).LAB_RULES;

/** An option parser that accepts whole numbers of at least 1 (bad input exits 2, see cli.ts). */
export const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || +v < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1`);
  return Number(v);
};

/** chalk for stdout; plain text where chalk would print no colour anyway (stdout is not a
 *  terminal and FORCE_COLOR is not set), so that `meshbook list | …` does not load zx. */
export function stdoutColors(): { bold: (s: string) => string; gray: (s: string) => string } {
  if (!process.stdout.isTTY && process.env.FORCE_COLOR === undefined) return { bold: String, gray: String };
  return zx.chalk;
}

/** The runbooks (every step's module): loaded by the commands that use them, not by --help. */
export const runbooks = () => import('../runbooks.ts');

/** The runbooks named on the command line, in that order (an unknown name is an input error). */
export async function runbooksOf(names: string[]): Promise<Runbook[]> {
  const { findRunbook } = await runbooks();
  return names.map(findRunbook);
}

/** SSH settings from the env file and the --timeout / --connect-timeout options. */
export function sshConfig(
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

/** Fail with an input error when --from / --only names no step of the runbooks. */
export function checkStep(rbs: Runbook[], flag: string, sel?: string) {
  if (sel && !rbs.some((rb) => rb.steps.some((s) => matches(s, rb, sel)))) {
    throw new InputError([
      `${flag}: ${JSON.stringify(sel)} is not a step of ${rbs.map((r) => r.name).join(', ')}; see meshbook list`,
    ]);
  }
}

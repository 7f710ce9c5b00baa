#!/usr/bin/env -S npx tsx
// meshbook: runbooks for bringing VMs into an Istio / ASM mesh.
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
// Start-up: `meshbook --help` and `meshbook list` load commander, the runbooks' step
// definitions (whose packages load on first use, engine/lazy.ts) and small modules of
// node builtins; everything else is imported by the command that needs it when it runs
// (the planner, the runner and its report, the walkthrough's prompts, the lab, the
// verifier's HTTP client, the Ansible export). bench/startup.mjs measures it.
import { InputError } from './engine/inputs.ts';
import { inLabNamespace } from './verify/in-lab-namespace.ts';
import { redact } from './engine/redact.ts';
import { repoPath } from './engine/repo.ts';
import { zx } from './engine/lazy.ts';
import { registerList } from './commands/list.ts';
import { registerPlan } from './commands/plan.ts';
import { registerRebuild } from './commands/rebuild.ts';
import { registerWalkthrough } from './commands/walkthrough.ts';
import { registerDemo } from './commands/demo.ts';
import { registerCanary } from './commands/canary.ts';
import { registerRuns } from './commands/runs.ts';
import { registerReport } from './commands/report.ts';
import { registerLab } from '../lab/cli.ts';
import { registerVerify } from './verify/cli.ts';

const VERSION = (JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string }).version;

/** The whole command line: one module per command under scripts/commands/, then the lab's and verify's. */
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

  registerList(program);
  registerPlan(program);
  registerRebuild(program);
  registerWalkthrough(program);
  registerDemo(program);
  registerCanary(program);
  registerRuns(program);
  registerReport(program);
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
      // verify and canary say 2 for INCONCLUSIVE / held: their errors are 3
      process.exitCode = ['verify', 'canary'].includes(argv[2] ?? '') ? 3 : 2;
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

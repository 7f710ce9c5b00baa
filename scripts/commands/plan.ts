// `meshbook plan`: what a rebuild would do, per host, as text, sh, JSON or an Ansible export.
import path from 'node:path';
import { Option, type Command } from 'commander';
import { InputError, loadInputs } from '../engine/inputs.ts';
import { redact } from '../engine/redact.ts';
import type { Runbook } from '../engine/types.ts';
import { labRules, runbooksOf } from './common.ts';

type Loaded = ReturnType<typeof loadInputs>;

/** Write the Ansible playbook and inventory into `output` and say how to run them. */
async function writeAnsible(rbs: Runbook[], loaded: Loaded, output: string): Promise<void> {
  const { exportAnsible } = await import('../ansible/export.ts');
  const { files } = await exportAnsible(rbs, loaded, output, { labRules: await labRules() });
  for (const f of files) console.log(`wrote ${f}`);
  console.log(
    `run: ANSIBLE_CONFIG=${path.join(output, 'ansible.cfg')} ansible-playbook ` +
      `-i ${path.join(output, 'inventory.yml')} ${path.join(output, 'playbook.yml')}`,
  );
}

/** Print the plan in the text, sh or json format (secrets redacted). */
async function printPlan(rbs: Runbook[], loaded: Loaded, format: string): Promise<void> {
  const { plan, planSh, planText } = await import('../engine/plan.ts');
  const steps = plan(rbs, loaded, { labRules: await labRules() });
  const out =
    format === 'json'
      ? JSON.stringify(
          { env: loaded.envFile, lab: loaded.lab, hosts: loaded.inventory.vms.map((v) => v.name), steps },
          null,
          2,
        )
      : format === 'sh'
        ? planSh(steps, loaded)
        : planText(steps, loaded);
  console.log(redact(out));
}

/** Add `meshbook plan <runbook...> --env FILE [--format F] [-o DIR]`. */
export function registerPlan(program: Command): void {
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
      if (o.format === 'ansible') await writeAnsible(rbs, loaded, o.output);
      else await printPlan(rbs, loaded, o.format);
    });
}

// The guided walkthrough: pick a runbook, answer what is missing (secrets masked), see
// each step's purpose, article section and exact commands, then yes / skip / quit.
import path from 'node:path';
import { select, input, password, confirm } from '@inquirer/prompts';
import { chalk } from 'zx';
import type { ClusterAction, Runbook, VmAction } from './types.ts';
import { planned } from './plan.ts';
import { COMMON_INPUTS, InputError, checkInputs, loadFrom, readEnvFile } from './inputs.ts';
import { loadInventory } from './inventory.ts';
import { runRunbooks, type RunOptions, type RunReport } from './runner.ts';
import { textHooks, summaryTable, failuresSummary } from './report.ts';
import { registerSecret, redact } from './redact.ts';
import { Journal } from './journal.ts';

function showActions(actions: Map<string, VmAction | ClusterAction>, lab: boolean): string[] {
  const groups = new Map<string, string[]>();
  const text = (a: VmAction | ClusterAction) => {
    const p = planned(a, undefined, lab);
    if (p.skip) return `skipped: ${p.skip}`;
    const parts: string[] = [];
    if (lab && p.notInLab) parts.push(chalk.cyan(`not in lab: ${p.notInLab}`) + (p.labStandIn ? `\nlab stand-in: ${p.labStandIn}` : ''));
    if (p.consent) parts.push(chalk.red(`destructive: ${p.consent}`));
    for (const s of p.scripts) parts.push(`${chalk.bold(s.role)} (${s.kind}):\n${s.script.split('\n').map((l) => `  ${l}`).join('\n')}`);
    return parts.join('\n');
  };
  for (const [host, a] of actions) {
    const t = text(a);
    groups.set(t, [...(groups.get(t) ?? []), host]);
  }
  return [...groups].map(([t, hosts]) => `on ${hosts.join(', ')}:\n${t.split('\n').map((l) => `  ${l}`).join('\n')}`);
}

export async function walkthrough(runbooks: Runbook[], opts: { runbook?: string; envFile?: string; ssh: (env: Record<string, string>, netns?: string) => RunOptions['ssh']; cluster?: (env: Record<string, string>) => RunOptions['cluster'] }): Promise<RunReport | undefined> {
  const rb = opts.runbook
    ? runbooks.find((r) => r.name === opts.runbook)
    : await select({ message: 'Which runbook?', choices: runbooks.map((r) => ({ name: `${r.name}: ${r.title}`, value: r, description: r.summary })) });
  if (!rb) throw new InputError([`runbook: ${JSON.stringify(opts.runbook)} is not known; see meshbook list`]);
  console.log(chalk.bold(`\n${rb.title}`) + chalk.gray(` (mirrors ${rb.article})`) + `\n${rb.summary}\n`);

  const env: Record<string, string> = opts.envFile ? readEnvFile(opts.envFile) : {};
  const base = opts.envFile ?? path.join(process.cwd(), 'walkthrough.env');
  for (const s of rb.inputs) if (s.secret) registerSecret(env[s.name]);
  const specs = [{ ...COMMON_INPUTS[0], required: rb.steps.some((s) => s.target === 'vm') }, ...rb.inputs];
  for (const spec of specs) {
    const bad = () => checkInputs([spec], { ...env, [spec.name]: env[spec.name] ?? '' });
    if (!bad().length && (env[spec.name] || !spec.required)) continue;
    if (bad().length && env[spec.name]) console.log(chalk.yellow(redact(bad()[0])));
    const validate = (v: string) => {
      if (spec.name === 'VM_INVENTORY') {
        const r = loadInventory(path.resolve(path.dirname(base), v));
        return r.problems.length ? r.problems[0] : true;
      }
      const p = checkInputs([spec], { ...env, [spec.name]: v });
      return p.length ? p[0].replace(/^[^:]+: /, '') : true;
    };
    const message = `${spec.name}: ${spec.description}`;
    const value = spec.secret
      ? await password({ message, mask: '*', validate })
      : await input({ message, default: spec.default ?? undefined, validate });
    if (spec.secret) registerSecret(value);
    env[spec.name] = value;
  }
  const loaded = loadFrom(env, base, [rb], { checkFiles: true });
  const consented = new Set<string>();
  const report = await runRunbooks([rb], loaded, {
    ssh: opts.ssh(loaded.env, loaded.inventory.netns ?? loaded.env.LAB_NETNS),
    cluster: loaded.lab ? opts.cluster?.(loaded.env) : undefined,
    consented,
    journal: opts.envFile ? new Journal(opts.envFile) : undefined,
    hooks: {
      ...textHooks(),
      async confirm(step, id, actions) {
        console.log(chalk.gray(`  mirrors article ${step.article}`));
        for (const n of step.notes ?? []) console.log(chalk.yellow(`  note: ${n}`));
        for (const block of showActions(actions, loaded.lab)) console.log(block.split('\n').map((l) => `  ${l}`).join('\n'));
        const d = await select({
          message: `Run ${id}?`,
          choices: [{ name: 'yes', value: 'yes' as const }, { name: 'skip this step', value: 'skip' as const }, { name: 'quit', value: 'quit' as const }],
        });
        const consent = [...actions.values()].find((a) => a.consent && !(loaded.lab && a.notInLab))?.consent;
        if (d === 'yes' && consent) {
          if (await confirm({ message: `This step is destructive: ${consent}. Allow it?`, default: false })) consented.add(id);
        }
        return d;
      },
    },
  });
  console.log(`\n${summaryTable(report)}`);
  for (const f of failuresSummary(report)) console.log(chalk.red(f));
  if (report.stopped) console.log(`stopped at ${report.stopped}; resume with: meshbook rebuild ${rb.name} --env FILE --from ${report.stopped}`);
  return report;
}

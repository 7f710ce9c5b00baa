// `meshbook list`: the runbooks and their numbered steps (from scripts/listing.ts, fast to load).
import type { Command } from 'commander';
import { listing } from '../listing.ts';
import { stdoutColors } from './common.ts';

/** Add `meshbook list [--json]`. */
export function registerList(program: Command): void {
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
}

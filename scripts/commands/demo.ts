// `meshbook demo` (npm start): the main job on the local lab; the work is in scripts/demo.ts.
import type { Command } from 'commander';
import { positiveInt } from './common.ts';

/** Add `meshbook demo [--vms N]`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the local lab (npm start): build the lab, rebuild traffic-shift on it, verify the split',
    )
    .option('--vms <n>', 'lab VMs', positiveInt('--vms'), 3)
    .action(async (o) => {
      process.exitCode = await (await import('../demo.ts')).demo(o);
    });
}

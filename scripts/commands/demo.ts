// `meshbook demo [traffic-shift|bookinfo]` (npm start): the main job on the local lab; the work is in
// scripts/demo.ts.
import { Argument, type Command } from 'commander';
import { positiveInt } from './common.ts';

/** Add `meshbook demo [runbook] [--vms N]`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job on the local lab (npm start): build the lab, rebuild traffic-shift on it, verify the split; ' +
        "`demo bookinfo`: article 5's Bookinfo and its user-based routing on the lab",
    )
    .addArgument(
      new Argument('[runbook]', 'what to run').choices(['traffic-shift', 'bookinfo']).default('traffic-shift'),
    )
    .option('--vms <n>', 'lab VMs', positiveInt('--vms'), 3)
    .action(async (runbook: 'traffic-shift' | 'bookinfo', o) => {
      process.exitCode = await (await import('../demo.ts')).demo({ ...o, runbook });
    });
}

// Standalone entry for the lab commands (the main CLI, scripts/cli.ts, registers the same ones):
//   sudo npx tsx lab/main.ts lab up [--vms N] | lab down | lab status [--json] | lab kubectl ARGS
import { Command } from 'commander';
import { registerLab } from './cli.ts';

// `lab status | head` closes stdout early: that is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command('meshbook').description('meshbook lab commands (standalone entry)');
registerLab(program);
await program.parseAsync(process.argv);

// Standalone entry: `tsx scripts/verify/main.ts verify traffic ...` (the same command the
// meshbook CLI gets through registerVerify).

import { Command } from 'commander';
import { registerVerify } from './cli.ts';

const program = new Command('meshbook').description('meshbook traffic verifier (standalone entry)');
registerVerify(program);
await program.parseAsync(process.argv);

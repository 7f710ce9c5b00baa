// Standalone entry: `tsx scripts/verify/main.ts verify traffic ...` (the same command the
// meshbook CLI gets through registerVerify, and like meshbook it runs the verifier inside a
// lab's workstation namespace when --env names a lab: see in-lab-namespace.ts).

import { Command } from 'commander';
import { registerVerify } from './cli.ts';
import { inLabNamespace } from './in-lab-namespace.ts';
import { InputError } from '../engine/inputs.ts';

let code: number | undefined;
try {
  code = await inLabNamespace(process.argv);
} catch (e) {
  if (!(e instanceof InputError)) throw e;
  for (const p of e.problems) process.stderr.write(`${p}\n`);
  process.stderr.write('nothing was run\n');
  code = 2;
}
if (code !== undefined) process.exitCode = code;
else {
  const program = new Command('meshbook').description('meshbook traffic verifier (standalone entry)');
  registerVerify(program);
  await program.parseAsync(process.argv);
}

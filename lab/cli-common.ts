// What the `meshbook lab` subcommands share: the flags that find a lab, the lazily loaded
// lab machinery, and how an error becomes one line and an exit code.
import type { Command } from 'commander';
import type { Ora } from 'ora';
import { DEFAULT_DIR, DEFAULT_PREFIX, LabError, type LabOptions } from './config.ts';

// the lab's machinery loads when a lab command runs, not with every meshbook command
export const vms = () => import('./vms.ts');

export interface CommonFlags {
  prefix?: string;
  dir?: string;
  labEnv?: string;
  inventory?: string;
}

/** Add the flags that find a lab (--prefix, --dir, --lab-env, --inventory). */
export function common(cmd: Command): Command {
  cmd
    .option(
      '--prefix <name>',
      `namespace prefix: the lab's namespaces are <prefix>-* (env MESHBOOK_LAB_PREFIX, default ${DEFAULT_PREFIX})`,
    )
    .option('--dir <path>', `lab state dir (env MESHBOOK_LAB_DIR, default ${DEFAULT_DIR})`);
  // not --env-file: Node 20 takes that flag for itself even after the script name
  return cmd
    .option('--lab-env <path>', 'the lab env file (env MESHBOOK_LAB_ENV_FILE, default envs/lab.env)')
    .option('--inventory <path>', 'the lab inventory (env MESHBOOK_LAB_INVENTORY, default envs/lab-inventory.yaml)');
}

/** Those flags as the lab's options. */
export const labOpts = (f: CommonFlags): LabOptions => ({
  prefix: f.prefix,
  dir: f.dir,
  envFile: f.labEnv,
  inventoryFile: f.inventory,
});

/**
 * Turn errors into one line on stderr and the error's exit code (LabError: 1). Not through
 * commander's error(): a program with exitOverride would map it to its own code and add its
 * usage hint, and these are not usage errors.
 */
export async function guarded(_cmd: Command, spinner: Ora | null, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    spinner?.stop();
    const msg = e instanceof LabError ? e.message : e instanceof Error ? e.message : String(e);
    if (!(e instanceof LabError) && process.env.MESHBOOK_DEBUG) console.error(e);
    process.stderr.write(`meshbook lab: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = e instanceof LabError ? e.exitCode : 1;
  }
}

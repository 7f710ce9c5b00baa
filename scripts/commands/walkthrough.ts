// `meshbook walkthrough`: the interactive run (prompts load only when it runs).
import type { Command } from 'commander';
import { lockEnv } from '../engine/lock.ts';
import type { Loaded } from '../engine/inputs.ts';
import { repoPath } from '../engine/repo.ts';
import type { RunLedger } from '../ledger/ledger.ts';
import { labRules, positiveInt, runbooks, sshConfig } from './common.ts';

/** `meshbook ARGS` as a child on this terminal; its exit code. */
async function meshbookChild(args: string[]): Promise<number> {
  const { zx } = await import('../engine/lazy.ts');
  const r = await zx.$({ stdio: 'inherit', nothrow: true })`node ${repoPath('bin', 'meshbook.js')} ${args}`;
  return r.exitCode ?? 1;
}

/** Add `meshbook walkthrough [runbook] [--env FILE]`. */
export function registerWalkthrough(program: Command): void {
  program
    .command('walkthrough')
    .description('interactive: pick a runbook, answer what is missing, confirm each step (yes / skip / quit)')
    .argument('[runbook]', 'runbook name (asked when absent)')
    .option('--env <file>', 'env file with the inputs you already have')
    .option('--timeout <seconds>', 'limit for one remote command', positiveInt('--timeout'), 900)
    .option('--connect-timeout <seconds>', 'SSH connect timeout', positiveInt('--connect-timeout'), 10)
    .option('--runs-dir <dir>', 'where the run ledger goes (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)')
    .action(async (name: string | undefined, o) => {
      const lock = o.env ? lockEnv(o.env) : undefined;
      const [{ walkthrough }, { labClusterFor }, { RUNBOOKS }, { openRun }, { ledgerHooks }] = await Promise.all([
        import('../engine/walkthrough.ts'),
        import('../../lab/cluster/provider.ts'),
        runbooks(),
        import('../ledger/ledger.ts'),
        import('../ledger/hooks.ts'),
      ]);
      let ledger: RunLedger | undefined;
      const record = (loaded: Loaded) => {
        const warn = (l: string) => console.error(l);
        ledger = openRun(
          { command: 'walkthrough', envFile: o.env, inventory: loaded.inventory, runsDir: o.runsDir },
          warn,
        );
        return ledgerHooks(ledger);
      };
      const rep = await walkthrough(RUNBOOKS, {
        runbook: name,
        envFile: o.env,
        ssh: (env, netns) => sshConfig(env, netns, o),
        cluster: labClusterFor,
        labRules: await labRules(),
        record,
      });
      process.exitCode = rep?.failed ? 1 : 0;
      ledger?.end(process.exitCode, { failed: !!rep?.failed, stopped: rep?.stopped ?? null });
      // after traffic-shift: the canary as an optional last step (a run of its own, with its own record)
      if (!rep || rep.failed || rep.stopped || !o.env || !lock) return;
      if (rep.records[0]?.id.split('/')[0] !== 'traffic-shift') return;
      const { offerCanary } = await import('../canary/offer.ts');
      const code = await offerCanary({ envFile: o.env, release: lock.release, run: meshbookChild });
      if (code !== undefined) process.exitCode = code;
    });
}

// `meshbook runs [--json]`: the runs the ledger holds (scripts/ledger), newest last: when,
// the command, the result, how long, on how many hosts, which steps failed.
import type { Command } from 'commander';
import { stdoutColors } from './common.ts';

const RUNS_DIR_HELP = 'where run ledgers are (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)';

/** 83 s, 2.4 s, 12 min. */
export function duration(ms: number | null): string {
  if (ms === null) return '?';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 600_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** Add `meshbook runs [--json] [--runs-dir DIR]`. */
export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('list the recorded runs (rebuild, walkthrough, verify traffic, canary): when, result, failed steps')
    .option('--json', 'machine-readable output')
    .option('--runs-dir <dir>', RUNS_DIR_HELP)
    .action(async (o: { json?: boolean; runsDir?: string }) => {
      const [{ listRuns }, { runsDir }] = await Promise.all([
        import('../ledger/read.ts'),
        import('../ledger/ledger.ts'),
      ]);
      const dir = runsDir(o.runsDir);
      const runs = listRuns(dir);
      if (o.json) {
        console.log(JSON.stringify({ dir, runs }, null, 2));
        return;
      }
      if (!runs.length) {
        console.log(`no runs recorded in ${dir}`);
        return;
      }
      const c = stdoutColors();
      for (const r of runs) {
        const failed = r.failedSteps.length ? `  failed: ${r.failedSteps.join(', ')}` : '';
        const verdict = r.verdict ? `  verdict ${r.verdict}` : '';
        console.log(
          `${r.when.replace('T', ' ').slice(0, 19)}  ${c.bold(r.id)}  ${r.command}  ${r.result}` +
            `${r.code !== null ? ` (exit ${r.code})` : ''}  ${duration(r.durationMs)}${r.hosts ? `  ${r.hosts} hosts` : ''}${verdict}${failed}`,
        );
      }
      console.log(c.gray(`${runs.length} runs in ${dir}; meshbook report RUN|latest renders one as HTML`));
    });
}

// `meshbook report [RUN|latest] [-o FILE.html] [--open]` and `meshbook report --last N`: runs
// from the ledger as one self-contained HTML page (scripts/report). vega loads only here.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { InputError } from '../engine/inputs.ts';
import { positiveInt } from './common.ts';

interface ReportOptions {
  output?: string;
  open?: boolean;
  last?: number;
  runsDir?: string;
}

/** The ledger files asked for: one run (id, prefix, path or latest) or the last N. */
async function filesOf(ref: string | undefined, o: ReportOptions): Promise<string[]> {
  const [{ resolveRun, runFiles }, { runsDir }] = await Promise.all([
    import('../ledger/read.ts'),
    import('../ledger/ledger.ts'),
  ]);
  const dir = runsDir(o.runsDir);
  if (o.last) {
    if (ref) throw new InputError(['--last: give either a run or --last N, not both']);
    const files = runFiles(dir).slice(-o.last);
    if (!files.length) throw new InputError([`--last: no runs recorded in ${dir}; run a rebuild first`]);
    return files;
  }
  const file = resolveRun(dir, ref ?? 'latest');
  if (!file) throw new InputError([`${ref ?? 'latest'}: no such run in ${dir}; see meshbook runs`]);
  return [file];
}

/** Write the report of the runs asked for; returns the HTML file's path. */
export async function writeReport(ref: string | undefined, o: ReportOptions): Promise<string> {
  const files = await filesOf(ref, o);
  const [{ readEvents, summarize }, { runModel }, { renderReport }] = await Promise.all([
    import('../ledger/read.ts'),
    import('../report/model.ts'),
    import('../report/html.ts'),
  ]);
  const models = files.map((f) => {
    const { events } = readEvents(f);
    return runModel(summarize(f, events), events);
  });
  const html = await renderReport(models);
  const out = path.resolve(
    o.output ?? files[files.length - 1].replace(/\.jsonl$/, o.last ? `-last${o.last}.html` : '.html'),
  );
  fs.writeFileSync(out, html, { mode: 0o600 });
  fs.chmodSync(out, 0o600);
  return out;
}

/** Add `meshbook report`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render a recorded run (or the last N) as one self-contained HTML file that works offline')
    .argument('[run]', 'a run id (or its unique start), a ledger file, or latest (default)')
    .option('-o, --output <file>', 'the HTML file to write (default: beside the ledger, RUN.html)')
    .option('--last <n>', 'the last N runs in one page', positiveInt('--last'))
    .option('--open', 'open it in the desktop browser (xdg-open)')
    .option('--runs-dir <dir>', 'where run ledgers are (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)')
    .action(async (ref: string | undefined, o: ReportOptions) => {
      const out = await writeReport(ref, o);
      console.log(`wrote ${out} (${Math.round(fs.statSync(out).size / 1024)} KB)`);
      if (o.open) {
        const child = spawn('xdg-open', [out], { stdio: 'ignore', detached: true });
        child.on('error', () => console.error(`--open: xdg-open is not available; open ${out} in a browser`));
        child.unref();
      }
    });
}

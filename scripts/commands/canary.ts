// `meshbook canary --env FILE --to VERSION`: progressive delivery for hello2's VM versions
// (scripts/canary/). Exit codes as the verifier's: 0 promoted (or restored), 1 rolled back,
// 2 held, 3 error (bad input, cluster unreachable; nothing was changed), 130 interrupted.
import type { Command, CommanderError } from 'commander';
import { InputError, loadInputs } from '../engine/inputs.ts';
import { lockEnv } from '../engine/lock.ts';
import { redact } from '../engine/redact.ts';
import { zx } from '../engine/lazy.ts';
import type { ClusterProvider } from '../engine/types.ts';
import { VERSIONS, type Version } from '../traffic-shift/common.ts';
import { SIGINT_SAME_PRESS_MS } from '../verify/cli.ts';
import { watchParentIfAsked } from '../verify/parent-watch.ts';

interface CanaryFlags {
  env: string;
  to?: string;
  steps: string;
  bake: string;
  maxErrors: string;
  maxP99?: string;
  maxP99Ratio?: string;
  p99Floor: string;
  confirmTimeout: string;
  minRequests: string;
  resume?: boolean;
  rollback?: boolean;
  dryRun?: boolean;
  json?: boolean;
  runsDir?: string;
}

export const EXIT_ERROR = 3;

const HELP_AFTER = `
Each step applies hello2-vs with the step's weights (VERSION gets the step's share; the other
versions keep their proportions, rounded to whole percents by the largest remainder), waits
until the data plane has them (hello1's sidecar, which makes the split: istioctl proxy-config
routes on a real mesh, the loaded NGINX configuration in the lab), then gates:
  errors    non-2xx answers + transport errors <= --max-errors % of the counted requests
  p99       VERSION's p99 <= --max-p99 ms, or <= --max-p99-ratio x the other versions' p99
            in the same sample (not at 100 %: no baseline; differences under --p99-floor ms
            never fail)
  verifier  meshbook verify traffic at -n auto for the step's weights (at least --min-requests): PASS (an INCONCLUSIVE
            is sampled once more at 2 N; INCONCLUSIVE again holds the step)
A FAIL rolls back to the last step that passed (if that no longer verifies: to the starting
weights), confirms and verifies it. The weights start from what hello2-vs has (not WEIGHTS).

Exit codes: 0 promoted (--rollback: restored), 1 rolled back, 2 held (--resume or --rollback),
3 error (nothing changed), 130 interrupted (the weights stay as applied; --resume continues).

Examples:
  meshbook canary --env envs/lab.env --to v3 --steps 20,50,100
  meshbook canary --env envs/traffic-shift.env --to v3 --bake 60 --max-p99 250 --json
  meshbook canary --env envs/lab.env --resume
  meshbook canary --env envs/lab.env --rollback
`;

function num(flag: string, v: string, min: number, max: number): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < min || x > max)
    throw new InputError([`${flag}: ${JSON.stringify(v)} is not a number from ${min} to ${max}`]);
  return x;
}

/** The request from the flags (InputError on anything wrong: nothing is run). */
async function requestOf(f: CanaryFlags) {
  const { parseSteps } = await import('../canary/weights.ts');
  if (f.resume && f.rollback) throw new InputError(['--resume and --rollback: give one of them']);
  const mode = f.resume ? 'resume' : f.rollback ? 'rollback' : 'start';
  if (mode === 'start' && !f.to) throw new InputError(['--to: which version to promote, e.g. --to v3']);
  if (f.to && !(VERSIONS as string[]).includes(f.to))
    throw new InputError([`--to: ${JSON.stringify(f.to)} is not one of ${VERSIONS.join(', ')}`]);
  if (f.maxP99 !== undefined && f.maxP99Ratio !== undefined)
    throw new InputError(['--max-p99 and --max-p99-ratio: give one of them']);
  const steps = parseSteps(f.steps);
  if ('problem' in steps) throw new InputError([steps.problem]);
  const limits = {
    maxErrorsPct: num('--max-errors', f.maxErrors, 0, 100),
    ...(f.maxP99 !== undefined ? { maxP99Ms: num('--max-p99', f.maxP99, 1, 600_000) } : {}),
    maxP99Ratio: num('--max-p99-ratio', f.maxP99Ratio ?? '2', 1, 1000),
    p99FloorMs: num('--p99-floor', f.p99Floor, 0, 600_000),
    bakeS: num('--bake', f.bake, 0, 86_400),
    minRequests: num('--min-requests', f.minRequests, 1, 10_000_000),
  };
  const { default: rb } = await import('../traffic-shift/index.ts');
  const loaded = loadInputs(f.env, [rb], { checkFiles: true });
  return {
    req: {
      mode,
      envFile: loaded.envFile,
      env: loaded.env,
      to: f.to as Version | undefined,
      steps: steps.steps,
      limits,
    },
    loaded,
    confirmDeadlineMs: num('--confirm-timeout', f.confirmTimeout, 1, 3600) * 1000,
  } as const;
}

/** The cluster and data plane: the lab's in the lab, kubectl and istioctl elsewhere. */
async function providers(loaded: { lab: boolean; env: Record<string, string> }) {
  const { istioDataPlane } = await import('../canary/data-plane.ts');
  const { runLocal } = await import('../engine/local.ts');
  const { ns } = await import('../traffic-shift/common.ts');
  if (loaded.lab) {
    const { labClusterFor } = await import('../../lab/cluster/provider.ts');
    const cluster = labClusterFor(loaded.env);
    if (!cluster)
      throw new InputError(['LAB_CLUSTER: this lab has no cluster (lab up --no-cluster): nothing to shift']);
    const { labDataPlane } = await import('../../lab/cluster/data-plane.ts');
    return { cluster, dataPlane: labDataPlane(loaded.env, ns(loaded.env)) };
  }
  const cluster: ClusterProvider = { name: 'local', run: runLocal };
  return { cluster, dataPlane: istioDataPlane(cluster, loaded.env) };
}

/** Ctrl-C (one press, even when a parent forwards it too) stops after what runs; twice quits. */
function interruptible(): AbortController {
  const ac = new AbortController();
  let last = 0;
  const stop = (why: string) => {
    const now = Date.now();
    if (ac.signal.aborted) {
      if (now - last < SIGINT_SAME_PRESS_MS) return;
      process.exit(130);
    }
    last = now;
    process.stderr.write(`\n${why}: finishing what runs, the weights stay as applied (Ctrl-C again to quit now)\n`);
    ac.abort();
  };
  process.on('SIGINT', () => stop('interrupted'));
  process.on('SIGTERM', () => stop('terminated'));
  watchParentIfAsked(false, () => stop('the process that started this one is gone'));
  return ac;
}

async function canary(f: CanaryFlags): Promise<number> {
  const { req, loaded, confirmDeadlineMs } = await requestOf(f);
  const { cluster, dataPlane } = await providers(loaded);
  if (f.dryRun) {
    const { planText } = await import('../canary/plan.ts');
    console.log(redact(await planText(req, cluster, dataPlane)));
    return 0;
  }
  lockEnv(f.env);
  const { runCanary } = await import('../canary/run.ts');
  const { renderJson, renderText } = await import('../canary/render.ts');
  const { canaryRecord } = await import('../canary/record.ts');
  const { ledger, onEntry } = await canaryRecord({ envFile: f.env, inventory: loaded.inventory, runsDir: f.runsDir });
  const ac = interruptible();
  const say = (line: string) => console.error(redact(line));
  const report = await runCanary(req, { cluster, dataPlane, signal: ac.signal, say, confirmDeadlineMs, onEntry });
  ledger.end(report.exitCode, { result: report.result, message: report.message });
  console.log(f.json ? renderJson(report, dataPlane.what) : renderText(report));
  const { weightsNote } = await import('../canary/plan.ts');
  const note = weightsNote(loaded.env, report.state.applied, f.env);
  if (note && !f.json) console.error(zx.chalk.yellow(note));
  return report.exitCode;
}

function onCommanderExit(err: CommanderError): never {
  const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code);
  process.exit(ok ? 0 : EXIT_ERROR);
}

/** Add `meshbook canary`. */
export function registerCanary(program: Command): void {
  program
    .command('canary')
    .description(
      "progressive delivery for hello2's VM versions: shift traffic to --to in steps, gate each on the " +
        'verifier, roll back by itself',
    )
    .requiredOption('--env <file>', 'the traffic-shift env file (the lab: envs/lab.env)')
    .option('--to <version>', `the version to promote (${VERSIONS.join(', ')})`)
    .option('--steps <list>', "the version's share at each step, in percent, ending at 100", '10,25,50,100')
    .option('--bake <seconds>', 'keep sampling this long at each step before the gate decides', '0')
    .option('--max-errors <pct>', 'non-2xx answers + transport errors allowed, percent of requests', '1')
    .option('--max-p99 <ms>', "the version's p99 latency limit in ms (instead of --max-p99-ratio)")
    .option('--max-p99-ratio <r>', "the version's p99 limit as a multiple of the other versions' p99 (default 2)")
    .option('--p99-floor <ms>', 'p99 differences under this never fail the ratio gate', '50')
    .option('--min-requests <n>', 'at least this many requests per step (more when -n auto needs more)', '500')
    .option('--confirm-timeout <seconds>', 'how long the data plane gets to show applied weights', '30')
    .option('--resume', 'continue a held or interrupted canary from its journal')
    .option('--rollback', 'restore the weights the last canary started from (confirmed and verified)')
    .option('--dry-run', 'read the cluster and print the steps, weights and commands; change nothing')
    .option('--json', 'print one JSON object (live lines still go to stderr)')
    .option('--runs-dir <dir>', 'where the run ledger goes (default: $MESHBOOK_RUNS_DIR, else .meshbook/runs)')
    .addHelpText('after', HELP_AFTER)
    .exitOverride(onCommanderExit)
    .action(async (f: CanaryFlags) => {
      try {
        process.exitCode = await canary(f);
      } catch (e) {
        // exit 3 for every error (2 would read as "held"): bad input and refusals changed nothing;
        // anything else says what it was, and the journal says where the weights are
        const { CanaryError } = await import('../canary/virtual-service.ts');
        const known = e instanceof InputError || e instanceof CanaryError;
        const lines = e instanceof InputError ? e.problems : [(e as Error).message];
        for (const l of lines) console.error(zx.chalk.red(redact(known ? l : `canary: ${l}`)));
        console.error(known ? 'nothing was changed' : 'see `meshbook canary --env FILE --dry-run` for where it stands');
        process.exitCode = EXIT_ERROR;
      }
    });
}

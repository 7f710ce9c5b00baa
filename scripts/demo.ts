// `npm start`: the main job on the embedded default (`meshbook demo bookinfo`: article 5's
// Bookinfo instead, see BOOKINFO_ARGS). Builds the local lab (idempotent: VMs
// and the cluster), rebuilds article 4's traffic shift on it (pods and VMs calling each
// other through the NGINX data plane, hello2 split 30/60/10 over the three VM versions),
// then proves the split with the verifier's histogram and verdict.
//
// The verdict step runs with --extend-once: one run at -n auto is INCONCLUSIVE for a correct
// split about 1 time in 100 by design, and a healthy lab must not make `npm start` fail by
// chance; an INCONCLUSIVE sends one fresh sample of 2 N whose verdict is final (a correct
// 30/60/10 split then fails to PASS at most ~5e-6 of the time: scripts/verify/README.md).
//
// Signals: a Ctrl-C on the terminal reaches the running step itself (same process group), so
// the demo only waits for it; SIGTERM and SIGHUP sent to the demo are passed on to the step.
// The verify step gets MESHBOOK_PARENT_WATCH=<the demo's pid>: if the demo is killed (-9
// included), it and its verifier stop (scripts/verify/parent-watch.ts).
import os from 'node:os';
import { $ } from 'zx';
import { chalk } from 'zx';
import { PARENT_WATCH_ENV } from './verify/parent-watch.ts';
import { repoPath } from './engine/repo.ts';

const BIN = repoPath('bin', 'meshbook.js');

/** The demo's verify step: the split through the lab's ingress, extended once if INCONCLUSIVE. */
// the lab env `lab up` writes: envs/lab.env, or MESHBOOK_LAB_ENV_FILE as `lab up` reads it (a test's own lab)
const LAB_ENV = process.env.MESHBOOK_LAB_ENV_FILE || 'envs/lab.env';
export const VERIFY_ARGS = ['verify', 'traffic', '--env', LAB_ENV, '--extend-once'];
/** `meshbook demo bookinfo`: article 5 on the lab; its steps 16 and 17 run the verifier. */
export const BOOKINFO_ARGS = ['rebuild', 'bookinfo', '--env', LAB_ENV, '--yes'];

export async function demo(o: { vms: number; runbook?: 'traffic-shift' | 'bookinfo' }): Promise<number> {
  if (os.platform() !== 'linux' || process.getuid?.() !== 0) {
    console.error('meshbook demo builds a lab of Linux network namespaces and needs root on Linux.');
    console.error(
      'Without it, see what a rebuild would do: node bin/meshbook.js ' +
        'plan traffic-shift --env envs/traffic-shift.env.example',
    );
    return 2;
  }
  // the step's own process only (zx's kill() would signal its whole tree: the verifier twice,
  // every ssh of a rebuild): each meshbook passes it on to its children itself
  let running: { child?: { kill(sig: NodeJS.Signals): boolean } } | null = null;
  const forward = (sig: NodeJS.Signals) => () => void running?.child?.kill(sig);
  const onSigint = () => undefined;
  const onSigterm = forward('SIGTERM');
  const onSighup = forward('SIGHUP');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
  const step = async (title: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    console.log(chalk.bold(`\n=== ${title}: meshbook ${args.join(' ')}`));
    const p = $({ stdio: 'inherit', nothrow: true, env })`node ${BIN} ${args}`;
    running = p;
    try {
      const r = await p;
      return r.exitCode ?? (r.signal ? 128 + (os.constants.signals[r.signal as NodeJS.Signals] ?? 1) : 1);
    } finally {
      running = null;
    }
  };
  try {
    const up = await step('the local lab (VMs and cluster)', ['lab', 'up', '--vms', String(o.vms)]);
    if (up !== 0) return up;
    // article 5: the rebuild's own last steps (16, 17) are the verifier's verdicts through the
    // lab's ingress (jason 100 % reviews v2, everyone else 100 % v1)
    if (o.runbook === 'bookinfo')
      return await step("article 5's Bookinfo and its user-based routing on the lab", BOOKINFO_ARGS, {
        ...process.env,
        [PARENT_WATCH_ENV]: String(process.pid),
      });
    const rb = await step("article 4's traffic shift on the lab", [
      'rebuild',
      'traffic-shift',
      '--env',
      LAB_ENV,
      '--yes',
    ]);
    if (rb !== 0) return rb;
    return await step('the split, proven', VERIFY_ARGS, { ...process.env, [PARENT_WATCH_ENV]: String(process.pid) });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('SIGHUP', onSighup);
  }
}

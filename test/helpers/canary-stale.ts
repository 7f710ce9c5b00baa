// For test/canary-lab.test.ts, run inside the lab's workstation namespace (ip netns exec):
// a canary whose cluster provider says hello2-vs was applied but never applies it, so the data
// plane keeps the old weights. Prints the canary's report as JSON.
import { loadInputs } from '../../scripts/engine/inputs.ts';
import rb from '../../scripts/traffic-shift/index.ts';
import { runCanary } from '../../scripts/canary/run.ts';
import { labClusterFor } from '../../lab/cluster/provider.ts';
import { labDataPlane } from '../../lab/cluster/data-plane.ts';
import type { ClusterProvider } from '../../scripts/engine/types.ts';

const envFile = process.argv[2];
const loaded = loadInputs(envFile, [rb], { checkFiles: true });
const real = labClusterFor(loaded.env)!;
const applies: string[] = [];
const cluster: ClusterProvider = {
  name: 'a provider that accepts applies and drops them',
  async run(cmd, timeoutMs) {
    if (cmd.argv.includes('apply')) {
      applies.push(cmd.stdin ?? '');
      return { code: 0, stdout: 'virtualservice.networking.istio.io/hello2-vs configured\n', stderr: '' };
    }
    return real.run(cmd, timeoutMs);
  },
};
const report = await runCanary(
  {
    mode: 'start',
    envFile: loaded.envFile,
    env: loaded.env,
    to: 'v3',
    steps: [20, 100],
    limits: { maxErrorsPct: 1, maxP99Ratio: 2, p99FloorMs: 50, bakeS: 0, minRequests: 500 },
  },
  {
    cluster,
    dataPlane: labDataPlane(loaded.env, loaded.env.HELLO_NS || 'http-reciprocal-hello'),
    signal: new AbortController().signal,
    say: (l) => process.stderr.write(`${l}\n`),
    confirmDeadlineMs: 1500,
  },
);
console.log(JSON.stringify({ ...report, applies: applies.length }));

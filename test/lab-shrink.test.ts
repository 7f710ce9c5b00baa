// A shrunk lab keeps no dead endpoints: `lab up --vms 5`, rebuild traffic-shift (five
// WorkloadEntries, hello2 on five VMs as v1 v2 v3 v1 v2), then `lab up --vms 3` and rebuild
// again, as `npm start` does after a bigger run. `up` must take the WorkloadEntries of vm4
// and vm5 out of the lab cluster (their addresses answer no more), so the gateway's and the
// sidecars' upstreams hold the three live VMs and the split verifies at full speed. Without
// that, every request that lands on a dead upstream waits for a connect timeout: the
// verifier crawls at a few requests per second (it is bounded here by --timeout/--max-time).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { labClusterProvider } from '../lab/cluster/provider.ts';
import { labDown } from '../lab/vms.ts';

const enabled = process.platform === 'linux' && process.getuid?.() === 0 && fs.existsSync('/usr/sbin/nginx');
const serial = enabled ? test.serial : test.serial.skip;

const NS = 'http-reciprocal-hello';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-shrink-'));
const prefix = `mbs${process.pid % 100000}`;
const dir = path.join(tmp, 'lab');
const envFile = path.join(tmp, 'lab.env');
const inventory = path.join(tmp, 'lab-inventory.yaml');
const labArgs = ['--prefix', prefix, '--dir', dir, '--lab-env', envFile, '--inventory', inventory];
const run = $({
  nothrow: true,
  quiet: true,
  env: { ...process.env, MESHBOOK_STATE_DIR: path.join(tmp, 'state'), FORCE_COLOR: '0' },
});
const meshbook = (...args: string[]) => run`node bin/meshbook.js ${args}`;
const provider = labClusterProvider({ prefix, dir });
const kubectl = async (...args: string[]) => provider.run({ kind: 'probe', argv: ['kubectl', ...args] }, 30_000);

type Report = {
  steps: Array<{ id: string; hosts: Record<string, { status: string; lines: string[]; error?: string }> }>;
  failures?: unknown;
};
async function rebuild(...extra: string[]) {
  const t0 = performance.now();
  const r = await meshbook('rebuild', 'traffic-shift', '--env', envFile, '--yes', '--json', ...extra);
  let rep: Report | undefined;
  try {
    rep = JSON.parse(r.stdout);
  } catch {
    /* no report */
  }
  return { code: r.exitCode, rep, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

/** WorkloadEntry addresses the lab cluster holds. */
async function workloadEntries(): Promise<string[]> {
  const r = await kubectl('-n', NS, 'get', 'workloadentries', '-o', 'jsonpath={.items[*].spec.address}');
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
}

/** hello2's upstream servers (VM addresses on port 8001) in the hello1 pod's sidecar, the
 *  proxy that sends the gateway's requests on to hello2 (its live nginx.conf, in the pod). */
function hello1SidecarHello2Servers(): string[] {
  const st = JSON.parse(fs.readFileSync(path.join(dir, 'cluster', 'cluster.json'), 'utf8'));
  const pod = st.pods.find((p: { deployment: string }) => p.deployment.startsWith('hello1'));
  const conf = fs.readFileSync(`/proc/${pod.pid1.pid}/root/run/meshlab/sidecar/nginx.conf`, 'utf8');
  return [...new Set([...conf.matchAll(/^\s*server (192\.168\.0\.\d+:8001) /gm)].map((m) => m[1]))].sort();
}

test.after.always(async () => {
  // in-process, not through the CLI: the lab goes even when the CLI cannot start
  if (enabled) await labDown({ prefix, dir, envFile, inventoryFile: inventory }).catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

serial(
  'lab up --vms 5, rebuild, lab up --vms 3: the cluster forgets vm4 and vm5, the split PASSes at full speed',
  async (t) => {
    t.timeout(360_000); // two rebuilds: seconds on an idle machine, minutes on a loaded one
    const up5 = await meshbook('lab', 'up', '--vms', '5', ...labArgs);
    t.is(up5.exitCode, 0, up5.stderr);
    t.regex(fs.readFileSync(inventory, 'utf8'), /name: vm5[\s\S]*version: v2/);
    const first = await rebuild();
    t.is(first.code, 0, JSON.stringify(first.rep?.failures ?? first.stderr));
    const five = ['192.168.0.10', '192.168.0.11', '192.168.0.250', '192.168.0.251', '192.168.0.252'];
    t.deepEqual(await workloadEntries(), five);
    t.deepEqual(
      hello1SidecarHello2Servers(),
      five.map((a) => `${a}:8001`),
    );

    const up3 = await meshbook('lab', 'up', '--vms', '3', ...labArgs);
    t.is(up3.exitCode, 0, up3.stderr);
    t.regex(up3.stdout, /removed 2/);
    const three = ['192.168.0.250', '192.168.0.251', '192.168.0.252'];
    // straight after the shrink, before any runbook runs: nothing of vm4 and vm5 is left
    t.deepEqual(await workloadEntries(), three);
    t.deepEqual(
      hello1SidecarHello2Servers(),
      three.map((a) => `${a}:8001`),
    );
    t.regex(
      up3.stdout,
      /cluster: removed workloadentry http-reciprocal-hello\/mesh-expansion-hello2-svc-4 \(192\.168\.0\.10: vm4 is gone\)/,
    );

    // the rebuild on the shrunk lab, with a bound so that a lab with dead upstreams fails in
    // a minute instead of crawling for the verifier's 300 s
    const second = await rebuild('--timeout', '60');
    t.is(second.code, 0, JSON.stringify(second.rep?.failures ?? second.stderr));
    t.deepEqual(await workloadEntries(), three);
    t.deepEqual(
      hello1SidecarHello2Servers(),
      three.map((a) => `${a}:8001`),
    );
    const verdict = second.rep!.steps.find((s) => s.id === 'traffic-shift/14-verify-traffic')!.hosts.cluster;
    t.is(verdict.status, 'ok');
    t.regex(verdict.lines[0], /^verdict PASS/);

    // the speed of the split after the shrink (the verdict is step 14's above): a dead upstream
    // costs a connect timeout per request that lands on it
    const v = await meshbook('verify', 'traffic', '--env', envFile, '--json', '-n', '600', '--max-time', '30');
    const out = JSON.parse(v.stdout);
    t.is(out.totals.transportErrors + out.totals.non2xx, 0, v.stdout.slice(-1000));
    t.is(out.totals.counted, 600);
    t.true(out.run.reqPerSec > 50, `verify after the shrink: ${out.run.reqPerSec} req/s`);
    t.log(
      `first rebuild (5 VMs) ${first.seconds.toFixed(1)} s; rebuild after the ` +
        `shrink ${second.seconds.toFixed(1)} s; ${verdict.lines[0]}; 600 requests at ${out.run.reqPerSec} req/s`,
    );
  },
);

// `npm start`: the main job on the embedded default. Builds the local lab (idempotent: VMs
// and the cluster), rebuilds article 4's traffic shift on it (pods and VMs calling each
// other through the NGINX data plane, hello2 split 30/60/10 over the three VM versions),
// then proves the split with the verifier's histogram and verdict.
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { chalk } from 'zx';

const BIN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../bin/meshbook.js');

export async function demo(o: { vms: number }): Promise<number> {
  if (os.platform() !== 'linux' || process.getuid?.() !== 0) {
    console.error('meshbook demo builds a lab of Linux network namespaces and needs root on Linux.');
    console.error('Without it, see what a rebuild would do: node bin/meshbook.js plan traffic-shift --env envs/traffic-shift.env.example');
    return 2;
  }
  const step = async (title: string, args: string[]) => {
    console.log(chalk.bold(`\n=== ${title}: meshbook ${args.join(' ')}`));
    const r = await $({ stdio: 'inherit', nothrow: true })`node ${BIN} ${args}`;
    return r.exitCode ?? 1;
  };
  const up = await step('the local lab (VMs and cluster)', ['lab', 'up', '--vms', String(o.vms)]);
  if (up !== 0) return up;
  const rb = await step("article 4's traffic shift on the lab", ['rebuild', 'traffic-shift', '--env', 'envs/lab.env', '--yes']);
  if (rb !== 0) return rb;
  return step('the split, proven', ['verify', 'traffic', '--env', 'envs/lab.env']);
}

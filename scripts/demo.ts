// `npm start`: the main job on the embedded default. Builds the lab VMs (idempotent),
// then rebuilds asm-vm-proxy on them. (The lab cluster and the traffic-shift job are
// the next issue; until then this is the main job the lab can run.)
import os from 'node:os';
import { $ } from 'zx';

export async function demo(o: { vms: number }): Promise<number> {
  if (os.platform() !== 'linux' || process.getuid?.() !== 0) {
    console.error('meshbook demo builds a lab of Linux network namespaces and needs root on Linux.');
    console.error('Without it, see what a rebuild would do: npx tsx scripts/cli.ts plan asm-vm-proxy --env envs/asm-vm-proxy.env.example');
    return 2;
  }
  const self = ['npx', 'tsx', new URL('./cli.ts', import.meta.url).pathname];
  const up = await $({ stdio: 'inherit', nothrow: true })`${self} lab up --vms ${o.vms}`;
  if (up.exitCode !== 0) return up.exitCode ?? 1;
  const rb = await $({ stdio: 'inherit', nothrow: true })`${self} rebuild asm-vm-proxy --env envs/lab.env --yes`;
  return rb.exitCode ?? 1;
}

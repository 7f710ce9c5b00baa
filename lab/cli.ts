// meshbook lab: `lab up | down | status | kubectl | fault` for the meshbook CLI (registerLab) - see lab/README.md.
import { Command, InvalidArgumentError } from 'commander';
import type { Ora } from 'ora';
import { DEFAULT_SUBNET, MAX_VMS } from './config.ts';
import { repoPath } from './outputs.ts';
import type { LabStatus } from './status.ts';
import { common, guarded, labOpts, vms, type CommonFlags } from './cli-common.ts';
import { registerLabFault } from './fault-command.ts';
import { registerLabKubectl } from './kubectl-command.ts';

export { labKubectl, splitLabKubectlArgs } from './kubectl-command.ts';

function intArg(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

const listArg = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function formatStatus(s: LabStatus): string {
  if (!s.exists) {
    const stray = s.strayNamespaces.length
      ? `; leftover namespaces ${s.strayNamespaces.join(' ')}: run meshbook lab down`
      : '';
    return `no lab with prefix ${s.prefix} (state dir ${s.stateDir})${stray}\n`;
  }
  const lines = [
    `lab ${s.prefix}: ${s.healthy ? 'up' : 'DEGRADED (run meshbook lab up)'}; ` +
      `generation ${s.generation ?? 'none (run meshbook lab up)'}; subnet ${s.subnet}; ` +
      `workstation ${s.workstation.netns} ${s.workstation.address}${s.workstation.present ? '' : ' (missing)'}; ` +
      `switch ${s.switch.netns}${s.switch.present ? '' : ' (missing)'}`,
  ];
  const rows = [
    ['NAME', 'NETNS', 'ADDRESS', 'DISTRO', 'LABEL', 'SSHD'],
    ...s.vms.map((v) => [
      v.name,
      v.netns,
      v.address,
      v.distro,
      `version=${v.version}`,
      v.sshd + (v.pid ? ` (pid ${v.pid})` : ''),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) lines.push(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
  if (s.cluster) {
    const c = s.cluster;
    lines.push(
      `cluster: node ${c.node.netns} ${c.node.address}${c.node.present ? '' : ' (missing)'}; ` +
        `ingress gateway ${c.gateway}; ` +
        (`Service CIDR ${c.serviceCidr}, pod CIDR ${c.podCidr}; ${c.objects} ` +
          `objects; VM sidecars: ${c.vmSidecars.join(' ') || 'none'}`),
    );
    for (const p of c.pods)
      lines.push(
        `  pod ${p.namespace}/${p.name}  ${p.ip}  ${p.ready ? 'ready' : 'NOT READY'}${p.sidecar ? ' +sidecar' : ''}`,
      );
  }
  lines.push(`env ${repoPath(s.envFile)}  inventory ${repoPath(s.inventoryFile)}  state ${s.stateDir}`);
  if (s.strayNamespaces.length)
    lines.push(`leftover namespaces (lab down removes them): ${s.strayNamespaces.join(' ')}`);
  return lines.join('\n') + '\n';
}

type UpFlags = CommonFlags & {
  vms?: number;
  vmIps?: string[];
  subnet?: string;
  profiles?: string[];
  cluster?: boolean;
  serviceCidr?: string;
  podCidr?: string;
  dockerVms?: number;
};
type UpResult = Awaited<ReturnType<Awaited<ReturnType<typeof vms>>['labUp']>>;

/** What `lab up` did: the one-line summary, the cluster's notes, the status table and how to ssh in. */
async function sayLabUp(r: UpResult, spinner: Ora | null, flags: UpFlags): Promise<void> {
  const what =
    r.created.length || r.removed.length
      ? `started ${r.created.length}${r.kept.length ? `, kept ${r.kept.length}` : ''}` +
        `${r.removed.length ? `, removed ${r.removed.length}` : ''}`
      : 'nothing to change';
  const withCluster = r.cluster
    ? ` and the cluster (${r.cluster.pods} pods${r.cluster.created ? ', node created' : ''})`
    : '';
  spinner?.succeed(`lab up: ${r.state.vms.length} VMs running${withCluster} (${what}) in ${r.seconds.toFixed(1)} s`);
  if (!spinner)
    console.log(`lab up: ${r.state.vms.length} VMs running${withCluster} (${what}) in ${r.seconds.toFixed(1)} s`);
  const removed = r.cluster?.removed ?? [];
  for (const p of removed.length > 8
    ? [...removed.slice(0, 6), `... and ${removed.length - 6} more of VMs that are gone`]
    : removed)
    console.log(`cluster: ${p}`);
  for (const p of [...(r.cluster?.notInLab ?? []), ...(r.cluster?.problems ?? [])]) console.log(`cluster: ${p}`);
  for (const l of (await import('./docker/lab.ts')).dockerLines(r.docker, r.state.vms.length)) console.log(l);
  process.stdout.write(formatStatus(await (await vms()).labStatus(labOpts(flags))));
  console.log(`ssh: ip netns exec ${r.cfg.wsNetns} ssh -F ${r.cfg.sshConfigFile} vm1`);
}

/** Build (or converge) the lab, with a spinner on a terminal. */
async function labUpAction(flags: UpFlags, cmd: Command): Promise<void> {
  // a terminal of 0 columns (e.g. a pty without a size) sends ora into an endless redraw
  // (ora is loaded here, not when meshbook starts)
  const spinner =
    process.stderr.isTTY && process.stderr.columns > 0
      ? (await import('ora')).default({ text: 'lab up', stream: process.stderr }).start()
      : null;
  await guarded(cmd, spinner, async () => {
    const r = await (
      await vms()
    ).labUp({
      ...labOpts(flags),
      vms: flags.vms,
      vmIps: flags.vmIps,
      subnet: flags.subnet,
      profiles: flags.profiles,
      cluster: flags.cluster !== false,
      serviceCidr: flags.serviceCidr,
      podCidr: flags.podCidr,
      dockerVms: flags.dockerVms,
      onProgress: (m) => {
        if (spinner) spinner.text = `lab up: ${m}`;
      },
    });
    await sayLabUp(r, spinner, flags);
  });
}

/** Add `meshbook lab up [--vms N] [options]`. */
function registerLabUp(lab: Command): void {
  common(
    lab
      .command('up')
      .description('build the lab (idempotent): workstation, switch and VMs vm1..vmN with sshd')
      .option('--vms <n>', `number of VMs, 1-${MAX_VMS} (default: the existing lab's count, else 3)`, intArg)
      .option(
        '--vm-ips <list>',
        'comma-separated VM addresses, vm1 first (default .250-.252, then .10 upward)',
        listArg,
      )
      .option('--subnet <cidr>', `lab subnet (default ${DEFAULT_SUBNET})`)
      .option(
        '--profiles <list>',
        'distro profiles cycled over the VMs (default alinux-2.1903,centos-8,ubuntu-20.04)',
        listArg,
      )
      .option(
        '--no-cluster',
        'no lab cluster (node namespace at .100, ingress gateway, pods, NGINX sidecars); removes an existing one',
      )
      .option('--service-cidr <cidr>', "the cluster's Service CIDR (default 172.19.0.0/20)")
      .option('--pod-cidr <cidr>', "the cluster's pod CIDR (default 172.18.0.0/16)")
      .option(
        '--docker-vms <n>',
        'how many VMs (the first N) get their own Docker daemon with the lab images (default 10; 0: none)',
        intArg,
      ),
  ).action(labUpAction);
}

/** Add `meshbook lab down`. */
function registerLabDown(lab: Command): void {
  common(
    lab
      .command('down')
      .description('remove the lab: processes, namespaces, state dir, env and inventory files (idempotent)'),
  ).action(async (flags: CommonFlags, cmd: Command) => {
    await guarded(cmd, null, async () => {
      const r = await (await vms()).labDown(labOpts(flags));
      const files = r.files.map((f) => repoPath(f));
      console.log(
        r.namespaces.length || files.length
          ? `lab down: removed ${r.namespaces.length} namespaces, ${r.processes} ` +
              `processes${files.length ? `, ${files.join(' ')}` : ''} in ${r.seconds.toFixed(1)} s`
          : `lab down: no lab with prefix ${r.cfg.prefix}: nothing to remove`,
      );
    });
  });
}

/** Add `meshbook lab status [--json]`. */
function registerLabStatus(lab: Command): void {
  common(lab.command('status').description('list the VMs: namespace, address, distro profile, sshd state'))
    .option('--json', 'print JSON')
    .action(async (flags: CommonFlags & { json?: boolean }, cmd: Command) => {
      await guarded(cmd, null, async () => {
        const s = await (await vms()).labStatus(labOpts(flags));
        process.stdout.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
      });
    });
}

/** Add `meshbook lab` and its subcommands (up, down, kubectl, status, fault). */
export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('the local lab: VMs made of network namespaces on this machine (root only)')
    .addHelpText(
      'after',
      "\nThe lab never touches the machine's own network: no lab interface lives in the root\n" +
        'namespace and no lab namespace has a default route. See lab/README.md.',
    );
  registerLabUp(lab);
  registerLabDown(lab);
  registerLabKubectl(lab);
  registerLabStatus(lab);
  registerLabFault(lab);
}

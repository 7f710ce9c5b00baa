// meshbook lab: `lab up | down | status` for the meshbook CLI (registerLab) - see lab/README.md.
// shape: registerLab is over 80 lines (commander's chain of 4 subcommands); per-command split deferred (time)
import { Command, InvalidArgumentError } from 'commander';
import type { Ora } from 'ora';
import {
  DEFAULT_DIR,
  DEFAULT_PREFIX,
  DEFAULT_SUBNET,
  LabError,
  LabInputError,
  MAX_VMS,
  type LabOptions,
} from './config.ts';
import { repoPath } from './outputs.ts';
import type { LabStatus } from './status.ts';
// the lab's machinery loads when a lab command runs, not with every meshbook command
const vms = () => import('./vms.ts');

interface CommonFlags {
  prefix?: string;
  dir?: string;
  labEnv?: string;
  inventory?: string;
}

function common(cmd: Command): Command {
  cmd
    .option(
      '--prefix <name>',
      `namespace prefix: the lab's namespaces are <prefix>-* (env MESHBOOK_LAB_PREFIX, default ${DEFAULT_PREFIX})`,
    )
    .option('--dir <path>', `lab state dir (env MESHBOOK_LAB_DIR, default ${DEFAULT_DIR})`);
  // not --env-file: Node 20 takes that flag for itself even after the script name
  return cmd
    .option('--lab-env <path>', 'the lab env file (env MESHBOOK_LAB_ENV_FILE, default envs/lab.env)')
    .option('--inventory <path>', 'the lab inventory (env MESHBOOK_LAB_INVENTORY, default envs/lab-inventory.yaml)');
}

const labOpts = (f: CommonFlags): LabOptions => ({
  prefix: f.prefix,
  dir: f.dir,
  envFile: f.labEnv,
  inventoryFile: f.inventory,
});

function intArg(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

const listArg = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * `meshbook lab kubectl ARGS`: one kubectl command through the lab's ClusterProvider (the
 * runbooks' path). stdin is read only when the command takes it (-f -, exec -i). A command
 * the lab cannot carry out is a LabError ("not in lab: ..."); so is a missing lab.
 */
export async function labKubectl(
  opts: LabOptions,
  args: string[],
  io: { stdin?: () => Promise<string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const v = await vms();
  v.preflight('kubectl');
  const cfg = v.resolveConfig(opts);
  const state = await v.readState(cfg);
  if (!state || v.netnsInode(cfg.switchNetns) === null) {
    const where =
      cfg.prefix === DEFAULT_PREFIX && cfg.dir === DEFAULT_DIR ? '' : ` (prefix ${cfg.prefix}, state dir ${cfg.dir})`;
    throw new LabError(`no lab is up${where}: run meshbook lab up`);
  }
  if (!state.cluster) throw new LabError('the lab has no cluster: run meshbook lab up (without --no-cluster)');
  const { parseKubectl } = await import('./cluster/kubectl-args.ts');
  let wantsStdin = false;
  try {
    const a = parseKubectl(['kubectl', ...args]);
    wantsStdin = a.files.includes('-') || (a.verb === 'exec' && (a.flags.i === true || a.flags.stdin !== undefined));
  } catch {
    /* the provider reports bad arguments as kubectl would */
  }
  const stdin = wantsStdin ? await (io.stdin ?? readStdin)() : undefined;
  const { labClusterProvider } = await import('./cluster/provider.ts');
  const r = await labClusterProvider({ prefix: cfg.prefix, dir: cfg.dir }).run(
    { kind: 'mutate', argv: ['kubectl', ...args], stdin, cwd: process.cwd() },
    io.timeoutMs ?? 600_000,
  );
  if (r.notInLab) throw new LabError(`not in lab: ${r.notInLab}`);
  return { code: r.timedOut ? 124 : r.code, stdout: r.stdout, stderr: r.stderr };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Turn errors into one line on stderr and the error's exit code (LabError: 1). Not through
 * commander's error(): a program with exitOverride would map it to its own code and add its
 * usage hint, and these are not usage errors.
 */
async function guarded(_cmd: Command, spinner: Ora | null, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    spinner?.stop();
    const msg = e instanceof LabError ? e.message : e instanceof Error ? e.message : String(e);
    if (!(e instanceof LabError) && process.env.MESHBOOK_DEBUG) console.error(e);
    process.stderr.write(`meshbook lab: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = e instanceof LabError ? e.exitCode : 1;
  }
}

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

/** `meshbook lab kubectl` words: the lab's own flags (before any `--`) and kubectl's words. */
export function splitLabKubectlArgs(words: string[]): { flags: CommonFlags; kubectl: string[]; help: boolean } {
  const flags: CommonFlags = {};
  const kubectl: string[] = [];
  let help = false;
  const own: Record<string, keyof CommonFlags> = { '--prefix': 'prefix', '--dir': 'dir', '--lab-env': 'labEnv' };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === '--') {
      kubectl.push(...words.slice(i));
      break;
    }
    const [name, val] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
    if (own[name]) {
      const v = val ?? words[++i];
      if (v === undefined || v === '') throw new LabInputError(`${name} needs a value`);
      flags[own[name]] = v;
    } else if (w === '--help' || w === '-h') help = true;
    else kubectl.push(w);
  }
  return { flags, kubectl, help };
}

/** LAB_PREFIX and LAB_DIR of a lab env file (plain KEY=value lines, as `lab up` writes them). */
async function labOfEnvFile(file: string): Promise<{ prefix?: string; dir?: string }> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LabError(`cannot read the lab env ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim() || undefined;
  return { prefix: get('LAB_PREFIX'), dir: get('LAB_DIR') };
}

const KUBECTL_HELP = `
Runs a kubectl command against the lab cluster, through the same code that carries out the
runbooks' kubectl commands in the lab (lab/cluster/provider.ts): its stdout and stderr are
printed and its exit code is this command's. --context and other connection flags are
ignored (the lab has one cluster). Where a step says to run kubectl by hand, run it here.

Lab flags (before any --): --prefix P, --dir D, or --lab-env F (its LAB_PREFIX, LAB_DIR);
default: env MESHBOOK_LAB_PREFIX / MESHBOOK_LAB_DIR, else the default lab.

Verbs: apply, create, diff, get, label, annotate, patch, delete, rollout, scale, wait,
exec, logs, version, cluster-info, auth can-i; anything else is "not in lab" (exit 1).
stdin is read for -f - and exec -i.

Examples:
  sudo meshbook lab kubectl -n http-reciprocal-hello get workloadentries -o wide
  sudo meshbook lab kubectl -n http-reciprocal-hello delete workloadentry mesh-expansion-hello2-svc-4
  sudo meshbook lab kubectl apply -f manifest.yaml
  sudo meshbook lab kubectl -n http-reciprocal-hello exec deploy/hello1 -- curl -s hello2-svc:8001/hello/x`;

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('the local lab: VMs made of network namespaces on this machine (root only)')
    .addHelpText(
      'after',
      "\nThe lab never touches the machine's own network: no lab interface lives in the root\n" +
        'namespace and no lab namespace has a default route. See lab/README.md.',
    );

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
  ).action(
    async (
      flags: CommonFlags & {
        vms?: number;
        vmIps?: string[];
        subnet?: string;
        profiles?: string[];
        cluster?: boolean;
        serviceCidr?: string;
        podCidr?: string;
        dockerVms?: number;
      },
      cmd: Command,
    ) => {
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
        const what =
          r.created.length || r.removed.length
            ? `started ${r.created.length}${r.kept.length ? `, kept ${r.kept.length}` : ''}` +
              `${r.removed.length ? `, removed ${r.removed.length}` : ''}`
            : 'nothing to change';
        const withCluster = r.cluster
          ? ` and the cluster (${r.cluster.pods} pods${r.cluster.created ? ', node created' : ''})`
          : '';
        spinner?.succeed(
          `lab up: ${r.state.vms.length} VMs running${withCluster} (${what}) in ${r.seconds.toFixed(1)} s`,
        );
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
      });
    },
  );

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

  lab
    .command('kubectl')
    .description('run a kubectl command against the lab cluster (the lab has no kubectl of its own)')
    .usage('[--prefix P] [--dir D] [--lab-env F] <kubectl arguments...>')
    .argument('[args...]')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', KUBECTL_HELP)
    .action(async (words: string[], _o: unknown, cmd: Command) => {
      await guarded(cmd, null, async () => {
        const { flags, kubectl, help } = splitLabKubectlArgs(words);
        if (help || !kubectl.length) {
          cmd.outputHelp();
          if (!help) process.exitCode = 1;
          return;
        }
        const fromEnv = flags.labEnv ? await labOfEnvFile(flags.labEnv) : {};
        const r = await labKubectl({ prefix: flags.prefix ?? fromEnv.prefix, dir: flags.dir ?? fromEnv.dir }, kubectl);
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        process.exitCode = r.code;
      });
    });

  common(lab.command('status').description('list the VMs: namespace, address, distro profile, sshd state'))
    .option('--json', 'print JSON')
    .action(async (flags: CommonFlags & { json?: boolean }, cmd: Command) => {
      await guarded(cmd, null, async () => {
        const s = await (await vms()).labStatus(labOpts(flags));
        process.stdout.write(flags.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
      });
    });
}

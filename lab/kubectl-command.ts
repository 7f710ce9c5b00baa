// `meshbook lab kubectl ARGS`: one kubectl command against the lab cluster, through the
// same code that carries out the runbooks' kubectl commands in the lab.
import type { Command } from 'commander';
import { DEFAULT_DIR, DEFAULT_PREFIX, LabError, LabInputError, type LabOptions } from './config.ts';
import { guarded, vms, type CommonFlags } from './cli-common.ts';

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

/** Add `meshbook lab kubectl [--prefix P] [--dir D] [--lab-env F] <kubectl arguments...>`. */
export function registerLabKubectl(lab: Command): void {
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
}

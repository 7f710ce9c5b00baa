// Loading and checking a runbook's inputs: an env file (dotenv), the VM inventory it
// names, and flags. Everything is checked together before the first step runs; each
// problem is one line naming the variable, what is wrong, and the fix.
import fs from 'node:fs';
import path from 'node:path';
import { dotenv } from './lazy.ts';
import type { InputSpec, Runbook } from './types.ts';
import { loadInventory, type Inventory } from './inventory.ts';
import { registerSecret } from './redact.ts';

/** Inputs every runbook understands. */
export const COMMON_INPUTS: InputSpec[] = [
  {
    name: 'VM_INVENTORY',
    description: 'path of the VM inventory YAML (relative to the env file); required when a runbook has VM steps',
    example: 'inventory.yaml',
  },
  { name: 'KUBE_CONTEXT', description: 'kubectl context for every cluster call (default: current)' },
  {
    name: 'SSH_KNOWN_HOSTS',
    description: 'known_hosts file meshbook keeps for the VMs (default: .meshbook/known_hosts)',
  },
  { name: 'LAB', description: 'set to 1 by `meshbook lab up`: the target is the local lab' },
  { name: 'LAB_NETNS', description: 'lab only: the network namespace ssh runs from' },
];

export class InputError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export function readEnvFile(file: string): Record<string, string> {
  if (!fs.existsSync(file))
    throw new InputError([`--env: ${file} does not exist; copy envs/<runbook>.env.example and fill it in`]);
  let text: Buffer;
  try {
    text = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EISDIR'
        ? 'is a directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read by this user (permission denied)'
          : `cannot be read (${code ?? (e as Error).message})`;
    throw new InputError([`--env: ${file} ${why}; give the path of a readable env file (KEY=value lines)`]);
  }
  return dotenv.parse(text);
}

export interface Loaded {
  env: Record<string, string>;
  inventory: Inventory;
  envFile: string;
  lab: boolean;
}

/** Inputs of several runbooks, merged by name (the first spec of a name wins). */
export function inputsOf(runbooks: Runbook[]): InputSpec[] {
  const seen = new Map<string, InputSpec>();
  for (const s of [...COMMON_INPUTS, ...runbooks.flatMap((r) => r.inputs)]) if (!seen.has(s.name)) seen.set(s.name, s);
  return [...seen.values()];
}

/** Check env values against the specs; returns one line per problem. Never echoes secrets. */
export function checkInputs(specs: InputSpec[], env: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const s of specs) {
    const val = env[s.name];
    if (val === undefined || val === '') {
      if (s.required)
        problems.push(
          `${s.name}: missing; set it ` +
            `to ${s.description}${s.example ? ` (e.g. ${s.secret ? '<secret>' : s.example})` : ''}`,
        );
      continue;
    }
    const p = s.check?.(val, env);
    if (p) problems.push(`${s.name}: ${p}`);
  }
  return problems;
}

export function withDefaults(specs: InputSpec[], env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  for (const s of specs)
    if ((out[s.name] === undefined || out[s.name] === '') && s.default !== undefined) out[s.name] = s.default;
  return out;
}

/** Load an env file for runbooks, check everything, and register secrets. Throws InputError. */
export function loadInputs(
  envFile: string,
  runbooks: Runbook[],
  opts: { checkFiles?: boolean; overrides?: Record<string, string> } = {},
): Loaded {
  return loadFrom({ ...readEnvFile(envFile), ...(opts.overrides ?? {}) }, envFile, runbooks, opts);
}

/** The same from values already in hand (the walkthrough's answers); paths resolve
 *  against the directory of `envFile`. */
export function loadFrom(
  raw: Record<string, string>,
  envFile: string,
  runbooks: Runbook[],
  opts: { checkFiles?: boolean } = {},
): Loaded {
  const specs = inputsOf(runbooks);
  for (const s of specs) if (s.secret) registerSecret(raw[s.name]);
  const env = withDefaults(specs, raw);
  const problems = checkInputs(specs, env);
  const needsVms = runbooks.some((rb) => rb.steps.some((s) => s.target === 'vm'));
  if (needsVms && !env.VM_INVENTORY)
    problems.unshift('VM_INVENTORY: missing; set it to the path of the VM inventory YAML (relative to the env file)');
  let inventory: Inventory = { vms: [], file: '' };
  if (env.VM_INVENTORY) {
    const invPath = path.resolve(path.dirname(envFile), env.VM_INVENTORY);
    const r = loadInventory(invPath, { checkFiles: opts.checkFiles });
    inventory = r.inventory;
    problems.push(...r.problems);
  }
  if (opts.checkFiles && env.LAB === '1' && env.LAB_NETNS && !fs.existsSync(`/run/netns/${env.LAB_NETNS}`)) {
    // a lab env left behind by `lab down` (or from another machine): every later line would
    // be an ssh or kubectl failure; say the one thing to do
    problems.unshift(
      `LAB_NETNS: the lab this env file was written for is not up ` +
        `(no network namespace ${env.LAB_NETNS}); run meshbook lab up`,
    );
  }
  if (problems.length) throw new InputError(problems);
  return { env, inventory, envFile: path.resolve(envFile), lab: env.LAB === '1' };
}

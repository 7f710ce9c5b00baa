// The VM inventory (YAML). Parsed and checked as a whole; every problem is one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { YAML } from './lazy.ts';
import * as v from './validate.ts';
import { PROFILE_IDS } from './distro.ts';

export interface Vm {
  name: string;
  host: string;
  user: string;
  port: number;
  identity?: string;
  privateIp: string;
  distro?: string;
  labels: Record<string, string>;
  runtime: 'docker' | 'process';
}

export interface Inventory {
  vms: Vm[];
  netns?: string; // lab only: ssh runs inside this network namespace
  file: string;
}

const KEYS = new Set(['name', 'host', 'user', 'port', 'identity', 'privateIp', 'distro', 'labels', 'runtime']);

export function expandHome(p: string): string {
  return p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

/** A VM's labels: a map of label keys to label values (each problem is one line). */
function parseLabels(raw: unknown, where: (k: string) => string, problems: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === undefined) return labels;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${where('labels')}: must be a map such as { version: v1 }`);
    return labels;
  }
  for (const [k, val] of Object.entries(raw)) {
    const m = v.labelValue(String(val));
    if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k))
      problems.push(`${where('labels')}: ${JSON.stringify(k)} is not a label key`);
    else if (m) problems.push(`${where(`labels.${k}`)}: ${m}`);
    else labels[k] = String(val);
  }
  return labels;
}

/** One entry of `vms:` checked key by key (problems appended in key order); `names` holds the names seen. */
function parseVm(
  raw: unknown,
  where: (k: string) => string,
  names: Set<string>,
  problems: string[],
  opts: { checkFiles?: boolean },
): Vm {
  const e = (raw ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(e))
    if (!KEYS.has(k)) problems.push(`${where(k)}: unknown key; known keys are ${[...KEYS].join(', ')}`);
  const str = (k: string) => (e[k] === undefined || e[k] === null ? undefined : String(e[k]));
  const name = str('name') ?? '';
  const p = (k: string, msg: string | undefined) => msg && problems.push(`${where(k)}: ${msg}`);
  if (!name) problems.push(`${where('name')}: missing; give every VM a name (used in output and state)`);
  else p('name', v.dnsLabel(name));
  if (names.has(name)) problems.push(`${where('name')}: ${JSON.stringify(name)} is used twice; names must be unique`);
  names.add(name);
  const host = str('host') ?? '';
  if (!host) problems.push(`${where('host')}: missing; set the SSH address`);
  else p('host', v.host(host));
  const user = str('user') ?? 'root';
  p('user', v.posixUser(user));
  const port = str('port') ?? '22';
  p('port', v.port(port));
  // defaults to host when that is an address; runbooks that need it say so when empty
  const privateIp = str('privateIp') ?? (v.ipv4(host) ? '' : host);
  if (str('privateIp') !== undefined) p('privateIp', v.ipv4(privateIp));
  const identity = str('identity') ? expandHome(str('identity')!) : undefined;
  if (identity && opts.checkFiles && !fs.existsSync(identity))
    problems.push(`${where('identity')}: ${identity} does not exist; point it at the SSH private key`);
  const distro = str('distro');
  if (distro && !PROFILE_IDS.includes(distro))
    problems.push(
      `${where('distro')}: ${JSON.stringify(distro)} is not a known ` +
        `distro; use ${PROFILE_IDS.join(' | ')} or leave it out to detect it`,
    );
  const labels = parseLabels(e.labels, where, problems);
  const runtime = str('runtime') ?? 'docker';
  if (runtime !== 'docker' && runtime !== 'process')
    problems.push(`${where('runtime')}: ${JSON.stringify(runtime)} is not docker or process`);
  return {
    name,
    host,
    user,
    port: Number(port),
    identity,
    privateIp,
    distro,
    labels,
    runtime: runtime as Vm['runtime'],
  };
}

/** Returns the inventory and a list of problems (empty when valid). */
export function parseInventory(
  text: string,
  file: string,
  opts: { checkFiles?: boolean } = {},
): { inventory: Inventory; problems: string[] } {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    problems.push(`VM_INVENTORY ${file}: not valid YAML (${(e as Error).message.split('\n')[0]}); fix the file`);
    return { inventory: { vms: [], file }, problems };
  }
  const root = (doc ?? {}) as Record<string, unknown>;
  const list = root.vms;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push(`VM_INVENTORY ${file}: no \`vms:\` list; add at least one VM with name and host`);
    return { inventory: { vms: [], file }, problems };
  }
  let netns: string | undefined;
  if (root.netns !== undefined) {
    if (typeof root.netns === 'string' && /^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/.test(root.netns)) netns = root.netns;
    else problems.push(`VM_INVENTORY ${file}: netns ${JSON.stringify(root.netns)} is not a network namespace name`);
  }
  const names = new Set<string>();
  const vms = list.map((raw, i) => parseVm(raw, (k) => `VM_INVENTORY ${file}: vms[${i}].${k}`, names, problems, opts));
  return { inventory: { vms, netns, file }, problems };
}

export function loadInventory(file: string, opts: { checkFiles?: boolean } = {}) {
  const bad = (why: string) => ({
    inventory: { vms: [], file } as Inventory,
    problems: [`VM_INVENTORY: ${file} ${why}`],
  });
  if (!fs.existsSync(file)) return bad('does not exist; point VM_INVENTORY at your inventory YAML');
  // a directory (e.g. an empty answer resolved against the env file's directory) or an
  // unreadable file is one problem line like any other, not an exception
  if (fs.statSync(file).isDirectory())
    return bad('is a directory; point VM_INVENTORY at your inventory YAML file in it');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return bad(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check its permissions`);
  }
  return parseInventory(text, file, opts);
}

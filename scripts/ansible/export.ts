// meshbook plan <runbook...> --env FILE --format ansible -o DIR: the same VM-side steps as
// an Ansible playbook, for fleets beyond what one runner's SSH fan-out serves.
//   DIR/ansible.cfg      host key checking on, no retry files, pipelining, per-DIR ssh sockets
//   DIR/inventory.yml    the VMs, with the SSH options that reach them (the lab: through its
//                        workstation namespace, known_hosts, accept-new, never "no")
//   DIR/playbook.yml     the steps, in order, each with the runner's check/change/verify rules
//   DIR/secrets.yml      the secret values (created 0600 before a byte is written); the
//                        playbook loads it with vars_files and references it only from
//                        no_log tasks; ansible-vault can encrypt it in place
// Run: ANSIBLE_CONFIG=DIR/ansible.cfg ansible-playbook -i DIR/inventory.yml DIR/playbook.yml
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { LabRules, Runbook } from '../engine/types.ts';
import { needLabRules } from '../engine/action.ts';
import type { Loaded } from '../engine/inputs.ts';
import { inputsOf } from '../engine/inputs.ts';
import { PROFILE_IDS } from '../engine/distro.ts';
import { SecretBook, shlexQuote, template } from './jinja.ts';
import { detectScript } from './distro.ts';
import { PRELUDE } from '../engine/sh.ts';
import { COMMENT, PRELUDE_VAR, stepTasks, type Task } from './tasks.ts';

export const FILES = {
  cfg: 'ansible.cfg',
  inventory: 'inventory.yml',
  playbook: 'playbook.yml',
  secrets: 'secrets.yml',
} as const;
export const GROUP = 'meshbook';
const NETNS = /^[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$/;

/** A path as the user knows it: relative inside the working directory, else absolute. */
const shown = (f: string) => {
  const rel = path.relative(process.cwd(), f);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(f);
};

export interface Exported {
  playbook: string;
  inventory: string;
  cfg: string;
  secrets: string;
}

const UNSAFE_MARK = '\0unsafe\0';

function yamlText(data: unknown, header: string[]): string {
  const doc = new YAML.Document(data, { version: '1.1' }); // PyYAML reads YAML 1.1: yes/on/0600 get quoted
  YAML.visit(doc, {
    Map(_, node) {
      const i = node.items.findIndex((p) => YAML.isScalar(p.key) && p.key.value === COMMENT);
      if (i < 0) return;
      const v = node.items[i].value;
      node.commentBefore = YAML.isScalar(v) ? String(v.value) : '';
      node.items.splice(i, 1);
    },
    Scalar(_, node) {
      if (typeof node.value === 'string' && node.value.startsWith(UNSAFE_MARK)) {
        node.value = node.value.slice(UNSAFE_MARK.length);
        node.tag = '!unsafe'; // Ansible never templates it
      }
      if (typeof node.value === 'string' && node.value.includes('{{')) node.type = 'QUOTE_DOUBLE';
      if (typeof node.value === 'string' && node.value.includes('\n')) node.type = 'BLOCK_LITERAL';
    },
  });
  doc.commentBefore = header.map((l) => (l ? ` ${l}` : '')).join('\n');
  return doc.toString({ lineWidth: 0 });
}

function unsafe(doc: YAML.Document, value: string): YAML.Scalar {
  const s = doc.createNode(value) as YAML.Scalar;
  s.tag = '!unsafe'; // Ansible never templates it (a secret may hold `{{`)
  s.type = 'QUOTE_DOUBLE';
  return s;
}

/** ssh options that reach the VMs, as meshbook's own ssh uses them (scripts/engine/ssh.ts). */
function sshCommonArgs(loaded: Loaded): string {
  const known = path.resolve(loaded.env.SSH_KNOWN_HOSTS || '.meshbook/known_hosts');
  const args: string[] = [];
  const netns = loaded.inventory.netns ?? loaded.env.LAB_NETNS;
  if (netns) {
    if (!NETNS.test(netns)) throw new Error(`LAB_NETNS: ${JSON.stringify(netns)} is not a network namespace name`);
    // the VMs' addresses exist only inside that namespace: the TCP stream goes through it
    // (netcat-openbsd's nc); ssh itself and its keys stay on this side
    args.push('-o', `ProxyCommand="ip netns exec ${netns} nc %h %p"`);
  }
  args.push(
    '-o',
    shlexQuote(`UserKnownHostsFile=${known}`),
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ServerAliveInterval=5',
    '-o',
    'ServerAliveCountMax=3',
  );
  return args.join(' ');
}

function inventoryText(loaded: Loaded): string {
  const hosts: Record<string, Record<string, unknown>> = {};
  for (const vm of loaded.inventory.vms) {
    hosts[vm.name] = {
      ansible_host: vm.host,
      ansible_port: vm.port,
      ansible_user: vm.user,
      ...(vm.identity
        ? { ansible_ssh_private_key_file: path.resolve(vm.identity), ansible_ssh_extra_args: '-o IdentitiesOnly=yes' }
        : {}),
      ...(vm.user !== 'root' ? { ansible_become: true, ansible_become_method: 'sudo' } : {}),
      ...(vm.distro ? { meshbook_distro: vm.distro } : {}),
    };
  }
  const header = [
    `meshbook inventory from ${shown(loaded.envFile)} ` +
      `(${loaded.inventory.vms.length} VM(s)${loaded.lab ? ', the local lab' : ''}).`,
    'meshbook_distro, when set, is the distro the inventory declares; the playbook checks it against /etc/os-release.',
    ...((loaded.inventory.netns ?? loaded.env.LAB_NETNS)
      ? [
          'The VMs are reachable only from a network namespace: ssh goes through it with ProxyCommand',
          "(ip netns exec, then nc from Debian's netcat-openbsd), so ansible-playbook runs as root.",
        ]
      : []),
  ];
  return yamlText({ [GROUP]: { hosts, vars: { ansible_ssh_common_args: sshCommonArgs(loaded) } } }, header);
}

function cfgText(outDir: string): string {
  // ssh control sockets per export: two labs may use the same addresses (and so the same %C)
  let cp = path.join(path.resolve(outDir), 'cp');
  if (cp.length + 42 > 100)
    cp = path.join(
      os.tmpdir(),
      `meshbook-ansible-${crypto.createHash('sha256').update(path.resolve(outDir)).digest('hex').slice(0, 12)}`,
    );
  return [
    '# meshbook: settings for this playbook; use it with ANSIBLE_CONFIG=<this file>.',
    '[defaults]',
    'inventory = inventory.yml',
    'host_key_checking = True',
    'retry_files_enabled = False',
    'stdout_callback = default',
    'interpreter_python = auto_silent',
    'forks = 10',
    'timeout = 10',
    'gathering = explicit',
    '',
    '[ssh_connection]',
    'pipelining = True',
    `control_path_dir = ${cp}`,
    '',
  ].join('\n');
}

function secretsText(book: SecretBook, loaded: Loaded): string {
  const { secrets, derived } = book.values();
  const doc = new YAML.Document(
    { meshbook_secrets: {}, ...(Object.keys(derived).length ? { meshbook_derived: {} } : {}) },
    { version: '1.1' },
  );
  const put = (k: string, values: Record<string, string>) => {
    const map = doc.get(k) as YAML.YAMLMap;
    for (const [name, v] of Object.entries(values)) map.set(name, unsafe(doc, v));
  };
  put('meshbook_secrets', secrets);
  if (Object.keys(derived).length) put('meshbook_derived', derived);
  doc.commentBefore = [
    ` meshbook secrets for playbook.yml, from ${shown(loaded.envFile)}. Mode 0600; do not commit it.`,
    ' `ansible-vault encrypt secrets.yml` encrypts it in place (then run ansible-playbook with --ask-vault-pass).',
    ...(Object.keys(derived).length
      ? [' meshbook_derived: values the scripts derive from a secret (e.g. the digest of a file that holds one).']
      : []),
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}

/** Every step's tasks: the main ones, the on-failure ones (rescue), and what the header says about them. */
function collectTasks(
  runbooks: Runbook[],
  loaded: Loaded,
  book: SecretBook,
  envShown: string,
  labRules: LabRules | undefined,
) {
  const main: Task[] = [];
  const rescue: Task[] = [];
  const clusterSteps: string[] = [];
  const interpreted: string[] = [];
  let consent = false;
  for (const rb of runbooks) {
    for (const step of rb.steps) {
      if (step.target === 'cluster') clusterSteps.push(`${rb.name}/${step.id}`);
      const out = stepTasks(rb, step, loaded.inventory.vms, loaded.env, loaded.lab, book, envShown, labRules);
      (out.onFailure ? rescue : main).push(...out.tasks);
      if (out.interpreted) interpreted.push(`${rb.name}/${step.id}`);
      consent ||= out.consent;
    }
  }
  return { main, rescue, clusterSteps, interpreted, consent };
}

/** The first tasks: detect each VM's distro and check it against the inventory's. */
function detectDistroTasks(): Task[] {
  return [
    {
      [COMMENT]:
        ` == the distro of each VM, from /etc/os-release (the ` + `profiles meshbook knows: ${PROFILE_IDS.join(', ')})`,
      name: 'meshbook: detect the distro from /etc/os-release',
      'ansible.builtin.shell': { cmd: template([`\n${detectScript()}\n`], { raw: true }), executable: '/bin/bash' },
      register: 'mb_detected_distro',
      changed_when: false,
    },
    {
      name: 'meshbook: the distro the inventory declares is the one the VM runs',
      'ansible.builtin.fail': {
        msg:
          'inventory declares distro {{ meshbook_distro }} but /etc/os-release ' +
          'says {{ mb_detected_distro.stdout | trim }}; fix the inventory',
      },
      when: 'meshbook_distro is defined and meshbook_distro != (mb_detected_distro.stdout | trim)',
    },
    {
      name: 'meshbook: distro',
      'ansible.builtin.set_fact': { meshbook_distro: '{{ mb_detected_distro.stdout | trim }}' },
    },
  ];
}

/** The playbook's header comment: where it came from, how to run it, and what it leaves out. */
function playbookHeader(names: string, loaded: Loaded, envShown: string, t: ReturnType<typeof collectTasks>): string[] {
  return [
    `meshbook plan ${names} --env ${envShown} --format ansible ` +
      `(${loaded.inventory.vms.length} VM(s)${loaded.lab ? ', the local lab' : ''}).`,
    'The VM-side steps of a meshbook rebuild, in order, with the same commands and checks:',
    'a check exits 0 when nothing needs to change and 10 when the change must run; the change',
    'runs only after a 10, then its verify. A second run reports changed=0.',
    `Run (DIR: this directory): ANSIBLE_CONFIG=DIR/${FILES.cfg} ` +
      `ansible-playbook -i DIR/${FILES.inventory} DIR/${FILES.playbook}`,
    `Secrets come from ${FILES.secrets} (0600) and are referenced only by no_log tasks; no value is in this file.`,
    ...(t.consent ? ['A change that needs consent runs only with -e meshbook_yes=true (meshbook: --yes).'] : []),
    ...(loaded.lab
      ? [
          'LAB=1: a step the lab cannot do (packages, systemd; Docker on a VM without a daemon) keeps its read-only',
          'check and, where there is one, its lab stand-in; its real change is not exported as runnable.',
        ]
      : []),
    ...(t.clusterSteps.length
      ? [`Not exported: the cluster steps (${t.clusterSteps.join(', ')}): kubectl/istioctl run where meshbook runs.`]
      : []),
    ...(t.interpreted.length
      ? [`Probes meshbook also interprets (${t.interpreted.join(', ')}): here only their exit status counts.`]
      : []),
    ...(t.rescue.length
      ? ['On-failure steps (diagnostics) run in the rescue section, on a host where a step failed.']
      : []),
  ];
}

/** The playbook, inventory, config and secrets file, as text (nothing written). */
export function renderAnsible(
  runbooks: Runbook[],
  loaded: Loaded,
  outDir: string,
  opts: { labRules?: LabRules } = {},
): Exported {
  needLabRules(loaded.lab, opts.labRules, 'ansible export');
  const secretInputs = inputsOf(runbooks).filter((s) => s.secret);
  const book = new SecretBook(Object.fromEntries(secretInputs.map((s) => [s.name, loaded.env[s.name] ?? ''])));
  const envShown = shown(loaded.envFile);
  const tasks = collectTasks(runbooks, loaded, book, envShown, opts.labRules);
  const { main, rescue } = tasks;
  const body: Task = { name: 'meshbook steps', block: [...detectDistroTasks(), ...main] };
  if (rescue.length) {
    body.rescue = [
      ...rescue,
      {
        name: 'meshbook: a step failed on this host',
        'ansible.builtin.fail': { msg: '{{ ansible_failed_task.name }} failed on this host (diagnostics above)' },
      },
    ];
  }
  const names = runbooks.map((r) => r.name).join(' ');
  const play = {
    name: `meshbook: ${names}`,
    hosts: GROUP,
    gather_facts: false,
    vars_files: [FILES.secrets],
    vars: { [PRELUDE_VAR]: UNSAFE_MARK + PRELUDE },
    tasks: [body],
  };
  return {
    playbook: yamlText([play], playbookHeader(names, loaded, envShown, tasks)),
    inventory: inventoryText(loaded),
    cfg: cfgText(outDir),
    secrets: secretsText(book, loaded),
  };
}

/** Write `text` to `file` through a temp file in the same directory and a rename; the
 *  temp file has `mode` from its creation, before any content. */
function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.meshbook.${crypto.randomBytes(6).toString('hex')}`;
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, text);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

export async function exportAnsible(
  runbooks: Runbook[],
  loaded: Loaded,
  outDir: string,
  opts: { labRules?: LabRules } = {},
): Promise<{ files: string[] }> {
  const out = renderAnsible(runbooks, loaded, outDir, opts);
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  const write = (name: string, text: string, mode: number) => {
    const f = path.join(outDir, name);
    writeAtomic(f, text, mode);
    files.push(f);
  };
  write(FILES.secrets, out.secrets, 0o600);
  write(FILES.cfg, out.cfg, 0o644);
  write(FILES.inventory, out.inventory, 0o644);
  write(FILES.playbook, out.playbook, 0o644);
  return { files };
}

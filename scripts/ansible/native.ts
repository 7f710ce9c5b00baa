// Steps Ansible's own modules express better than a shell script: a secret file (copy
// with mode 0600, content from the no_log secrets) and a hosts line (lineinfile).
// Each mapping first recognizes the step's action (the same file, the same line); a
// step that no longer looks like it falls back to the generic check/change/verify tasks.
import type { HostCtx, VmAction } from '../engine/types.ts';
import { Secret } from '../engine/sh.ts';
import { template, type Part, type SecretBook } from './jinja.ts';
import { ENV_FILE } from '../asm-vm-proxy/common.ts';
import { envLines } from '../asm-vm-proxy/03-env-file.ts';

export type Task = { [k: string]: unknown };

export interface NativeCtx {
  id: string; // runbook/step
  prefix: string; // task name prefix (id and variant label)
  reg: string; // a register name of this step variant
  ctx: HostCtx;
  action: VmAction;
  book: SecretBook;
  /** A task running one of the step's scripts (the verify), as the generic export does. */
  script: (s: NonNullable<VmAction['verify']>) => Task;
}

/** Python regex text for a literal (lineinfile and replace use Python's re). */
export const pyEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A whole line of /etc/hosts that names `name` (bash's [[:space:]] in the C locale is
 *  ASCII white space, as is \s on the bytes lineinfile matches). */
const namesHost = (name: string) => `(^|.*\\s)${pyEscape(name)}(\\s|$)`;

/** `<ip> <name>` in /etc/hosts exactly once, as meshbook's step leaves it: lines naming
 *  `name` that are not the wanted line are removed, duplicates of the wanted line are
 *  removed (the last one stays), the line is added at the end when absent. */
export function hostsLineTasks(n: NativeCtx, line: string, name: string): Task[] {
  const exact = pyEscape(line);
  return [
    {
      name: `${n.prefix}: remove other /etc/hosts lines naming ${name}`,
      'ansible.builtin.lineinfile': { path: '/etc/hosts', regexp: `^(?!${exact}$)${namesHost(name)}`, state: 'absent' },
      register: `${n.reg}_others`,
    },
    {
      name: `${n.prefix}: keep one copy of the line`,
      'ansible.builtin.replace': { path: '/etc/hosts', regexp: `^${exact}\\n(?=(?:.*\\n)*${exact}$)`, replace: '' },
      register: `${n.reg}_dups`,
    },
    {
      name: `${n.prefix}: /etc/hosts has: ${line}`,
      'ansible.builtin.lineinfile': { path: '/etc/hosts', line, state: 'present' },
      register: n.reg,
    },
    {
      name: `${n.prefix}: verify`,
      ...n.script(n.action.verify!),
      when: `${n.reg}_others is changed or ${n.reg}_dups is changed or ${n.reg} is changed`,
      changed_when: false,
    },
  ];
}

/** A file holding a secret: created 0600 while still empty (copy would create it with
 *  the default mode and chmod afterwards), then its content from the no_log secrets. */
export function secretFileTasks(n: NativeCtx, dest: string, dirMode: string, lines: Array<string | Secret>): Task[] {
  const parts: Part[] = [];
  for (const l of lines) {
    if (l instanceof Secret) {
      const r = n.book.ref(l, n.id);
      parts.push(r.pre, { expr: r.expr }, `${r.post}\n`);
    } else parts.push(`${l}\n`);
  }
  const dir = dest.replace(/\/[^/]+$/, '');
  return [
    {
      name: `${n.prefix}: directory ${dir} (${dirMode})`,
      'ansible.builtin.file': { path: dir, state: 'directory', mode: dirMode },
    },
    {
      name: `${n.prefix}: ${dest} exists with mode 0600 before anything is written to it`,
      'ansible.builtin.file': {
        path: dest,
        state: 'touch',
        mode: '0600',
        modification_time: 'preserve',
        access_time: 'preserve',
      },
    },
    {
      name: `${n.prefix}: write ${dest} (0600; holds a secret, no_log)`,
      'ansible.builtin.copy': { dest, content: template(parts), mode: '0600' },
      register: n.reg,
      no_log: true,
    },
    { name: `${n.prefix}: verify`, ...n.script(n.action.verify!), when: `${n.reg} is changed`, changed_when: false },
  ];
}

const has = (s: { display: string } | undefined, text: string) => !!s && s.display.includes(text);

/** Native mappings by step id. Undefined: not recognized, use the generic tasks. */
export const NATIVE: Record<string, (n: NativeCtx) => Task[] | undefined> = {
  'asm-vm-proxy/03-env-file': (n) => {
    if (
      !has(n.action.apply, `write_file ${ENV_FILE} 0600`) ||
      !has(n.action.apply, 'install -d -m 0755 /opt/asm_vm_proxy') ||
      !n.action.verify
    )
      return undefined;
    return secretFileTasks(n, ENV_FILE, '0755', envLines(n.ctx.env));
  },
  'asm-vm-proxy/07-tracing': (n) => {
    const name = 'zipkin.istio-system';
    const line = `${n.ctx.env.ZIPKIN_IP} ${name}`;
    if (!has(n.action.check, line) || !has(n.action.apply, 'write_file /etc/hosts 0644') || !n.action.verify)
      return undefined;
    return hostsLineTasks(n, line, name);
  },
};

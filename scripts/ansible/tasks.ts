// One runbook step as Ansible tasks, with the runner's rules (scripts/engine/runner.ts):
// a probe is a read-only task; a check is registered (exit 0 = as wanted, 10 = change
// needed, anything else fails), the change runs only after a 10, then its verify; in the
// lab a notInLab step keeps its check (or the lab stand-in's) and never its real change.
// A step's commands may differ per VM and per distro: every (VM, distro) the VM can be is
// rendered, identical renderings share one block, and the block's `when` says which hosts
// or distros it is for.
import type { HostCtx, LabRules, Runbook, Step, VmAction } from '../engine/types.ts';
import { vmActionOf } from '../engine/action.ts';
import type { Vm } from '../engine/inventory.ts';
import { renderWith, Secret, type Script } from '../engine/sh.ts';
import { PROFILE_IDS, profile } from '../engine/distro.ts';
import { template, type Part, type SecretBook } from './jinja.ts';
import { redact } from '../engine/redact.ts';
import { NATIVE, type Task } from './native.ts';

export type { Task } from './native.ts';

/** Key of a task map whose value becomes a YAML comment above the task. */
export const COMMENT = '#';

/** The action as the runner runs it (runner.ts forLab): in the lab a notInLab change
 *  never runs; a lab stand-in may replace check/apply/verify. */
export interface Norm {
  skip?: string;
  probe?: Script;
  interpreted: boolean;
  check?: Script;
  apply?: Script;
  verify?: Script;
  notInLab?: string; // set only in the lab
  standIn?: string;
  consent?: string;
  labAltered: boolean;
}

export function normalize(a: VmAction, lab: boolean): Norm {
  const n: Norm = {
    skip: a.skip,
    probe: a.probe,
    interpreted: !!a.interpret,
    check: a.check,
    apply: a.apply,
    verify: a.verify,
    consent: a.consent,
    labAltered: false,
  };
  if (lab && a.onRunner && !a.skip)
    return {
      ...n,
      probe: undefined,
      check: undefined,
      apply: undefined,
      verify: undefined,
      consent: undefined,
      notInLab: `the lab does this on the runner's machine, not on the VM: ${a.onRunner.what}`,
      labAltered: true,
    };
  if (lab && a.notInLab && !a.skip) {
    const s = a.labStandIn;
    return {
      ...n,
      check: s?.check ?? a.check,
      apply: s?.apply,
      verify: s?.verify,
      consent: undefined,
      notInLab: a.notInLab,
      standIn: s?.what,
      labAltered: true,
    };
  }
  return n;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
export const regName = (id: string, variant: number) => `mb_${slug(id)}${variant ? `_${variant + 1}` : ''}`;

/** The play variable holding PRELUDE (unsafe: never templated), sent ahead of every script. */
export const PRELUDE_VAR = 'meshbook_prelude';

/** The module part of a task running `script` on the VM as root, the PRELUDE first.
 *  No secret: `shell` with the script as cmd (a raw block: `{{` stays literal). With a
 *  secret: the script goes on stdin to `bash -s` (so it is never in a process's argv on
 *  the VM), each secret a reference into secrets.yml, and the task is no_log. */
export function scriptTask(script: Script, book: SecretBook, owner: string): Task {
  const found: Secret[] = [];
  const text = renderWith(script, (s) => `\0${found.push(s) - 1}\0`);
  const parts: Part[] = [];
  if (!found.length && text === script.text) {
    return {
      'ansible.builtin.shell': {
        cmd: `{{ ${PRELUDE_VAR} }}\n${template([`\n${text}\n`], { raw: true })}`,
        executable: '/bin/bash',
      },
    };
  }
  if (found.length) {
    text
      .split(/\0(\d+)\0/)
      .forEach((piece, i) => parts.push(i % 2 ? { expr: book.shellWord(found[Number(piece)], owner) } : piece));
  } else {
    // built by hand from tagged scripts (e.g. joined): it renders as its display, where
    // each secret is masked; the masks show where the quoted secrets sit in its text
    const pieces = fromMasks(script);
    if (!pieces) {
      // a script shown one way and run another (e.g. a plan-only placeholder that stops
      // with a message): its text is exported when it carries no secret meshbook knows
      if (redact(script.text) !== script.text)
        throw new Error(
          `${owner}: a script holds a secret but was not built with probe\`\`/mutate\`\` ` +
            `and its masks do not line up with its text; it cannot be exported`,
        );
      return {
        'ansible.builtin.shell': {
          cmd: `{{ ${PRELUDE_VAR} }}\n${template([`\n${script.text}\n`], { raw: true })}`,
          executable: '/bin/bash',
        },
      };
    }
    for (const x of pieces) parts.push(typeof x === 'string' ? x : { expr: book.wordRef(x.name, x.word, owner) });
  }
  return {
    'ansible.builtin.command': {
      argv: ['/bin/bash', '-s'],
      stdin: template([{ expr: PRELUDE_VAR }, '\n', ...parts, '\n'], { raw: true }),
    },
    no_log: true,
  };
}

/** A hand-built script as its literal text and the quoted secrets (shell words) between:
 *  the display is the text with each secret's word replaced by a mask `$'***NAME***'`. */
export function fromMasks(script: Script): Array<string | { name: string; word: string }> | undefined {
  const MASK = /\$'\*\*\*((?:[^'\\]|\\.)*?)\*\*\*'/g;
  const lits: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of script.display.matchAll(MASK)) {
    lits.push(script.display.slice(last, m.index));
    names.push(m[1]);
    last = m.index! + m[0].length;
  }
  lits.push(script.display.slice(last));
  const t = script.text;
  if (!names.length || !t.startsWith(lits[0])) return undefined;
  const out: Array<string | { name: string; word: string }> = [lits[0]];
  let pos = lits[0].length;
  for (let i = 0; i < names.length; i++) {
    const next = lits[i + 1];
    let end = -1;
    if (t.startsWith("$'", pos)) {
      // zx's $'...' form: up to the closing quote
      for (let j = pos + 2; j < t.length; j++) {
        if (t[j] === '\\') j++;
        else if (t[j] === "'") {
          end = j + 1;
          break;
        }
      }
    } else {
      // a plain word: as long as the next literal follows
      const word = /^[\w/.\-@:=]+/.exec(t.slice(pos))?.[0] ?? '';
      for (let n = word.length; n > 0 && end < 0; n--) if (t.startsWith(next, pos + n)) end = pos + n;
    }
    if (end < 0 || !t.startsWith(next, end)) return undefined;
    out.push({ name: names[i], word: t.slice(pos, end) }, next);
    pos = end + next.length;
  }
  return pos === t.length ? out : undefined;
}

/** A task that only says something: `${prefix}: ${what}` as its name, `what` as its message. */
const say = (prefix: string, what: string): Task => ({
  name: `${prefix}: ${what}`,
  'ansible.builtin.debug': { msg: what },
});

interface Build {
  id: string;
  prefix: string;
  reg: string;
  ctx: HostCtx;
  action: VmAction;
  book: SecretBook;
  lab: boolean;
}

/** The tasks of one rendering of a step (the generic check/change/verify pattern, or a
 *  native mapping when the step is recognized and the lab does not alter it). */
export function actionTasks(b: Build): Task[] {
  const n = normalize(b.action, b.lab);
  const p = b.prefix;
  const run = (s: Script) => scriptTask(s, b.book, b.id);
  if (n.skip) return [say(p, `skipped: ${n.skip}`)];
  const T: Task[] = [];
  if (n.notInLab) {
    T.push(
      say(
        p,
        `not in ` +
          (`lab: ${n.notInLab}` +
            `${n.standIn ? `; lab stand-in: ${n.standIn}` : '; its change is not exported as runnable'}`),
      ),
    );
  }
  const native =
    !n.labAltered && !n.probe
      ? NATIVE[b.id]?.({ id: b.id, prefix: p, reg: b.reg, ctx: b.ctx, action: b.action, book: b.book, script: run })
      : undefined;
  if (native) return native;
  if (n.probe) {
    T.push({
      ...(n.interpreted
        ? { [COMMENT]: " meshbook also reads this output (the step's interpret); here only its exit status counts" }
        : {}),
      name: `${p}: probe (read-only)`,
      ...run(n.probe),
      changed_when: false,
    });
    return T;
  }
  const rc10 = `${b.reg}.rc == 10`;
  const consentGate = (when?: string): Task[] =>
    n.consent
      ? [
          {
            name: `${p}: needs consent (-e meshbook_yes=true): ${n.consent}`,
            'ansible.builtin.fail': { msg: `needs consent: ${n.consent}; rerun with -e meshbook_yes=true to allow it` },
            when: `${when ? `${when} and ` : ''}not (meshbook_yes | default(false) | bool)`,
          },
        ]
      : [];
  if (n.check) {
    T.push({
      name: `${p}: check${n.standIn ? ' (lab stand-in)' : ''} (0 = as wanted, 10 = change needed)`,
      ...run(n.check),
      register: b.reg,
      changed_when: false,
      failed_when: `${b.reg}.rc not in [0, 10]`,
    });
    if (!n.apply) {
      if (!n.notInLab)
        T.push({
          name: `${p}: not in the desired state and no change is defined`,
          'ansible.builtin.fail': { msg: 'not in the desired state and no change is defined' },
          when: rc10,
        });
      return T;
    }
    T.push(...consentGate(rc10));
    T.push({ name: `${p}: change${n.standIn ? ' (lab stand-in)' : ''}`, ...run(n.apply), when: rc10 });
    if (n.verify) T.push({ name: `${p}: verify`, ...run(n.verify), when: rc10, changed_when: false });
    return T;
  }
  if (n.apply) {
    T.push(...consentGate());
    T.push({ name: `${p}: change (no check: runs every time)`, ...run(n.apply) });
    if (n.verify) T.push({ name: `${p}: verify`, ...run(n.verify), changed_when: false });
    return T;
  }
  if (!n.notInLab) T.push(say(p, 'nothing to do'));
  return T;
}

const list = (xs: string[]) => (xs.length === 1 ? ` == '${xs[0]}'` : ` in [${xs.map((x) => `'${x}'`).join(', ')}]`);

/** The `when` (and a label for task names) of a variant covering `pairs` out of `all`. */
export function variantCondition(
  pairs: Array<[string, string]>,
  all: Array<[string, string]>,
): { when?: string; label: string } {
  const key = (x: [string, string]) => x.join('\0');
  const mine = new Set(pairs.map(key));
  if (mine.size === all.length) return { label: '' };
  const same = (sel: Array<[string, string]>) => sel.length === mine.size && sel.every((x) => mine.has(key(x)));
  const hosts = [...new Set(pairs.map((x) => x[0]))];
  const distros = PROFILE_IDS.filter((d) => pairs.some((x) => x[1] === d));
  if (same(all.filter((x) => distros.includes(x[1]))))
    return { when: `meshbook_distro${list(distros)}`, label: ` [${distros.join(', ')}]` };
  if (same(all.filter((x) => hosts.includes(x[0]))))
    return { when: `inventory_hostname${list(hosts)}`, label: ` [${hosts.join(', ')}]` };
  if (same(all.filter((x) => hosts.includes(x[0]) && distros.includes(x[1])))) {
    return {
      when: `inventory_hostname${list(hosts)} and meshbook_distro${list(distros)}`,
      label: ` [${hosts.join(', ')}: ${distros.join(', ')}]`,
    };
  }
  const per = hosts.map((h) => {
    const ds = pairs.filter((x) => x[0] === h).map((x) => x[1]);
    const full = all.filter((x) => x[0] === h).length === ds.length;
    return full ? `inventory_hostname == '${h}'` : `(inventory_hostname == '${h}' and meshbook_distro${list(ds)})`;
  });
  return {
    when: per.join(' or '),
    label: ` [${hosts
      .map(
        (h) =>
          `${h}: ${pairs
            .filter((x) => x[0] === h)
            .map((x) => x[1])
            .join(', ')}`,
      )
      .join('; ')}]`,
  };
}

export interface StepOut {
  tasks: Task[]; // blocks, one per distinct rendering
  onFailure: boolean;
  interpreted: boolean; // a probe whose output meshbook interprets (not exported)
  consent: boolean; // a change gated on -e meshbook_yes=true
}

/** A VM step as blocks of tasks; a cluster step as a note (meshbook runs it). */
export function stepTasks(
  rb: Runbook,
  step: Step,
  vms: Vm[],
  env: Record<string, string>,
  lab: boolean,
  book: SecretBook,
  envShown: string,
  labRules?: LabRules,
): StepOut {
  const id = `${rb.name}/${step.id}`;
  const comment = [
    ` == ${id}: ${step.title}  ` +
      `[article ${step.article}]${step.when === 'on-failure' ? '  (runs only where a step failed)' : ''}`,
    ...(step.notes ?? []).map((x) => ` note: ${x}`),
  ].join('\n');
  if (step.target === 'cluster') {
    return {
      onFailure: step.when === 'on-failure',
      interpreted: false,
      consent: false,
      tasks: [
        {
          [COMMENT]: comment,
          ...say(
            id,
            `cluster step, not exported: meshbook runs it (meshbook rebuild ${rb.name} ` +
              `--only ${step.id} --env ${envShown})${lab ? '; not in lab' : ''}`,
          ),
          run_once: true,
        },
      ],
    };
  }
  const all: Array<[string, string]> = [];
  const variants: Array<{ pairs: Array<[string, string]>; key: string; ctx: HostCtx; action: VmAction }> = [];
  for (const vm of vms) {
    for (const d of vm.distro ? [vm.distro] : PROFILE_IDS) {
      const ctx: HostCtx = { vm, env, lab, distro: d, cluster: {}, facts: { distro: d, family: profile(d).family } };
      const action = vmActionOf(step, id, ctx, labRules);
      const key = JSON.stringify(actionTasks({ id, prefix: id, reg: 'REG', ctx, action, book, lab }));
      all.push([vm.name, d]);
      const v = variants.find((x) => x.key === key);
      if (v) v.pairs.push([vm.name, d]);
      else variants.push({ pairs: [[vm.name, d]], key, ctx, action });
    }
  }
  const norms = variants.map((v) => normalize(v.action, lab));
  const tasks = variants.map((v, i) => {
    const c = variantCondition(v.pairs, all);
    const block = actionTasks({
      id,
      prefix: `${id}${c.label}`,
      reg: regName(id, i),
      ctx: v.ctx,
      action: v.action,
      book,
      lab,
    });
    return {
      ...(i === 0 ? { [COMMENT]: comment } : {}),
      name: `${id}${c.label}: ${step.title}`,
      ...(c.when ? { when: c.when } : {}),
      block,
    };
  });
  return {
    tasks,
    onFailure: step.when === 'on-failure',
    interpreted: norms.some((n) => !n.skip && n.probe && n.interpreted),
    consent: norms.some((n) => !n.skip && !!n.consent && !!n.apply),
  };
}

// What a rebuild would do, per host, without connecting anywhere: as text, as a
// reviewable bash script, or as JSON. A VM with no declared distro gets every known
// profile's branch of the steps whose commands differ per distro.
import type { ClusterAction, ClusterCtx, HostCtx, LabRules, LocalCmd, Runbook, VmAction } from './types.ts';
import { showCmd } from './local.ts';
import { clusterActionOf, labCluster, needLabRules, vmActionOf } from './action.ts';
import { workDirFor } from './journal.ts';
import type { Loaded } from './inputs.ts';
import { PRELUDE, type Script } from './sh.ts';
import { PROFILE_IDS, profile } from './distro.ts';
import { sshArgv, remoteShell } from './ssh.ts';
import { quote } from 'zx';
import path from 'node:path';

const shown = (f: string) => path.relative(process.cwd(), f) || f;

export interface PlannedAction {
  distro?: string; // set when the branch is for one distro
  skip?: string;
  notInLab?: string;
  labStandIn?: string;
  consent?: string;
  scripts: Array<{
    role: 'probe' | 'check' | 'change' | 'verify';
    kind: Script['kind'];
    script: string;
    changeCodes?: number[];
  }>;
}
export interface PlannedStep {
  id: string;
  title: string;
  article: string;
  notes: string[];
  when: string;
  hosts: Array<{ host: string; branches: PlannedAction[] }>;
}

type Runnable = Script | LocalCmd;
const shown1 = (r: Runnable) => ('display' in r ? r.display : showCmd(r));

export function planned(a: VmAction | ClusterAction, distro: string | undefined, lab: boolean): PlannedAction {
  const p: PlannedAction = { distro, scripts: [] };
  if (a.skip) {
    p.skip = a.skip;
    return p;
  }
  let check: Runnable | undefined = a.check;
  let apply: Runnable[] = Array.isArray(a.apply) ? a.apply : a.apply ? [a.apply] : [];
  let verify: Runnable | undefined = a.verify;
  if (a.notInLab) p.notInLab = a.notInLab;
  if (lab && a.notInLab) {
    const s = 'labStandIn' in a ? a.labStandIn : undefined;
    p.labStandIn = s?.what;
    check = s?.check ?? check;
    apply = s?.apply ? [s.apply] : [];
    verify = s?.verify;
  }
  const r = lab && 'onRunner' in a ? a.onRunner : undefined;
  if (r) {
    p.labStandIn = `on the runner's machine: ${r.what}`;
    check = r.check;
    apply = r.apply ?? [];
    verify = r.verify;
  }
  if (a.consent) p.consent = a.consent;
  const add = (role: PlannedAction['scripts'][0]['role'], s?: Runnable) =>
    s &&
    p.scripts.push({
      role,
      kind: s.kind,
      script: shown1(s),
      ...('argv' in s && s.changeCodes ? { changeCodes: s.changeCodes } : {}),
    });
  add('probe', r ? r.probe : a.probe);
  add('check', check);
  for (const x of apply) add('change', x);
  add('verify', verify);
  return p;
}

/** `labRules`: the lab's rules by step id (lab/stand-ins); required for a lab env. Given for
 *  any env, a step's declared not-in-lab reason is in the plan (JSON) as well. */
export function plan(runbooks: Runbook[], loaded: Loaded, opts: { labRules?: LabRules } = {}): PlannedStep[] {
  needLabRules(loaded.lab, opts.labRules, 'plan');
  const out: PlannedStep[] = [];
  for (const rb of runbooks)
    for (const step of rb.steps) {
      const id = `${rb.name}/${step.id}`;
      const ps: PlannedStep = {
        id,
        title: step.title,
        article: step.article,
        notes: step.notes ?? [],
        when: step.when ?? 'always',
        hosts: [],
      };
      if (step.target === 'cluster') {
        const cctx: ClusterCtx = {
          env: loaded.env,
          facts: {},
          lab: loaded.lab,
          vms: loaded.inventory.vms,
          workDir: workDirFor(loaded.envFile),
          envFile: loaded.envFile,
        };
        ps.hosts.push({
          host: 'cluster',
          branches: [
            planned(
              labCluster(clusterActionOf(step, id, cctx, opts.labRules), loaded.lab && loaded.env.LAB_CLUSTER !== '1'),
              undefined,
              loaded.lab,
            ),
          ],
        });
        out.push(ps);
        continue;
      }
      for (const vm of loaded.inventory.vms) {
        const distros = vm.distro ? [vm.distro] : step.perDistro ? PROFILE_IDS : [undefined];
        const branches = distros.map((d) => {
          const ctx: HostCtx = {
            vm,
            env: loaded.env,
            lab: loaded.lab,
            distro: d,
            cluster: {},
            vms: loaded.inventory.vms,
            facts: d ? { distro: d, family: profile(d).family } : {},
          };
          return planned(
            vmActionOf(step, id, ctx, opts.labRules),
            step.perDistro && !vm.distro ? d : undefined,
            loaded.lab,
          );
        });
        ps.hosts.push({ host: vm.name, branches });
      }
      out.push(ps);
    }
  return out;
}

const indent = (s: string, n: number) =>
  s
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

export function planText(steps: PlannedStep[], loaded: Loaded): string {
  const lines: string[] = [
    `meshbook plan for ${shown(loaded.envFile)} (${loaded.inventory.vms.length} ` +
      `VM(s)${loaded.lab ? ', the local lab' : ''}); nothing was run, secrets are shown as ***NAME***`,
  ];
  for (const s of steps) {
    lines.push(
      '',
      `== ${s.id}: ${s.title}  ` +
        `[article ${s.article}]${s.when === 'on-failure' ? '  (runs only where a step failed)' : ''}`,
    );
    for (const n of s.notes) lines.push(`   note: ${n}`);
    // hosts whose branches are identical are shown once
    const groups = new Map<string, string[]>();
    for (const h of s.hosts) {
      const key = JSON.stringify(h.branches);
      groups.set(key, [...(groups.get(key) ?? []), h.host]);
    }
    for (const [key, names] of groups) {
      const branches: PlannedAction[] = JSON.parse(key);
      for (const b of branches) {
        lines.push(`   on ${names.join(', ')}${b.distro ? ` when distro is ${b.distro}` : ''}:`);
        if (b.skip) {
          lines.push(`     skipped: ${b.skip}`);
          continue;
        }
        if (b.notInLab && loaded.lab) lines.push(`     not in lab: ${b.notInLab}`);
        if (b.labStandIn) lines.push(`     lab stand-in: ${b.labStandIn}`);
        if (b.consent) lines.push(`     needs consent (--yes): ${b.consent}`);
        for (const sc of b.scripts) {
          lines.push(`     ${sc.role} (${sc.kind}):`, indent(sc.script, 7));
        }
      }
    }
  }
  return lines.join('\n');
}

const DETECT = String.raw`. /etc/os-release
case "$ID:$VERSION_ID" in
  alinux:2*) echo alinux-2.1903 ;;
  centos:8*) echo centos-8 ;;
  ubuntu:20.04) echo ubuntu-20.04 ;;
  *) echo "unknown distro ID=$ID VERSION_ID=$VERSION_ID" >&2; exit 1 ;;
esac`;

export function planSh(steps: PlannedStep[], loaded: Loaded): string {
  const fn = (h: string) => `on_${h.replace(/-/g, '_')}`;
  const out: string[] = [
    '#!/usr/bin/env bash',
    `# meshbook plan for ${shown(loaded.envFile)}: the same commands a rebuild runs, for review.`,
    '# Secrets are masked as ***NAME***: this script does not carry them.',
    '# A check exits 0 when nothing needs to change and 10 when the change must run.',
    'set -euo pipefail',
    `MESHBOOK_PRELUDE=${quote(PRELUDE)}`,
  ];
  for (const vm of loaded.inventory.vms) {
    const argv = sshArgv(
      vm,
      {
        knownHosts: loaded.env.SSH_KNOWN_HOSTS || '.meshbook/known_hosts',
        netns: loaded.inventory.netns,
        connectTimeoutS: 10,
        commandTimeoutMs: 0,
      },
      remoteShell(vm),
    );
    out.push(`${fn(vm.name)}() { ${argv.map(quote).join(' ')} < <(printf '%s\\n' "$MESHBOOK_PRELUDE"; cat); }`);
  }
  for (const vm of loaded.inventory.vms) {
    if (!vm.distro)
      out.push(`DISTRO_${vm.name.replace(/-/g, '_')}=$(${fn(vm.name)} <<'MESHBOOK_EOF'\n${DETECT}\nMESHBOOK_EOF\n)`);
  }
  const heredoc = (h: string, s: string, suffix = '') =>
    h !== 'cluster'
      ? `${fn(h)} <<'MESHBOOK_EOF'${suffix}\n${s}\nMESHBOOK_EOF`
      : s.includes("<<'MESHBOOK_STDIN'")
        ? s.replace("<<'MESHBOOK_STDIN'", `<<'MESHBOOK_STDIN'${suffix}`)
        : `${s}${suffix}`;
  for (const s of steps) {
    out.push('', `# == ${s.id}: ${s.title} [article ${s.article}]`);
    for (const n of s.notes) out.push(`# note: ${n}`);
    if (s.when === 'on-failure') {
      out.push('# runs only on a VM where an earlier step failed: see meshbook rebuild');
      continue;
    }
    for (const h of s.hosts) {
      const body = (b: PlannedAction): string[] => {
        if (b.skip) return [`echo ${quote(`${h.host}: skipped: ${b.skip}`)}`];
        const by = Object.fromEntries(b.scripts.map((x) => [x.role, x.script]));
        const lines: string[] = [];
        if (b.notInLab && loaded.lab) lines.push(`# not in lab: ${b.notInLab}`);
        if (b.consent) lines.push(`# needs consent: ${b.consent}`);
        if (by.probe) lines.push(heredoc(h.host, by.probe));
        if (by.check) {
          lines.push(`rc=0; ${heredoc(h.host, by.check, ' || rc=$?')}`);
          const codes = b.scripts.find((x) => x.role === 'check')?.changeCodes ?? [10];
          const changes = b.scripts.filter((x) => x.role === 'change').map((x) => heredoc(h.host, x.script));
          if (changes.length) {
            lines.push(`if ${codes.map((c) => `[ "$rc" = ${c} ]`).join(' || ')}; then`, ...changes);
            if (by.verify) lines.push(heredoc(h.host, by.verify));
            lines.push(`elif [ "$rc" != 0 ]; then echo ${quote(`${h.host}: ${s.id}: check failed`)} >&2; exit 1; fi`);
          }
        } else if (by.change) {
          lines.push(...b.scripts.filter((x) => x.role === 'change').map((x) => heredoc(h.host, x.script)));
          if (by.verify) lines.push(heredoc(h.host, by.verify));
        }
        return lines;
      };
      out.push(`# on ${h.host}`);
      if (h.branches.length === 1) out.push(...body(h.branches[0]));
      else {
        out.push(`case "$DISTRO_${h.host.replace(/-/g, '_')}" in`);
        for (const b of h.branches) out.push(`${b.distro})`, ...body(b).map((l) => l), ';;');
        out.push('esac');
      }
    }
  }
  return out.join('\n') + '\n';
}

// Faults on lab VMs: a read-only destination (never half-written, resumed after the fix),
// a VM that does not answer SSH at all (connect timeout), a VM whose traffic is dropped
// mid-step and one whose sshd is killed mid-step (ServerAlive ends the step, nothing
// hangs). Each failed host gets one summary line: host, step, cause, next action; the
// other VMs finish every step.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { labUp, labDown, vmExec, readState, resolveConfig } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks, type HostResult, type RunReport } from '../scripts/engine/runner.ts';
import { failuresSummary, textHooks } from '../scripts/engine/report.ts';
import { Journal } from '../scripts/engine/journal.ts';
import { probe, mutate } from '../scripts/engine/sh.ts';
import { controlPath, masters } from '../scripts/engine/ssh.ts';
import { $ } from 'zx';
import type { Runbook } from '../scripts/engine/types.ts';
import avp from '../scripts/asm-vm-proxy/index.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-flt-'));
const lab = {
  prefix: `mbflt${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};
const VMS = ['vm1', 'vm2', 'vm3', 'vm4'];

/** mark -> slow (sleep S) -> after, on files named by tag */
function slowRb(tag: string, sleepS: number): Runbook {
  const f = (n: string) => `/opt/${tag}-${n}`;
  return {
    name: tag,
    title: tag,
    article: 'test',
    summary: 'test',
    inputs: [],
    steps: [
      {
        id: '01-mark',
        title: 'mark',
        article: '-',
        target: 'vm',
        vm: () => ({
          check: probe`test -f ${f('mark')} || exit 10`,
          apply: mutate`touch ${f('mark')}`,
          verify: probe`test -f ${f('mark')}`,
        }),
      },
      {
        id: '02-slow',
        title: 'slow',
        article: '-',
        target: 'vm',
        vm: () => ({
          check: probe`test -f ${f('slow')} || exit 10`,
          apply: mutate`sleep ${sleepS} && touch ${f('slow')}`,
        }),
      },
      {
        id: '03-after',
        title: 'after',
        article: '-',
        target: 'vm',
        vm: () => ({ check: probe`test -f ${f('after')} || exit 10`, apply: mutate`touch ${f('after')}` }),
      },
    ],
  };
}

const status = (rep: RunReport, step: string, host: string) =>
  rep.records.find((r) => r.id.endsWith(`/${step}`))?.hosts[host]?.status;

async function runTimed(
  rb: Runbook,
  env: string,
  o: { connectTimeoutS?: number; commandTimeoutMs?: number; during?: () => Promise<void>; at?: number } = {},
) {
  const loaded = loadInputs(env, [rb]);
  const ssh = {
    knownHosts: loaded.env.SSH_KNOWN_HOSTS,
    netns: loaded.inventory.netns,
    connectTimeoutS: o.connectTimeoutS ?? 3,
    commandTimeoutMs: o.commandTimeoutMs ?? 60_000,
  };
  const t0 = Date.now();
  const doneAt: Record<string, number> = {};
  let faultAt = 0;
  if (o.during)
    setTimeout(() => {
      faultAt = Date.now() - t0;
      void o.during!();
    }, o.at ?? 2000);
  const rep = await runRunbooks([rb], loaded, {
    labRules: LAB_RULES,
    ssh,
    forks: 10,
    journal: new Journal(env, path.join(tmp, 'state')),
    hooks: {
      hostDone: (id, h, r) => {
        if (r.status === 'failed') doneAt[h] = Date.now() - t0;
      },
    },
  });
  return { rep, elapsed: Date.now() - t0, doneAt, faultAt: () => faultAt };
}

const iptables = (vm: string, op: '-I' | '-D') =>
  vmExec(vm, ['iptables', op, 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'], lab);

test.before(async () => {
  await labUp({ ...lab, vms: VMS.length, cluster: false });
});
test.after.always(async () => {
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('a run ends with its connections closed: no control socket, no master left', async (t) => {
  const env = lab.envFile;
  const loaded = loadInputs(env, [slowRb('fltd', 0)]);
  const ssh = {
    knownHosts: loaded.env.SSH_KNOWN_HOSTS,
    netns: loaded.inventory.netns,
    connectTimeoutS: 3,
    commandTimeoutMs: 60_000,
  };
  const sockets = loaded.inventory.vms.map((vm) => controlPath(vm, ssh));
  // each VM's master, while the run goes on (a step that sleeps keeps them up)
  // and each found by its title, which is how closing finds them (else one ssh -O exit each)
  let seen: string[] = [],
    titled: string[] = [];
  const peek = setTimeout(() => {
    seen = sockets.filter((f) => fs.existsSync(f));
    const m = masters();
    titled = sockets.filter((f) => m.has(f));
  }, 1500);
  const { rep } = await runTimed(slowRb('fltd', 3), env);
  clearTimeout(peek);
  for (const h of VMS) t.is(status(rep, '03-after', h), 'changed', h);
  t.deepEqual(seen, sockets, 'every VM had its master while the run went on');
  t.deepEqual(titled, sockets, 'every master found by its title');
  t.deepEqual(
    sockets.filter((f) => fs.existsSync(f)),
    [],
    'sockets removed',
  );
  const masterLeft = async () =>
    (await $({ nothrow: true, quiet: true })`pgrep -af ${'ssh: '}`).stdout
      .split('\n')
      .filter((l) => sockets.some((f) => l.includes(f)));
  for (let i = 0; i < 30 && (await masterLeft()).length; i++) await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(await masterLeft(), []);
});

test.serial(
  'a read-only destination: the env file fails with the known cause, is never half-written, and a rebuild resumes',
  async (t) => {
    const env = path.join(tmp, 'avp.env');
    const base = fs
      .readFileSync(lab.envFile, 'utf8')
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`);
    fs.writeFileSync(env, base.replace(/^ACCESS_KEY_ID=.*$/m, 'ACCESS_KEY_ID=LTAIfirst'), { mode: 0o600 });
    const first = await runTimed(avp, env);
    t.false(first.rep.failed, failuresSummary(first.rep).join('\n'));
    for (const h of VMS) t.is(status(first.rep, '03-env-file', h), 'changed');

    // new inputs: every env file must change; vm1's /opt/asm_vm_proxy is read-only
    fs.writeFileSync(env, base.replace(/^ACCESS_KEY_ID=.*$/m, 'ACCESS_KEY_ID=LTAIsecond'), { mode: 0o600 });
    await vmExec(
      'vm1',
      ['sh', '-c', 'mount --bind /opt/asm_vm_proxy /opt/asm_vm_proxy && mount -o remount,bind,ro /opt/asm_vm_proxy'],
      lab,
    );
    const second = await runTimed(avp, env);
    t.true(second.rep.failed);
    t.is(status(second.rep, '03-env-file', 'vm1'), 'failed');
    t.is(status(second.rep, '07-tracing', 'vm1'), 'skipped');
    for (const h of ['vm2', 'vm3', 'vm4']) t.is(status(second.rep, '03-env-file', h), 'changed');
    const lines = failuresSummary(second.rep);
    t.is(lines.length, 1, lines.join('\n'));
    t.regex(
      lines[0],
      /^vm1: asm-vm-proxy\/03-env-file: change exited 1: the VM cannot write the file \(read-only or full filesystem\); fix: .*; next: apply the fix, then rerun `meshbook rebuild asm-vm-proxy --env \S+avp\.env` to resume/,
    );
    // the old file is intact, no temp file is left beside it
    const ls = await vmExec(
      'vm1',
      ['sh', '-c', 'ls -A /opt/asm_vm_proxy; cat /opt/asm_vm_proxy/asm_vm_proxy.env'],
      lab,
    );
    t.regex(ls.stdout, /ACCESS_KEY_ID=LTAIfirst/);
    t.notRegex(ls.stdout, /meshbook\.|LTAIsecond/);

    // the fault is removed: the rebuild finishes only what is left
    await vmExec('vm1', ['umount', '/opt/asm_vm_proxy'], lab);
    const third = await runTimed(avp, env);
    t.false(third.rep.failed, failuresSummary(third.rep).join('\n'));
    t.is(status(third.rep, '03-env-file', 'vm1'), 'changed');
    t.is(status(third.rep, '07-tracing', 'vm1'), 'unchanged');
    for (const h of ['vm2', 'vm3', 'vm4']) t.is(status(third.rep, '03-env-file', h), 'skipped');
    const after = await vmExec(
      'vm1',
      [
        'sh',
        '-c',
        'ls -A /opt/asm_vm_proxy; stat -c %a /opt/asm_vm_proxy/asm_vm_proxy.env; ' +
          'cat /opt/asm_vm_proxy/asm_vm_proxy.env',
      ],
      lab,
    );
    t.regex(after.stdout, /^asm_vm_proxy\.env\n600\n/);
    t.regex(after.stdout, /ACCESS_KEY_ID=LTAIsecond/);
  },
);

test.serial('a VM that does not answer SSH fails within the connect timeout; the others finish', async (t) => {
  await iptables('vm2', '-I');
  try {
    const { rep, doneAt, elapsed } = await runTimed(slowRb('flta', 1), lab.envFile, { connectTimeoutS: 3 });
    t.is(status(rep, '01-mark', 'vm2'), 'failed');
    t.true(doneAt.vm2 < 6000, `vm2 failed after ${doneAt.vm2} ms`);
    t.true(elapsed < 20_000, `the run took ${elapsed} ms`);
    for (const h of ['vm1', 'vm3', 'vm4'])
      for (const s of ['01-mark', '02-slow', '03-after']) t.is(status(rep, s, h), 'changed', `${s} on ${h}`);
    const lines = failuresSummary(rep);
    t.is(lines.length, 1, lines.join('\n'));
    t.regex(
      lines[0],
      /^vm2: flta\/01-mark: check: ssh could not reach root@\S+:22: the VM is not reachable over SSH; fix: check host\/port .*; next: apply the fix, then rerun `meshbook rebuild flta --env \S+` to resume/,
    );
  } finally {
    await iptables('vm2', '-D');
  }
});

test.serial(
  'a VM whose traffic is dropped mid-step fails within the keepalive time, never hangs; the others finish',
  async (t) => {
    const { rep, doneAt, faultAt, elapsed } = await runTimed(slowRb('fltb', 12), lab.envFile, {
      connectTimeoutS: 3,
      during: () => iptables('vm3', '-I').then(() => undefined),
    });
    try {
      t.is(status(rep, '01-mark', 'vm3'), 'changed');
      t.is(status(rep, '02-slow', 'vm3'), 'failed');
      t.is(status(rep, '03-after', 'vm3'), 'skipped');
      // keepalives every 2 s (connect timeout 3 s), three missed: 6-8 s, well before the 60 s command
      // limit; 15 s leaves room for a loaded 2-core machine (11.1 s was seen with other labs running)
      t.true(doneAt.vm3 - faultAt() < 15_000, `vm3 failed ${doneAt.vm3 - faultAt()} ms after its traffic was dropped`);
      t.true(elapsed < 30_000, `the run took ${elapsed} ms`);
      for (const h of ['vm1', 'vm2', 'vm4']) t.is(status(rep, '03-after', h), 'changed', h);
      const lines = failuresSummary(rep);
      t.is(lines.length, 1, lines.join('\n'));
      t.regex(
        lines[0],
        /^vm3: fltb\/02-slow: change: root@\S+:22 stopped answering mid-command \(connection lost\); next: .*rerun `meshbook rebuild fltb --env \S+` to resume/,
      );
    } finally {
      await iptables('vm3', '-D');
    }
  },
);

test.serial('a command past its time limit fails with "timed out" and is stopped on the VM', async (t) => {
  const { rep, elapsed } = await runTimed(slowRb('fltt', 60), lab.envFile, { commandTimeoutMs: 1500 });
  t.true(elapsed < 15_000, `the run took ${elapsed} ms`);
  for (const h of VMS) {
    t.is(status(rep, '02-slow', h), 'failed');
    t.regex(rep.records[1].hosts[h].error!, /^change timed out after 1\.5 s \(host stopped answering\?\)/);
  }
  const ps = await vmExec('vm1', ['sh', '-c', 'pgrep -x sleep || true'], { ...lab, nothrow: true });
  t.is(ps.stdout.trim(), '', 'the timed-out command still runs on vm1');
});

test.serial(
  'consecutive VM steps share one round trip, each reported ' +
    'as it ends; a cluster step that runs comes between, in order',
  async (t) => {
    const tag = 'trip';
    const log = `/opt/${tag}.log`;
    // each part appends "<step> <pid of the remote script> <time in ms>" ($$ is the same in every part of one trip)
    const rec = (s: string) => mutate`printf '%s %s %s\n' ${s} "$$" "$(date +%s%3N)" >> ${log}`;
    const vmStep = (id: string, extra = '') => ({
      id,
      title: id,
      article: '-',
      target: 'vm' as const,
      vm: () => ({
        check: probe`grep -q ${`^${id} `} ${log} 2>/dev/null || exit 10`,
        apply: extra ? mutate`${rec(id)}; sleep ${extra}` : rec(id),
      }),
    });
    const clusterCalls: number[] = [];
    const provider = {
      name: 'stub',
      async run(cmd: { argv: string[] }) {
        clusterCalls.push(Date.now());
        return { code: cmd.argv[0] === 'check' ? 10 : 0, stdout: '', stderr: '' };
      },
    };
    const rb: Runbook = {
      name: tag,
      title: tag,
      article: 'test',
      summary: 'test',
      inputs: [],
      steps: [
        vmStep('01-a'),
        vmStep('02-b', '1.5'),
        vmStep('03-c'),
        {
          id: '04-cluster',
          title: 'cluster',
          article: '-',
          target: 'cluster',
          cluster: () => ({ check: { kind: 'probe', argv: ['check'] }, apply: [{ kind: 'mutate', argv: ['apply'] }] }),
        },
        vmStep('05-d'),
      ],
    };
    const loaded = loadInputs(lab.envFile, [rb]);
    const ssh = {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 3,
      commandTimeoutMs: 60_000,
    };
    const t0 = Date.now();
    const doneAt: Record<string, number[]> = {};
    const rep = await runRunbooks([rb], loaded, {
      labRules: LAB_RULES,
      ssh,
      forks: 10,
      cluster: provider,
      hooks: {
        hostDone: (id, h, r) => {
          if (h === 'vm1') (doneAt[id] ??= []).push(Date.now() - t0);
          t.not(r.status, 'failed', `${id} on ${h}: ${r.error}`);
        },
      },
    });
    t.false(rep.failed, failuresSummary(rep).join('\n'));
    // 01 is reported long before the trip's 1.5 s sleep in 02 ends
    t.true(doneAt[`${tag}/01-a`][0] + 1000 < doneAt[`${tag}/02-b`][0], JSON.stringify(doneAt));
    for (const h of VMS) {
      const lines = (await vmExec(h, ['cat', log], lab)).stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' '));
      t.deepEqual(
        lines.map((l) => l[0]),
        ['01-a', '02-b', '03-c', '05-d'],
        h,
      );
      t.is(new Set(lines.slice(0, 3).map((l) => l[1])).size, 1, `${h}: 01-03 in one ssh session`);
      t.not(lines[3][1], lines[0][1], `${h}: 05 after the cluster step is a trip of its own`);
      // the cluster step ran after 03 on every VM and before 05 on any
      t.true(
        Number(lines[2][2]) <= clusterCalls[0] && clusterCalls[1] <= Number(lines[3][2]),
        `${h}: ${lines.map((l) => l.join(' ')).join(' | ')}; cluster at ${clusterCalls.join(',')}`,
      );
    }
    t.is(clusterCalls.length, 2, 'check and change of the cluster step');

    // --from: a step that runs anyway (it gathers facts) never carries steps before the starting point
    for (const h of VMS) await vmExec(h, ['rm', '-f', log], lab);
    const gathering: Runbook = {
      ...rb,
      steps: rb.steps.map((s) => (s.id === '01-a' ? { ...s, gathersFacts: true } : s)),
    };
    const again = await runRunbooks([gathering], loadInputs(lab.envFile, [gathering]), {
      labRules: LAB_RULES,
      ssh,
      forks: 10,
      cluster: provider,
      from: '03-c',
    });
    t.false(again.failed, failuresSummary(again).join('\n'));
    for (const h of VMS) {
      const lines = (await vmExec(h, ['cat', log], lab)).stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]);
      t.deepEqual(lines, ['01-a', '03-c', '05-d'], h);
    }
  },
);

test.serial(
  '--forks holds while steps go along in a trip: with --forks 1 no two VMs are worked on at once',
  async (t) => {
    const log = '/opt/forks.log';
    const step = (id: string, sleep = '') => ({
      id,
      title: id,
      article: '-',
      target: 'vm' as const,
      vm: () => ({
        check: probe`grep -q ${`^${id} `} ${log} 2>/dev/null || exit 10`,
        apply: mutate`printf '%s start %s\n' ${id} "$(date +%s%3N)" >> ${log}; sleep ${sleep || '0'}; printf '%s end %s\n' ${id} "$(date +%s%3N)" >> ${log}`,
      }),
    });
    const rb: Runbook = {
      name: 'forks',
      title: 'forks',
      article: 'test',
      summary: 'test',
      inputs: [],
      steps: [step('01-a'), step('02-b', '0.3'), step('03-c')],
    };
    const loaded = loadInputs(lab.envFile, [rb]);
    const ssh = {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 3,
      commandTimeoutMs: 60_000,
    };
    const rep = await runRunbooks([rb], loaded, { labRules: LAB_RULES, ssh, forks: 1 });
    t.false(rep.failed, failuresSummary(rep).join('\n'));
    const spans: Array<[string, number, number]> = [];
    for (const h of VMS) {
      const times = (await vmExec(h, ['cat', log], lab)).stdout
        .trim()
        .split('\n')
        .map((l) => Number(l.split(' ')[2]));
      t.is(times.length, 6, h);
      spans.push([h, Math.min(...times), Math.max(...times)]);
    }
    spans.sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < spans.length; i++)
      t.true(spans[i][1] >= spans[i - 1][2], `${spans[i - 1][0]} and ${spans[i][0]} overlap: ${JSON.stringify(spans)}`);
  },
);

test.serial('a VM whose sshd is killed mid-step fails at once; the others finish', async (t) => {
  const state = await readState(resolveConfig(lab));
  const pid = state!.vms.find((v) => v.name === 'vm4')!.sshd!.pid;
  const { rep, doneAt, faultAt } = await runTimed(slowRb('fltc', 6), lab.envFile, {
    connectTimeoutS: 3,
    during: async () => {
      process.kill(pid, 'SIGKILL');
    },
  });
  t.is(status(rep, '02-slow', 'vm4'), 'failed');
  t.true(doneAt.vm4 - faultAt() < 8000, `vm4 failed ${doneAt.vm4 - faultAt()} ms after its sshd was killed`);
  for (const h of ['vm1', 'vm2', 'vm3']) t.is(status(rep, '03-after', h), 'changed', h);
  const lines = failuresSummary(rep);
  t.is(lines.length, 1, lines.join('\n'));
  t.regex(lines[0], /^vm4: fltc\/02-slow: change: .*next: .*rerun `meshbook rebuild fltc --env \S+` to resume/);
});

test('fleet output when not on a terminal: one [host] line per result as it arrives, a count per step', (t) => {
  const out: string[] = [];
  const hooks = textHooks((s) => out.push(s), false);
  const hosts = Array.from({ length: 8 }, (_, i) => `vm${i + 1}`);
  const step = { id: '01-x', title: 'x', article: '§1', target: 'vm' as const };
  hooks.stepStart?.(step, 'rb/01-x', hosts);
  hooks.running?.('rb/01-x', hosts);
  const rec = { id: 'rb/01-x', title: 'x', article: '§1', hosts: {} as Record<string, HostResult> };
  for (const h of hosts) {
    hooks.hostStart?.('rb/01-x', h);
    const r: HostResult =
      h === 'vm3'
        ? { status: 'failed', lines: [], error: 'check exited 2', tail: 'boom' }
        : { status: 'changed', lines: ['did it'] };
    rec.hosts[h] = r;
    hooks.hostDone?.('rb/01-x', h, r);
  }
  hooks.stepEnd?.(rec);
  const text = stripVTControlCharacters(out.join('\n'));
  t.regex(text, /^\[vm1\] changed$/m);
  t.regex(text, /^\[vm3\] failed {2}check exited 2$/m);
  t.regex(text, /^\[vm3\]\s+boom$/m);
  t.regex(text, /^ {2}7 changed, 1 failed$/m);
  t.notRegex(text, /did it/);
});

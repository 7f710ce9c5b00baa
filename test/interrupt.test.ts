// Ctrl-C during a rebuild: what runs on the VMs is stopped (not left running), the
// journal stays consistent, and the next run resumes exactly where it stopped.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labUp, labDown, vmExec } from '../lab/vms.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';
import { Journal } from '../scripts/engine/journal.ts';
import { probe, mutate } from '../scripts/engine/sh.ts';
import type { Runbook } from '../scripts/engine/types.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-int-'));
const lab = {
  prefix: `mbint${process.pid % 100000}`,
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
};

// a runbook whose second step takes long enough to be interrupted
const rb: Runbook = {
  name: 'slow',
  title: 'slow',
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
        check: probe`test -f /opt/mark || exit 10`,
        apply: mutate`touch /opt/mark`,
      }),
    },
    {
      id: '02-slow',
      title: 'slow',
      article: '-',
      target: 'vm',
      vm: () => ({
        check: probe`test -f /opt/slow-done || exit 10`,
        apply: mutate`sleep 30 && touch /opt/slow-done`,
      }),
    },
    {
      id: '03-after',
      title: 'after',
      article: '-',
      target: 'vm',
      vm: () => ({
        check: probe`test -f /opt/after || exit 10`,
        apply: mutate`touch /opt/after`,
      }),
    },
  ],
};

test.after.always(() => labDown(lab));

test.serial('an interrupted run stops the remote command and the next run resumes', async (t) => {
  await labUp({ ...lab, vms: 2 });
  const loaded = loadInputs(lab.envFile, [rb]);
  const known = loaded.env.SSH_KNOWN_HOSTS;
  const ssh = { knownHosts: known, netns: loaded.inventory.netns, connectTimeoutS: 5, commandTimeoutMs: 60_000 };
  const journal = new Journal(lab.envFile, path.join(tmp, 'state'));
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 2500);
  const first = await runRunbooks([rb], loaded, { labRules: LAB_RULES, ssh, journal, signal: ac.signal });
  t.true(Date.now() - started < 15_000, 'the interrupt was not waited out');
  t.truthy(first.stopped);
  const slow = first.records.find((r) => r.id === 'slow/02-slow')!;
  t.is(slow.hosts.vm1.status, 'failed');
  t.regex(slow.hosts.vm1.error!, /interrupted/);
  t.is(
    first.records.find((r) => r.id === 'slow/03-after'),
    undefined,
  );
  t.true(journal.resuming);

  // the sleep was stopped on the VMs, not left running
  for (const vm of ['vm1', 'vm2']) {
    const ps = await vmExec(vm, ['sh', '-c', 'pgrep -x sleep || true'], { ...lab, nothrow: true });
    t.is(ps.stdout.trim(), '', `sleep still runs on ${vm}`);
  }

  // resume: 01 is skipped as done, 02 runs again (it did not finish), 03 runs
  const fast: Runbook = {
    ...rb,
    steps: rb.steps.map((s) =>
      s.id === '02-slow'
        ? { ...s, vm: () => ({ check: probe`test -f /opt/slow-done || exit 10`, apply: mutate`touch /opt/slow-done` }) }
        : s,
    ),
  };
  const second = await runRunbooks([fast], loadInputs(lab.envFile, [fast]), {
    labRules: LAB_RULES,
    ssh,
    journal: new Journal(lab.envFile, path.join(tmp, 'state')),
  });
  const st = (id: string) => second.records.find((r) => r.id === `slow/${id}`)!.hosts.vm1.status;
  t.is(st('01-mark'), 'skipped');
  t.is(st('02-slow'), 'changed');
  t.is(st('03-after'), 'changed');
  t.false(second.failed);
});

test.serial(
  'interrupted while steps went along in a trip: what finished on a VM is reported and journaled, the rest resumes',
  async (t) => {
    // vm1 runs 01-03 in one trip at once; vm2 hangs in its 02 (the runner is still at 01 then)
    const mk = (n: string) => `/opt/t2-${n}`;
    const rb2: Runbook = {
      name: 'trip',
      title: 'trip',
      article: 'test',
      summary: 'test',
      inputs: [],
      steps: ['01', '02', '03'].map((n) => ({
        id: `${n}-s`,
        title: n,
        article: '-',
        target: 'vm' as const,
        vm: () => ({
          check: probe`test -f ${mk(n)} || exit 10`,
          apply:
            n === '02' ? mutate`if [ -f ${mk('hang')} ]; then sleep 30; fi; touch ${mk(n)}` : mutate`touch ${mk(n)}`,
        }),
      })),
    };
    const loaded = loadInputs(lab.envFile, [rb2]);
    const ssh = {
      knownHosts: loaded.env.SSH_KNOWN_HOSTS,
      netns: loaded.inventory.netns,
      connectTimeoutS: 5,
      commandTimeoutMs: 60_000,
    };
    const state = path.join(tmp, 'state2');
    await vmExec('vm2', ['touch', mk('hang')], lab);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 2000);
    const first = await runRunbooks([rb2], loaded, {
      labRules: LAB_RULES,
      ssh,
      journal: new Journal(lab.envFile, state),
      signal: ac.signal,
    });
    const st = (rep: typeof first, id: string, h: string) =>
      rep.records.find((r) => r.id === `trip/${id}-s`)?.hosts[h]?.status;
    t.truthy(first.stopped);
    t.is(st(first, '03', 'vm1'), 'changed', 'vm1 finished the whole trip before the interrupt: reported');
    t.is(st(first, '02', 'vm2'), 'failed');
    t.is(
      st(first, '03', 'vm2'),
      'skipped',
      'vm2 failed (interrupted) in 02: 03 is skipped there, as after any failure',
    );
    await vmExec('vm2', ['rm', mk('hang')], lab);
    const again = await runRunbooks([rb2], loadInputs(lab.envFile, [rb2]), {
      labRules: LAB_RULES,
      ssh,
      journal: new Journal(lab.envFile, state),
    });
    t.false(again.failed);
    t.deepEqual(
      ['01', '02', '03'].map((n) => st(again, n, 'vm1')),
      ['skipped', 'skipped', 'skipped'],
      'resumed: vm1 had done everything',
    );
    t.deepEqual(
      ['01', '02', '03'].map((n) => st(again, n, 'vm2')),
      ['skipped', 'changed', 'changed'],
      'resumed: vm2 finishes what was left',
    );
  },
);

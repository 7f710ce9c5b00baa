// Several steps in one round trip (scripts/engine/trip.ts chainScript): run locally with
// bash, the way the VM runs it. Per step: check; on 10 the change and the verify; on 0 the
// next step; anything else ends the trip, and nothing after it runs. The output splits back
// into per-step results, and decidedSteps says which steps are settled while it still runs.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chainScript, splitChain, decidedSteps, type Part } from '../scripts/engine/trip.ts';
import { PRELUDE, probe, mutate } from '../scripts/engine/sh.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-chain-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

const f = (n: string) => path.join(dir, n);
const step = (name: string, check: number, applyRc = 0, verifyRc = 0): Part[] => [
  { kind: 'check', script: probe`echo ${`check ${name}`}; exit ${String(check)}` },
  { kind: 'change', script: mutate`touch ${f(name)}; echo ${`changed ${name}`}; exit ${String(applyRc)}` },
  { kind: 'verify', script: probe`echo ${`verify ${name}`} >&2; exit ${String(verifyRc)}` },
];
const run = (steps: Part[][], nonce = 'n0nce') => {
  const r = spawnSync('bash', ['-s'], { input: `${PRELUDE}\n${chainScript(steps, nonce).text}\n`, encoding: 'utf8' });
  return { code: r.status ?? 255, stdout: r.stdout, stderr: r.stderr };
};

test('unchanged, changed, then a failing check: the trip ends there and the step after never runs', (t) => {
  const steps = [step('a', 0), step('b', 10), step('c', 3), step('d', 10)];
  const r = run(steps);
  t.is(r.code, 0);
  const res = splitChain(r, 'n0nce', steps);
  t.deepEqual(
    res.map((x) => x.map((p) => p.code)),
    [[0], [10, 0, 0], [3], []],
  );
  t.is(res[1][1].stdout.trim(), 'changed b');
  t.is(res[1][2].stderr.trim(), 'verify b');
  t.false(fs.existsSync(f('a')), 'an unchanged step is not changed');
  t.true(fs.existsSync(f('b')));
  t.false(fs.existsSync(f('c')), 'a failed check changes nothing');
  t.false(fs.existsSync(f('d')), 'nothing runs after a failure');
  t.is(decidedSteps(r.stdout, r.stderr, 'n0nce', steps), 4);
});

test('a failing change or verify ends the trip; a probe comes last', (t) => {
  const s1 = [step('e', 10, 1), step('f', 10)];
  const r1 = run(s1);
  t.deepEqual(
    splitChain(r1, 'n0nce', s1).map((x) => x.map((p) => p.code)),
    [[10, 1], []],
  );
  t.false(fs.existsSync(f('f')));
  const s2 = [step('g', 10, 0, 1), step('h', 10)];
  t.deepEqual(
    splitChain(run(s2), 'n0nce', s2).map((x) => x.map((p) => p.code)),
    [[10, 0, 1], []],
  );
  t.false(fs.existsSync(f('h')));
  const s3 = [step('i', 0), [{ kind: 'probe' as const, script: probe`echo probed; exit 4` }]];
  const r3 = run(s3);
  const res3 = splitChain(r3, 'n0nce', s3);
  t.is(res3[1][0].code, 4);
  t.is(res3[1][0].stdout.trim(), 'probed');
});

test(
  'partial output: a step is settled once its markers ' + 'are on both streams; a cut-off part gets the exit code',
  (t) => {
    const steps = [step('j', 10), step('k', 10)];
    const full = run(steps);
    const cut = full.stdout.indexOf('check k');
    const partOut = full.stdout.slice(0, cut);
    // stdout has step j's markers, stderr none yet: nothing is settled
    t.is(decidedSteps(partOut, '', 'n0nce', steps), 0);
    t.is(decidedSteps(partOut, full.stderr, 'n0nce', steps), 1);
    // the connection is lost during step k: j's results stand, k's check carries the 255
    const res = splitChain({ code: 255, stdout: partOut, stderr: full.stderr }, 'n0nce', steps);
    t.deepEqual(
      res[0].map((p) => p.code),
      [10, 0, 0],
    );
    t.deepEqual(
      res[1].map((p) => p.code),
      [255],
    );
  },
);

test('stdin cannot swallow the parts after it; a part that exits ends only itself', (t) => {
  const steps: Part[][] = [
    [
      { kind: 'check', script: probe`cat >/dev/null; exit 10` },
      { kind: 'change', script: mutate`exit 0` },
    ],
    [
      { kind: 'check', script: probe`exit 10` },
      { kind: 'change', script: mutate`touch ${f('l')}` },
    ],
  ];
  const r = run(steps);
  t.deepEqual(
    splitChain(r, 'n0nce', steps).map((x) => x.map((p) => p.code)),
    [
      [10, 0],
      [10, 0],
    ],
  );
  t.true(fs.existsSync(f('l')));
});

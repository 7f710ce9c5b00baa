// The lab's rules live under lab/stand-ins, by step id: a step file shows the article's
// step only, and the engine knows the lab only through the rules it is given.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { LAB_RULES } from '../lab/stand-ins/index.ts';
import { RUNBOOKS } from '../scripts/runbooks.ts';
import { plan } from '../scripts/engine/plan.ts';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { runRunbooks } from '../scripts/engine/runner.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const stepFiles = fs
  .readdirSync(path.join(ROOT, 'scripts'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) =>
    fs
      .readdirSync(path.join(ROOT, 'scripts', d.name))
      .filter((f) => /^[0-9].*\.ts$/.test(f))
      .map((f) => path.join('scripts', d.name, f)),
  );

test('no step file carries lab code (ctx.lab, notInLab, labStandIn, the lab stand-ins)', (t) => {
  t.true(stepFiles.length >= 60, `found only ${stepFiles.length} step files`);
  const bad = stepFiles.flatMap((f) => {
    const text = fs.readFileSync(path.join(ROOT, f), 'utf8');
    return [/\bctx\.lab\b/, /\bnotInLab\b/, /\blabStandIn\b/, /\blabVmFiles\b/, /from '[./]*lab\//]
      .filter((re) => re.test(text))
      .map((re) => `${f}: ${re}`);
  });
  t.deepEqual(bad, []);
});

test('the engine does not import lab/', (t) => {
  const dir = path.join(ROOT, 'scripts/engine');
  const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const bad = files.filter((f) =>
    /from '(\.\.\/)+lab\/|import\('(\.\.\/)+lab\//.test(fs.readFileSync(path.join(dir, f), 'utf8')),
  );
  t.deepEqual(bad, []);
});

test('every lab rule names a step that exists, of a kind that fits it', (t) => {
  const steps = new Map(
    RUNBOOKS.flatMap((rb) => rb.steps.map((s): [string, (typeof rb.steps)[number]] => [`${rb.name}/${s.id}`, s])),
  );
  t.true(Object.keys(LAB_RULES).length >= 20);
  for (const [id, rule] of Object.entries(LAB_RULES)) {
    const step = steps.get(id);
    t.truthy(step, `lab rule for ${id}: no such step`);
    t.true(!!(rule.notInLab || rule.standIn || rule.inLab), `lab rule for ${id} does nothing`);
    if (rule.standIn) t.is(step?.target, 'vm', `${id}: a stand-in is for a VM step`);
  }
});

test('a lab env is not planned or run without the lab rules', async (t) => {
  const rbs = RUNBOOKS.filter((rb) => rb.name === 'asm-vm-proxy');
  const real = loadInputs('envs/asm-vm-proxy.env.example', rbs);
  const lab = { ...real, lab: true };
  t.throws(() => plan(rbs, lab), { message: /no lab rules were given/ });
  await t.throwsAsync(
    runRunbooks(rbs, lab, { ssh: { knownHosts: '/nonexistent', connectTimeoutS: 1, commandTimeoutMs: 1000 } }),
    { message: /no lab rules were given/ },
  );
  const docker = plan(rbs, lab, { labRules: LAB_RULES }).find((s) => s.id === 'asm-vm-proxy/02-install-docker')!;
  // a lab VM with its own Docker daemon (runtime: docker) runs the real check; the lab never
  // installs packages: its change says so and fails
  const b = docker.hosts[0].branches[0];
  t.is(b.notInLab, undefined);
  t.regex(JSON.stringify(b.scripts), /no package mirror to install from/);
  const noDaemon = {
    ...lab,
    inventory: { ...lab.inventory, vms: lab.inventory.vms.map((v) => ({ ...v, runtime: 'process' as const })) },
  };
  const d2 = plan(rbs, noDaemon, { labRules: LAB_RULES }).find((s) => s.id === 'asm-vm-proxy/02-install-docker')!;
  t.regex(d2.hosts[0].branches[0].notInLab!, /has no Docker daemon/);
  t.deepEqual(
    d2.hosts[0].branches[0].scripts.map((s) => s.role),
    ['check'],
  );
});

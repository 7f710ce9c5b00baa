// Golden plans: what a rebuild would send, per distro, in the three formats. Regenerate
// after an intended change with UPDATE_GOLDEN=1 npx ava test/plan.test.ts, and review the diff.
import test from 'ava';
import fs from 'node:fs';
import { $ } from 'zx';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { plan, planText, planSh } from '../scripts/engine/plan.ts';
import { RUNBOOKS, findRunbook } from '../scripts/runbooks.ts';
import { PROFILE_IDS } from '../scripts/engine/distro.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

process.env.HOME = '/root';
process.env.TMPDIR = '/tmp';
// the plan names meshbook's work directory (.meshbook/work by default): a MESHBOOK_STATE_DIR in
// the developer's shell must not change the golden text
delete process.env.MESHBOOK_STATE_DIR;

function golden(t: import('ava').ExecutionContext, name: string, actual: string) {
  const file = new URL(`./golden/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, actual);
  t.is(actual, fs.readFileSync(file, 'utf8'), `golden ${name} differs`);
}

const examples = RUNBOOKS.map((rb) => [rb, `envs/${rb.name}.env.example`] as const);

for (const [rb, env] of examples) {
  test(`${rb.name}: golden plan (text, sh, json) from ${env}`, async (t) => {
    const loaded = loadInputs(env, [rb]);
    const steps = plan([rb], loaded, { labRules: LAB_RULES });
    golden(t, `${rb.name}.plan.txt`, planText(steps, loaded));
    const sh = planSh(steps, loaded);
    golden(t, `${rb.name}.plan.sh`, sh);
    golden(t, `${rb.name}.plan.json`, JSON.stringify(steps, null, 2));
    const syntax = await $({ input: sh, nothrow: true })`bash -n`;
    t.is(syntax.exitCode, 0, syntax.stderr);
    // the oldest supported VM (Alibaba Cloud Linux 2.1903, CentOS 7 based) has bash 4.2:
    // nothing from bash 4.3+ in what reaches a VM (the lab's VMs run the machine's bash 5)
    const newer = [
      /\b(mapfile|readarray)\b[^\n]*\s-d\b/,
      /\b(declare|local|typeset)\s+-n\b/,
      /\bwait\s+-n\b/,
      /\$\{[^}]*@[QEPAaUuLK]\}/,
      /\bshopt\s+-s\s+(localvar_inherit|assoc_expand_once|globasciiranges)\b/,
    ];
    for (const re of newer) t.notRegex(sh, re, `${rb.name}: a bash 4.3+ feature (${re}) in a VM script`);
  });
}

test('asm-vm-proxy: each declared distro gets only its own Docker install', (t) => {
  const loaded = loadInputs('envs/asm-vm-proxy.env.example', [findRunbook('asm-vm-proxy')]);
  const step = plan([findRunbook('asm-vm-proxy')], loaded, { labRules: LAB_RULES }).find((s) =>
    s.id.endsWith('02-install-docker'),
  )!;
  const change = (h: string) =>
    step.hosts.find((x) => x.host === h)!.branches.map((b) => b.scripts.find((s) => s.role === 'change')!.script);
  t.is(change('vm1').length, 1);
  t.regex(change('vm1')[0], /yum install -y docker-ce docker-ce-cli containerd\.io/);
  t.regex(change('vm2')[0], /vault\.centos\.org[\s\S]*--allowerasing/);
  t.regex(change('vm3')[0], /apt-get install -y docker\.io/);
  t.regex(step.hosts.find((x) => x.host === 'vm2')!.branches[0].consent!, /podman and runc/);
});

test('asm-vm-proxy: a VM with no declared distro shows every profile', async (t) => {
  const fsPath = 'envs/asm-vm-proxy.nodistro.test.env';
  fs.writeFileSync(
    fsPath,
    fs
      .readFileSync('envs/asm-vm-proxy.env.example', 'utf8')
      .replace('inventory.example.yaml', 'inventory.nodistro.example.yaml'),
  );
  try {
    const rb = findRunbook('asm-vm-proxy');
    const loaded = loadInputs(fsPath, [rb]);
    const steps = plan([rb], loaded, { labRules: LAB_RULES });
    const docker = steps.find((s) => s.id.endsWith('02-install-docker'))!;
    for (const h of docker.hosts)
      t.deepEqual(
        h.branches.map((b) => b.distro),
        PROFILE_IDS,
      );
    const sh = planSh(steps, loaded);
    t.regex(sh, /case "\$DISTRO_vm1" in\nalinux-2\.1903\)/);
    t.is((await $({ input: sh, nothrow: true })`bash -n`).exitCode, 0);
  } finally {
    fs.rmSync(fsPath);
  }
});

test('plans never carry the secret', (t) => {
  const rb = findRunbook('asm-vm-proxy');
  const loaded = loadInputs('envs/asm-vm-proxy.env.example', [rb]);
  const steps = plan([rb], loaded, { labRules: LAB_RULES });
  const secret = loaded.env.ACCESS_KEY_SECRET;
  for (const out of [planText(steps, loaded), planSh(steps, loaded), JSON.stringify(steps)]) {
    t.false(out.includes(secret));
    t.true(out.includes('***ACCESS_KEY_SECRET***'));
  }
});

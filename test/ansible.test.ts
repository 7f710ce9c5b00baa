// The Ansible export: a golden playbook from the example env (no secret in it, passes
// ansible-playbook --syntax-check), and on lab VMs for real: ansible-playbook changes
// things once, then reports changed=0; meshbook's own rebuild afterwards changes nothing,
// and from the same starting state both tools leave byte-identical files. A canary
// secret is only ever in secrets.yml (0600): not in the other files, not in ansible's
// output, not in any process's argv or environment. Regenerate the golden files with
// UPDATE_GOLDEN=1 npx ava test/ansible.test.ts, and review the diff.
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { $ } from 'zx';
import { loadInputs } from '../scripts/engine/inputs.ts';
import { detect, PROFILE_IDS } from '../scripts/engine/distro.ts';
import { probe, mutate, Secret } from '../scripts/engine/sh.ts';
import type { Runbook } from '../scripts/engine/types.ts';
import asmVmProxy from '../scripts/asm-vm-proxy/index.ts';
import { exportAnsible, renderAnsible } from '../scripts/ansible/export.ts';
import { detectScript } from '../scripts/ansible/distro.ts';
import { SecretBook, shlexQuote, template } from '../scripts/ansible/jinja.ts';
import { fromMasks, scriptTask, variantCondition } from '../scripts/ansible/tasks.ts';
import { labUp, labDown } from '../lab/vms.ts';
import { watchProcesses } from './helpers/host-state.ts';
import { LAB_RULES } from '../lab/stand-ins/index.ts';

process.env.HOME = '/root';
const REPO = process.cwd();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ans-'));
// unlike the other lab tests, its own subnet: ssh control sockets are keyed by address
const lab = {
  prefix: 'mban',
  dir: path.join(tmp, 'lab'),
  envFile: path.join(tmp, 'lab.env'),
  inventoryFile: path.join(tmp, 'lab-inventory.yaml'),
  subnet: '192.168.213.0/24',
};
const envFile = path.join(tmp, 'test.env');
const stateDir = path.join(tmp, 'state');
const out = path.join(tmp, 'out');
// a canary with what quoting and templating get wrong: quotes, `{{`, $, a backslash
const CANARY = `canary-${crypto.randomBytes(5).toString('hex')}-{{x}}'"$q\\`;
const CANARY_ID = CANARY.slice(0, 17); // the unique part, as it would show anywhere
const ENV_FILE = '/opt/asm_vm_proxy/asm_vm_proxy.env';
const outputs: string[] = [];
let watcher: ReturnType<typeof watchProcesses> | undefined;
const times: Record<string, number> = {};

function golden(t: import('ava').ExecutionContext, name: string, actual: string) {
  const file = new URL(`./golden/ansible/${name}`, import.meta.url);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(new URL('./golden/ansible/', import.meta.url), { recursive: true });
    fs.writeFileSync(file, actual);
  }
  t.is(actual, fs.readFileSync(file, 'utf8'), `golden ansible/${name} differs`);
}

/** Every task (blocks and rescues included) of a parsed playbook. */
function allTasks(playbook: unknown): Array<Record<string, unknown>> {
  const found: Array<Record<string, unknown>> = [];
  const walk = (tasks: unknown) => {
    for (const t of (tasks as Array<Record<string, unknown>>) ?? []) {
      found.push(t);
      walk(t.block);
      walk(t.rescue);
      walk(t.always);
    }
  };
  for (const play of playbook as Array<{ tasks: unknown }>) walk(play.tasks);
  return found;
}
const parse = (text: string) =>
  YAML.parse(text, { customTags: [{ tag: '!unsafe', resolve: (s: string) => s }], version: '1.1' });

test.serial(
  'golden playbook and inventory from envs/asm-vm-proxy.env.example; syntax-check passes; no secret',
  async (t) => {
    const loaded = loadInputs('envs/asm-vm-proxy.env.example', [asmVmProxy]);
    const r = renderAnsible([asmVmProxy], loaded, path.join(tmp, 'golden'));
    golden(t, 'asm-vm-proxy.playbook.yml', r.playbook);
    golden(t, 'asm-vm-proxy.inventory.yml', r.inventory.split(REPO).join('<repo>'));
    const secret = loaded.env.ACCESS_KEY_SECRET;
    for (const text of [r.playbook, r.inventory, r.cfg]) t.false(text.includes(secret));
    t.true(r.secrets.includes(secret));
    t.regex(r.playbook, /ACCESS_KEY_SECRET=\{\{ meshbook_secrets\.ACCESS_KEY_SECRET \}\}/);
    // every task that touches a secret is no_log; the native modules for 03 and 07
    const tasks = allTasks(parse(r.playbook));
    const touching = tasks.filter((x) => !x.block && /meshbook_(secrets|derived)/.test(JSON.stringify(x)));
    t.true(touching.length > 0);
    for (const x of touching) t.is(x.no_log, true, String(x.name));
    t.true(
      tasks.some(
        (x) =>
          String(x.name).startsWith('asm-vm-proxy/03-env-file') &&
          (x['ansible.builtin.copy'] as { mode?: string })?.mode === '0600',
      ),
    );
    t.true(tasks.some((x) => String(x.name).startsWith('asm-vm-proxy/07-tracing') && x['ansible.builtin.lineinfile']));
    // per distro: the inventory declares each VM's distro, so each gets only its own install
    t.deepEqual(
      tasks.filter((x) => String(x.name).startsWith('asm-vm-proxy/02-install-docker') && x.block).map((x) => x.when),
      ["meshbook_distro == 'alinux-2.1903'", "meshbook_distro == 'centos-8'", "meshbook_distro == 'ubuntu-20.04'"],
    );
    // diagnostics run where a step failed: the rescue section
    const body = (parse(r.playbook)[0].tasks as Array<{ rescue?: Array<{ name: string }> }>)[0];
    t.regex(body.rescue![0].name, /^asm-vm-proxy\/06-diagnostics/);
    // ansible-playbook accepts it
    const dir = path.join(tmp, 'syntax');
    await exportAnsible([asmVmProxy], loaded, dir);
    const syntax = await $({
      nothrow: true,
      quiet: true,
      env: { ...process.env, ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg') },
    })`ansible-playbook --syntax-check -i ${path.join(dir, 'inventory.yml')} ${path.join(dir, 'playbook.yml')}`;
    t.is(syntax.exitCode, 0, syntax.stderr + syntax.stdout);
    t.is(fs.statSync(path.join(dir, 'secrets.yml')).mode & 0o777, 0o600);
  },
);

test.serial('distro detection in the playbook maps every profile as scripts/engine/distro.ts does', async (t) => {
  for (const id of PROFILE_IDS) {
    const osr = path.join(REPO, 'vm/profiles', id, 'os-release');
    t.is(detect(fs.readFileSync(osr, 'utf8')).profile?.id, id);
    const r = await $({ nothrow: true, quiet: true, input: detectScript(osr) })`bash`;
    t.is(r.stdout.trim(), id);
  }
  const odd = path.join(tmp, 'os-release-odd');
  fs.writeFileSync(odd, 'ID=centos\nVERSION_ID="80"\n');
  const r = await $({ nothrow: true, quiet: true, input: detectScript(odd) })`bash`;
  t.is(r.exitCode, 1);
  t.is(detect(fs.readFileSync(odd, 'utf8')).profile, undefined);
  t.regex(r.stderr, /unknown distro ID=centos VERSION_ID=80/);
});

test.serial('templates keep literal text literal; shlex quoting; conditions per host and distro', (t) => {
  t.is(template(['a {{ b }}\n'], { raw: true }), '{% raw %}a {{ b }}\n{% endraw %}');
  t.is(template(['K=v\n', 'S=', { expr: 'meshbook_secrets.S' }, '\n']), 'K=v\nS={{ meshbook_secrets.S }}\n');
  t.is(template(['x{', { expr: 'e' }]), '{% raw %}x{{% endraw %}{{ e }}');
  t.throws(() => template(['a {% endraw %} b']));
  t.is(shlexQuote('/a b/known_hosts'), "'/a b/known_hosts'");
  t.is(shlexQuote("it's"), `'it'"'"'s'`);
  t.is(shlexQuote('UserKnownHostsFile=/x/y'), 'UserKnownHostsFile=/x/y');
  const all: Array<[string, string]> = [
    ['vm1', 'centos-8'],
    ['vm2', 'alinux-2.1903'],
    ['vm2', 'centos-8'],
    ['vm2', 'ubuntu-20.04'],
  ];
  t.deepEqual(variantCondition(all, all), { label: '' });
  t.is(
    variantCondition(
      [
        ['vm1', 'centos-8'],
        ['vm2', 'centos-8'],
      ],
      all,
    ).when,
    "meshbook_distro == 'centos-8'",
  );
  t.is(
    variantCondition(
      [
        ['vm2', 'alinux-2.1903'],
        ['vm2', 'centos-8'],
        ['vm2', 'ubuntu-20.04'],
      ],
      all,
    ).when,
    "inventory_hostname == 'vm2'",
  );
  t.is(
    variantCondition(
      [
        ['vm2', 'alinux-2.1903'],
        ['vm2', 'ubuntu-20.04'],
      ],
      all,
    ).when,
    "meshbook_distro in ['alinux-2.1903', 'ubuntu-20.04']",
  );
  t.is(
    variantCondition([['vm2', 'centos-8']], all).when,
    "inventory_hostname == 'vm2' and meshbook_distro == 'centos-8'",
  );
});

test.serial(
  'a secret in a generic script is a reference on stdin (no_log); a hand-built script is recovered from its masks',
  (t) => {
    const book = new SecretBook({ TOKEN: 'tok-value-123' });
    const tok = new Secret('TOKEN', 'tok-value-123');
    const line = new Secret('TOKEN', 'token=tok-value-123');
    const digest = new Secret('digest', 'ab12');
    const tagged = scriptTask(
      mutate`printf '%s\n' ${tok} ${line} | write_file /x 0600; test ${digest} = "$(cat /y)"`,
      book,
      'rb/01-x',
    );
    const stdin = (tagged['ansible.builtin.command'] as { stdin: string }).stdin;
    t.is(tagged.no_log, true);
    t.deepEqual((tagged['ansible.builtin.command'] as { argv: string[] }).argv, ['/bin/bash', '-s']);
    t.false(stdin.includes('tok-value-123'));
    t.false(stdin.includes('ab12'));
    t.true(
      stdin.includes(
        "{{ meshbook_secrets.TOKEN | quote }}{% raw %} {% endraw %}{{ ('token=' ~ meshbook_secrets.TOKEN) | quote }}",
      ),
    );
    t.true(stdin.includes('{{ meshbook_derived.rb_01_x_digest | quote }}'));
    t.deepEqual(book.values().derived, { rb_01_x_digest: 'ab12' });
    // joined by hand (text/display concatenated): the masks locate the quoted secrets
    const a = probe`echo start`;
    const b = mutate`printf '%s' ${new Secret('key', "k'ey with space")} ${new Secret('id', 'plainword')} | write_file /y 0600`;
    const joined = { kind: 'mutate' as const, text: `${a.text}\n${b.text}`, display: `${a.display}\n${b.display}` };
    const pieces = fromMasks(joined)!;
    t.deepEqual(
      pieces.filter((x) => typeof x !== 'string'),
      [
        { name: 'key', word: "$'k\\'ey with space'" },
        { name: 'id', word: 'plainword' },
      ],
    );
    const task = scriptTask(joined, book, 'rb/02-y');
    const text = (task['ansible.builtin.command'] as { stdin: string }).stdin;
    t.false(text.includes('plainword'));
    t.regex(
      text,
      /printf '%s' \{% endraw %\}\{\{ meshbook_derived\.rb_02_y_key_word \}\}\{% raw %\} \{% endraw %\}\{\{ meshbook_derived\.rb_02_y_id_word \}\}/,
    );
    // a script shown one way and run another, with no secret in what runs: exported as it runs
    const planOnly = {
      kind: 'mutate' as const,
      text: probe`echo 'error: not known yet' >&2; exit 1`.text,
      display: b.display,
    };
    t.regex(
      (scriptTask(planOnly, book, 'rb/03-z')['ansible.builtin.shell'] as { cmd: string }).cmd,
      /error: not known yet/,
    );
  },
);

// ---- on lab VMs ---------------------------------------------------------------------

/** A small runbook for what asm-vm-proxy does not exercise in the lab: a step whose
 *  commands differ per distro with a secret inside a generic script (stdin, no_log, a
 *  value derived from it: the digest the check compares, so a second run proves the
 *  secret arrived byte for byte), a probe that fails on a marked VM, an on-failure step. */
const extra: Runbook = {
  name: 'ansible-extra',
  title: 'export checks',
  article: 'test',
  summary: 'test only',
  inputs: [{ name: 'ACCESS_KEY_SECRET', description: 'the secret', secret: true, required: true }],
  steps: [
    {
      id: '01-secret-file',
      title: 'a file naming the distro, with a secret, through a generic script',
      article: 'test',
      target: 'vm',
      perDistro: true,
      vm: (ctx) => {
        const line = new Secret('ACCESS_KEY_SECRET', `token=${ctx.env.ACCESS_KEY_SECRET}`);
        const content = `${ctx.distro} {{.Literal}}\n${line.value}\n`;
        const digest = new Secret('digest', crypto.createHash('sha256').update(content).digest('hex'));
        return {
          check: probe`if [ -f /root/mb-file ] && [ "$(sha256sum < /root/mb-file | cut -d' ' -f1)" = ${digest} ]; then exit 0; fi; exit 10`,
          apply: mutate`printf '%s\n' ${`${ctx.distro} {{.Literal}}`} ${line} | write_file /root/mb-file 0600`,
          verify: probe`test "$(stat -c %a /root/mb-file)" = 600`,
        };
      },
    },
    {
      id: '03-fails-when-marked',
      title: 'fails on a marked VM',
      article: 'test',
      target: 'vm',
      vm: () => ({ probe: probe`if [ -e /root/mb-fail ]; then echo 'marked to fail' >&2; exit 3; fi` }),
    },
    {
      id: '04-diagnostics',
      title: 'diagnostics',
      article: 'test',
      target: 'vm',
      when: 'on-failure',
      vm: () => ({ probe: probe`echo "diagnostics on $(hostname)"` }),
    },
  ],
};

async function onVm(name: string, script: string) {
  const inv = fs.readFileSync(lab.inventoryFile, 'utf8');
  const host = inv.match(new RegExp(`name: ${name}\\n\\s+host: (\\S+)`))![1];
  const r = await $({
    input: script,
    nothrow: true,
    quiet: true,
  })`ip netns exec ${`${lab.prefix}-ws`} ssh -T -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ${`UserKnownHostsFile=${path.join(lab.dir, 'known_hosts')}`} -i ${path.join(lab.dir, 'id_ed25519')} ${`root@${host}`} bash -s`;
  if (r.exitCode !== 0) throw new Error(`on ${name}: ${r.stderr}`);
  return r.stdout;
}

async function playbook(label: string, ...extraArgs: string[]) {
  const start = Date.now();
  const r = await $({
    nothrow: true,
    quiet: true,
    cwd: tmp,
    env: {
      ...process.env,
      ANSIBLE_CONFIG: path.join(out, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_LOCAL_TEMP: path.join(tmp, 'ansible-local'),
    },
  })`ansible-playbook -i ${path.join(out, 'inventory.yml')} ${path.join(out, 'playbook.yml')} ${extraArgs}`;
  times[label] = (Date.now() - start) / 1000;
  outputs.push(r.stdout, r.stderr);
  const recap: Record<string, Record<string, number>> = {};
  for (const m of r.stdout.matchAll(/^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$/gm)) {
    recap[m[1]] = Object.fromEntries(
      m[2]
        .trim()
        .split(/\s+/)
        .map((kv) => kv.split('='))
        .map(([k, v]) => [k, Number(v)]),
    );
  }
  return { code: r.exitCode, stdout: r.stdout, recap };
}

async function meshbook(...args: string[]) {
  const r = await $({
    nothrow: true,
    quiet: true,
    env: { ...process.env, MESHBOOK_STATE_DIR: stateDir, FORCE_COLOR: '0' },
  })`${process.execPath} --import tsx scripts/cli.ts ${args}`;
  outputs.push(r.stdout, r.stderr);
  return r;
}

async function rebuild() {
  const r = await meshbook('rebuild', 'asm-vm-proxy', '--env', envFile, '--json');
  const rep = JSON.parse(r.stdout);
  const statuses: Record<string, Record<string, string>> = {};
  for (const s of rep.steps)
    statuses[s.id.replace('asm-vm-proxy/', '')] = Object.fromEntries(
      Object.entries(s.hosts).map(([h, v]) => [h, (v as { status: string }).status]),
    );
  return { code: r.exitCode, statuses, rep };
}

const VMS = ['vm1', 'vm2', 'vm3'];
const original: Record<string, string> = {};

/** The starting state both tools get: vm1 has a stale env file with mode 0644, vm2 a
 *  stale zipkin line, vm3 the wanted line twice. */
async function startingState() {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const extraHosts: Record<string, string> = {
    vm1: '',
    vm2: '10.9.9.9 zipkin.istio-system\n',
    vm3: '172.19.0.20 zipkin.istio-system\n172.19.0.20 zipkin.istio-system\n',
  };
  for (const vm of VMS) {
    await onVm(
      vm,
      [
        `echo ${b64(original[vm] + extraHosts[vm])} | base64 -d > /etc/hosts`,
        `rm -rf /opt/asm_vm_proxy`,
        ...(vm === 'vm1'
          ? ['mkdir -p /opt/asm_vm_proxy', `printf 'ACCESS_KEY_ID=old\\n' > ${ENV_FILE}`, `chmod 0644 ${ENV_FILE}`]
          : []),
      ].join('\n'),
    );
  }
}

async function endState() {
  const s: Record<string, string> = {};
  for (const vm of VMS)
    s[vm] = await onVm(vm, `stat -c '%a %u %g' ${ENV_FILE} /etc/hosts; sha256sum < ${ENV_FILE}; base64 -w0 /etc/hosts`);
  return s;
}

test.serial(
  'lab: export from the lab env: secrets only in secrets.yml (0600), the ssh path through the lab namespace',
  async (t) => {
    await labUp({ ...lab, vms: 3 });
    const env = fs
      .readFileSync(lab.envFile, 'utf8')
      .replace(/^ACCESS_KEY_SECRET=.*$/m, `ACCESS_KEY_SECRET=${CANARY}`)
      .replace(/^VM_INVENTORY=.*$/m, `VM_INVENTORY=${lab.inventoryFile}`);
    fs.writeFileSync(envFile, env, { mode: 0o600 });
    for (const vm of VMS) original[vm] = await onVm(vm, 'cat /etc/hosts');
    await startingState();
    watcher = watchProcesses(CANARY_ID, 20); // a /proc scan takes ~7 ms here: every 20 ms leaves CPU for ansible
    const loaded = loadInputs(envFile, [asmVmProxy, extra]);
    t.is(loaded.env.ACCESS_KEY_SECRET, CANARY);
    const { files } = await exportAnsible([asmVmProxy, extra], loaded, out, { labRules: LAB_RULES });
    t.deepEqual(files.map((f) => path.basename(f)).sort(), [
      'ansible.cfg',
      'inventory.yml',
      'playbook.yml',
      'secrets.yml',
    ]);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      if (path.basename(f) === 'secrets.yml') {
        t.is(fs.statSync(f).mode & 0o777, 0o600);
        t.is(parse(text).meshbook_secrets.ACCESS_KEY_SECRET, CANARY);
      } else t.false(text.includes(CANARY_ID), f);
    }
    const inv = fs.readFileSync(path.join(out, 'inventory.yml'), 'utf8');
    t.regex(
      inv,
      /ansible_ssh_common_args: -o ProxyCommand="ip netns exec mban-ws nc %h %p" -o UserKnownHostsFile=\S+known_hosts -o StrictHostKeyChecking=accept-new/,
    );
    t.false(/StrictHostKeyChecking=no/.test(inv));
    const cfg = fs.readFileSync(path.join(out, 'ansible.cfg'), 'utf8');
    t.regex(cfg, /^host_key_checking = True$/m);
    t.regex(cfg, /^retry_files_enabled = False$/m);
    const pb = fs.readFileSync(path.join(out, 'playbook.yml'), 'utf8');
    t.regex(pb, /LAB=1: a step the lab cannot do/);
    // each lab VM has its own Docker daemon: 02 keeps its real check, and its change (an install
    // the lab has no mirror for) says so; 04 is the article's docker run of the lab's stand-in image
    t.regex(pb, /lab: no package mirror to install from/);
    t.false(pb.includes('apt-get install')); // the Docker install is not there
    t.regex(pb, /docker run -d --name=asm_vm_proxy --network=host --restart=always/);
    t.regex(pb, /--cap-add=NET_ADMIN .*meshbook-lab\/asm-vm-proxy-stand-in:lab/);
    t.true(pb.includes("{{ ('token=' ~ meshbook_secrets.ACCESS_KEY_SECRET) | quote }}"));
    t.regex(pb, /meshbook_derived\.ansible_extra_01_secret_file_digest(_\d)? \| quote/);
    t.regex(pb, /when: meshbook_distro == 'centos-8'/);
    for (const x of allTasks(parse(pb)).filter((y) => !y.block && /meshbook_(secrets|derived)/.test(JSON.stringify(y))))
      t.is(x.no_log, true, String(x.name));
  },
);

test.serial('lab: the first ansible run changes things, the second reports changed=0 on every host', async (t) => {
  const first = await playbook('first');
  t.is(first.code, 0, first.stdout.slice(-3000));
  t.deepEqual(Object.keys(first.recap).sort(), VMS);
  for (const vm of VMS) {
    t.true(first.recap[vm].changed > 0, vm);
    t.is(first.recap[vm].failed, 0);
  }
  const second = await playbook('second');
  t.is(second.code, 0, second.stdout.slice(-3000));
  for (const vm of VMS) t.is(second.recap[vm].changed, 0, `${vm}: ${JSON.stringify(second.recap[vm])}`);
  // the per-distro step found each VM's distro (detected: the lab inventory declares none)
  const profiles: Record<string, string> = { vm1: 'alinux-2.1903', vm2: 'centos-8', vm3: 'ubuntu-20.04' };
  for (const vm of VMS)
    t.is(await onVm(vm, 'head -1 /root/mb-file; stat -c %a /root/mb-file'), `${profiles[vm]} {{.Literal}}\n600\n`);
});

test.serial(
  'lab: meshbook rebuild after ansible changes nothing; from the same start both leave identical files',
  async (t) => {
    const after = await rebuild();
    t.is(after.code, 0, JSON.stringify(after.rep.failures));
    for (const [step, hosts] of Object.entries(after.statuses))
      for (const [h, s] of Object.entries(hosts)) t.not(s, 'changed', `${step} on ${h}`);
    for (const vm of VMS) {
      t.is(after.statuses['03-env-file'][vm], 'unchanged');
      t.is(after.statuses['07-tracing'][vm], 'unchanged');
    }
    const byAnsible = await endState();
    t.regex(byAnsible.vm1, /^600 0 0\n644 0 0\n/);
    await startingState();
    const mine = await rebuild();
    t.is(mine.code, 0);
    for (const vm of VMS) t.is(mine.statuses['03-env-file'][vm], 'changed');
    t.deepEqual(await endState(), byAnsible);
    const expectHosts = (vm: string) =>
      Buffer.from(original[vm] + '172.19.0.20 zipkin.istio-system\n').toString('base64');
    for (const vm of VMS) t.true(byAnsible[vm].endsWith(expectHosts(vm)), vm);
  },
);

test.serial(
  'lab: after meshbook, ansible changes nothing; a failing ' +
    'step stops that host only and runs the on-failure step there',
  async (t) => {
    await onVm('vm2', 'touch /root/mb-fail');
    try {
      const r = await playbook('third (after meshbook; vm2 marked to fail)');
      t.not(r.code, 0);
      // the converse: ansible finds meshbook's state already right (vm2 up to its failure)
      for (const vm of VMS) t.is(r.recap[vm].changed, 0, vm);
      t.is(r.recap.vm2.failed, 1);
      t.is(r.recap.vm1.failed, 0);
      t.is(r.recap.vm3.failed, 0);
      const diag = r.stdout.split('TASK [').find((s) => s.startsWith('ansible-extra/04-diagnostics'))!;
      t.regex(diag, /ok: \[vm2\]/);
      t.false(/\[vm1\]|\[vm3\]/.test(diag));
      t.regex(r.stdout, /ansible-extra\/03-fails-when-marked: probe \(read-only\) failed on this host/);
    } finally {
      await onVm('vm2', 'rm -f /root/mb-fail');
    }
  },
);

test.serial('lab: the canary never appeared in ansible output, meshbook output or any argv/environment', (t) => {
  const { seen, samples } = watcher!.stop();
  t.true(samples > 20, `only ${samples} samples`);
  t.deepEqual(seen, []);
  for (const o of outputs) t.false(o.includes(CANARY_ID));
  t.log(
    `ansible-playbook runs (s): ${Object.entries(times)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}`,
  );
});

test.after.always(async () => {
  watcher?.stop();
  await labDown(lab);
  fs.rmSync(tmp, { recursive: true, force: true });
});

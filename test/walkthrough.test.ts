// The walkthrough as a person meets it: the real CLI in a real terminal (tmux), keys
// typed, the screen read. No host is changed: the runs quit at the first step, or reach
// only a closed port on the loopback (127.0.0.1:1), which fails at once. A canary secret
// is typed or read from an env file and must never be on the screen.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { parse as parseDotenv } from 'dotenv';
import { $ } from 'zx';

const BIN = path.resolve('bin/meshbook.js');
const CANARY = `canary-${Math.random().toString(36).slice(2, 10)}-secret`;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-walk-'));
const sessions: string[] = [];
let n = 0;

/** A fresh working directory with an inventory of one VM on a closed loopback port. */
function workdir(): string {
  const dir = fs.mkdtempSync(path.join(root, 'w-'));
  fs.writeFileSync(
    path.join(dir, 'inv.yaml'),
    'vms:\n  - name: vm1\n    host: 127.0.0.1\n    port: 1\n    distro: ubuntu-20.04\n',
  );
  return dir;
}

const ANSWERS: Array<[RegExp, string]> = [
  [/ACCESS_KEY_ID: the Alibaba/, 'LTAI5tExampleKeyId'],
  [/ACCESS_KEY_SECRET: the AccessKey secret/, CANARY],
  [/REGION: the region id/, 'cn-hangzhou'],
  [/MESH_ID: the ASM service mesh id/, 'c0a1b2c3d4e5f60718293a4b5c6d7e8f9'],
  [/NS: the namespace/, 'vm-mesh'],
  [/SA: the ServiceAccount/, 'vm-sa'],
  [/POD_NAME: the pod-level name/, 'vm-pod'],
  [/ASM_VERSION: the ASM version/, 'v1.6.9'],
  [/SERVICE_CIDR: the cluster's Service CIDR/, '172.19.0.0/20'],
];

async function screen(s: string): Promise<string> {
  return (await $({ quiet: true, nothrow: true })`tmux capture-pane -p -J -t ${s} -S -3000`).stdout;
}

/** Poll the screen until `re` shows. */
async function waitFor(s: string, re: RegExp, ms = 45_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const out = await screen(s);
    if (re.test(out)) return out;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${out}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
const type = (s: string, text: string) => $({ quiet: true })`tmux send-keys -t ${s} -l ${text}`;
const press = (s: string, ...keys: string[]) => $({ quiet: true })`tmux send-keys -t ${s} ${keys}`;

/** The CLI in a new tmux session in `cwd`; the shell prints EXIT=<code> when it ends. */
async function start(cwd: string, args: string): Promise<string> {
  const s = `mbwalk${process.pid}x${++n}`;
  sessions.push(s);
  const cmd =
    `cd ${cwd} && MESHBOOK_STATE_DIR=${cwd}/state FORCE_COLOR=0 ` + `node ${BIN} ${args}; echo "EXIT=$?"; sleep 300`;
  await $({ quiet: true })`tmux new-session -d -s ${s} -x 250 -y 60 ${cmd}`;
  return s;
}

/** Answer one prompt: wait until it is the active question (the last `?` line), type. */
async function answer(s: string, prompt: RegExp, text: string) {
  await waitFor(s, new RegExp(`\\? [^\\n]*${prompt.source}[^\\n]*\\n?[^✔]*$`));
  if (text) await type(s, text);
  await press(s, 'Enter');
}

test.after.always(async () => {
  for (const s of sessions) await $({ nothrow: true, quiet: true })`tmux kill-session -t ${s}`;
  fs.rmSync(root, { recursive: true, force: true });
});

test.serial('an empty answer to VM_INVENTORY is a message and the question again, never a stack trace', async (t) => {
  const dir = workdir();
  const s = await start(dir, 'walkthrough asm-vm-proxy');
  await waitFor(s, /\? VM_INVENTORY: path of the VM inventory YAML/);
  await press(s, 'Enter');
  let out = await waitFor(s, /enter the path of your VM inventory YAML/);
  t.notRegex(out, /EISDIR|\n\s+at |Error|EXIT=/);
  t.regex(out, /\? VM_INVENTORY: /, 'still asking');
  // a directory and a file that is not an inventory are refused the same way
  await type(s, '.');
  await press(s, 'Enter');
  out = await waitFor(s, /is a directory; point VM_INVENTORY at your inventory YAML file/);
  await press(s, 'BSpace');
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'vms: [ {name: vm1 }\n');
  await type(s, 'bad.yaml');
  await press(s, 'Enter');
  out = await waitFor(s, /bad\.yaml: not valid YAML/);
  await press(s, ...Array(8).fill('BSpace'));
  await type(s, 'inv.yaml');
  await press(s, 'Enter');
  out = await waitFor(s, /✔ VM_INVENTORY: .* inv\.yaml[\s\S]*\? ACCESS_KEY_ID: /);
  t.notRegex(out, /EISDIR|\n\s+at |EXIT=/);
  await press(s, 'C-c');
  out = await waitFor(s, /EXIT=\d+/);
  t.regex(out, /walkthrough quit\s+EXIT=130/);
});

/** Answer every question of asm-vm-proxy (VM_INVENTORY first), then quit at 01. */
async function answerAllThenQuit(s: string, inventory: string) {
  await answer(s, /VM_INVENTORY: /, inventory);
  for (const [p, a] of ANSWERS) await answer(s, p, a);
  await waitFor(
    s,
    /step 1 of 7 · asm-vm-proxy\/01-preflight[\s\S]*\? Run asm-vm-proxy\/01-preflight\? \(step 1 of 7\)/,
  );
  await press(s, 'Down', 'Down', 'Enter'); // quit
}

test.serial(
  'quitting offers to save the answers: 0600, secret blank without consent, the suggestion names the file',
  async (t) => {
    const dir = workdir();
    fs.mkdirSync(path.join(dir, 'saved'));
    fs.writeFileSync(path.join(dir, 'taken.env'), 'KEEP=1\n');
    const s = await start(dir, 'walkthrough asm-vm-proxy');
    await answerAllThenQuit(s, 'inv.yaml');
    await answer(s, /Save your answers to an env file\?/, ''); // default yes
    await answer(s, /env file to write/, 'taken.env');
    await answer(s, /taken\.env exists; overwrite it\?/, ''); // default no: asked again
    await waitFor(s, /✔ [^\n]*taken\.env exists; overwrite it\? No[\s\S]*\? env file to write/);
    await answer(s, /env file to write/, 'saved/answers.env');
    await answer(s, /Write the secret ACCESS_KEY_SECRET into it too/, ''); // default no
    const out = await waitFor(s, /EXIT=\d+/);
    t.regex(out, /EXIT=0/);
    t.regex(out, /saved saved\/answers\.env \(mode 0600\); ACCESS_KEY_SECRET left blank/);
    t.regex(
      out,
      /stopped at asm-vm-proxy\/01-preflight; to run it without questions: fill in ACCESS_KEY_SECRET in saved\/answers\.env, then meshbook rebuild asm-vm-proxy --env saved\/answers\.env/,
    );
    t.false(/--env FILE/.test(out));
    t.false(out.includes(CANARY), 'the secret is on the screen');

    const file = path.join(dir, 'saved', 'answers.env');
    t.is(fs.statSync(file).mode & 0o777, 0o600);
    t.deepEqual(fs.readdirSync(path.join(dir, 'saved')), ['answers.env'], 'no temporary file left');
    t.is(fs.readFileSync(path.join(dir, 'taken.env'), 'utf8'), 'KEEP=1\n', 'not overwritten without consent');
    const text = fs.readFileSync(file, 'utf8');
    t.false(text.includes(CANARY));
    t.regex(text, /^# ACCESS_KEY_SECRET is a secret and was not written.*\nACCESS_KEY_SECRET=\n/m);
    const env = parseDotenv(text);
    t.is(env.ACCESS_KEY_SECRET, '');
    t.is(env.VM_INVENTORY, path.join(dir, 'inv.yaml'), 'VM_INVENTORY still names the inventory from the new directory');
    for (const [p, a] of ANSWERS) {
      const key = p.source.split(':')[0];
      if (key !== 'ACCESS_KEY_SECRET') t.is(env[key], a, key);
    }
    // what it names works: with the secret filled in, rebuild accepts every input (a plan)
    fs.writeFileSync(file, text.replace(/^ACCESS_KEY_SECRET=$/m, `ACCESS_KEY_SECRET=${CANARY}`));
    const plan = await $({
      quiet: true,
      nothrow: true,
      cwd: dir,
    })`node ${BIN} plan asm-vm-proxy --env saved/answers.env`;
    t.is(plan.exitCode, 0, plan.stderr);
    t.false(plan.stdout.includes(CANARY));
  },
);

test.serial('with consent the secret is saved (0600), still never shown', async (t) => {
  const dir = workdir();
  const s = await start(dir, 'walkthrough asm-vm-proxy');
  await answerAllThenQuit(s, 'inv.yaml');
  await answer(s, /Save your answers to an env file\?/, '');
  await answer(s, /env file to write/, ''); // the default
  await answer(s, /Write the secret ACCESS_KEY_SECRET into it too/, 'y');
  const out = await waitFor(s, /EXIT=\d+/);
  t.regex(out, /saved asm-vm-proxy\.env \(mode 0600\)\n/);
  t.regex(out, /to run it without questions: meshbook rebuild asm-vm-proxy --env asm-vm-proxy\.env/);
  t.false(out.includes(CANARY));
  const file = path.join(dir, 'asm-vm-proxy.env');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.is(parseDotenv(fs.readFileSync(file)).ACCESS_KEY_SECRET, CANARY);
  t.is(parseDotenv(fs.readFileSync(file)).VM_INVENTORY, 'inv.yaml');
});

test.serial('step N of M, and a failing step names the step skipped before it', async (t) => {
  const dir = workdir();
  // everything in an env file (with the canary secret): nothing is asked
  fs.writeFileSync(
    path.join(dir, 'all.env'),
    [
      'VM_INVENTORY=inv.yaml',
      `ACCESS_KEY_SECRET=${CANARY}`,
      ...ANSWERS.filter(([p]) => !/SECRET/.test(p.source)).map(([p, a]) => `${p.source.split(':')[0]}=${a}`),
    ].join('\n') + '\n',
    { mode: 0o600 },
  );
  const s = await start(dir, `walkthrough asm-vm-proxy --env all.env --connect-timeout 2`);
  await waitFor(s, /\? Run asm-vm-proxy\/01-preflight\? \(step 1 of 7\)/);
  await press(s, 'Down', 'Enter'); // skip 01
  await answer(s, /Run asm-vm-proxy\/02-install-docker\? \(step 2 of 7\)/, ''); // yes: fails (port closed)
  await waitFor(s, /\? Run asm-vm-proxy\/06-diagnostics\? \(step 6 of 7\)/);
  await press(s, 'Down', 'Enter'); // skip 06
  const out = await waitFor(s, /EXIT=\d+/, 90_000);
  t.regex(out, /EXIT=1/);
  for (let i = 1; i <= 7; i++) t.regex(out, new RegExp(`▶ step ${i} of 7 · asm-vm-proxy/`));
  // under the failed step, and again in the summary
  t.regex(
    out,
    /stderr \(last lines\)[\s\S]*Connection refused\s+you skipped 01-preflight earlier; this step may depend on it\n/,
  );
  t.regex(out, /vm1: asm-vm-proxy\/02-install-docker: .*rerun `meshbook rebuild asm-vm-proxy --env all\.env`/);
  t.regex(out, /asm-vm-proxy\/02-install-docker failed: you skipped 01-preflight earlier; this step may depend on it/);
  t.notRegex(out, /Save your answers/, 'nothing was asked: all.env already holds every answer');
  t.false(out.includes(CANARY));
});

test.serial('no terminal: says it needs one, points to rebuild, exit 2, nothing run', async (t) => {
  // stdin a pipe that stays open (a hang would show as the timeout)
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, 'walkthrough', 'asm-vm-proxy'], {
      cwd: workdir(),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let out = '',
      err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
  t.is(r.code, 2, r.out + r.err);
  t.regex(r.err, /walkthrough: needs a terminal to ask its questions \(stdin and stdout are not terminals\)/);
  t.regex(r.err, /meshbook rebuild asm-vm-proxy --env FILE/);
  t.regex(r.err, /nothing was run/);
  t.notRegex(r.out + r.err, /\n\s+at /);

  // a terminal to type on, but the output goes to a pipe
  const dir = workdir();
  const s = `mbwalk${process.pid}x${++n}`;
  sessions.push(s);
  await $({
    quiet: true,
  })`tmux new-session -d -s ${s} -x 250 -y 60 ${`cd ${dir} && FORCE_COLOR=0 node ${BIN} walkthrough asm-vm-proxy 2>&1 | cat; echo "EXIT=\${PIPESTATUS[0]}"; sleep 300`}`;
  const out = await waitFor(s, /EXIT=\d+/, 20_000);
  t.regex(out, /needs a terminal to ask its questions \(stdout is not a terminal\)/);
  t.regex(out, /EXIT=2/);
});

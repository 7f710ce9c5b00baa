// The script builder: values are quoted by zx (never by hand), arrays are argument
// lists, secrets are masked in what is shown and only present in what is sent.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { probe, mutate, Secret, PRELUDE } from '../scripts/engine/sh.ts';
import { sshArgv, remoteShell, trackRun, stopRun } from '../scripts/engine/ssh.ts';
import { spawn } from 'node:child_process';

const run = async (text: string) => await $({ input: `${PRELUDE}\n${text}\n`, nothrow: true })`bash -s`;

test('hostile values reach bash as inert data', async (t) => {
  const hostile = ['$(touch /tmp/meshbook-pwned)', 'a;b', "it's", 'say "hi"', '`id`', 'x\ny', '-n'];
  for (const h of hostile) {
    const r = await run(probe`printf '%s' ${h}`.text);
    t.is(r.stdout, h);
  }
  const r = await run(probe`printf '<%s>' ${hostile}`.text);
  t.is(r.stdout, hostile.map((h) => `<${h}>`).join(''));
  t.false((await $({ nothrow: true })`test -e /tmp/meshbook-pwned`).exitCode === 0);
});

test('a secret is in the sent text and masked in the shown text', async (t) => {
  const s = new Secret('ACCESS_KEY_SECRET', 'canary-Zx81q');
  const sc = mutate`printf '%s\n' ${['A=1', s]}`;
  t.true(sc.text.includes('canary-Zx81q'));
  t.false(sc.display.includes('canary-Zx81q'));
  t.regex(sc.display, /\*\*\*ACCESS_KEY_SECRET\*\*\*/);
  t.is((await run(sc.text)).stdout, 'A=1\ncanary-Zx81q\n');
  t.is(JSON.stringify({ s }), '{"s":"***ACCESS_KEY_SECRET***"}');
});

test('backslashes and bash ${} reach bash as written', async (t) => {
  const r = await run(probe`x=; printf '%s\n' "\${x:-default}" 'a\tb'`.text);
  t.is(r.stdout, 'default\na\\tb\n');
});

test('write_file replaces the destination atomically with the mode set before content', async (t) => {
  const dir = (await $`mktemp -d`).stdout.trim();
  const f = `${dir}/secret.env`;
  const r = await run(mutate`printf 'K=v\n' | write_file ${f} 0600; stat -c %a ${f}; cat ${f}; ls ${dir} | wc -l`.text);
  t.is(r.stdout, '600\nK=v\n1\n');
  // every mode as asked, whatever the session's umask; content as an argument; an
  // existing destination is replaced
  const modes = await run(
    mutate`umask 0002; write_file ${`${dir}/a`} 0644 x; write_file ${`${dir}/b`} 0755 'y'$'\n'; write_file ${`${dir}/c`} 0640 z; printf 'K=w\n' | write_file ${f} 0600; stat -c '%n %a' ${dir}/* | sed 's|.*/||'; cat ${f} ${`${dir}/b`}; umask`
      .text,
  );
  t.is(modes.stdout, 'a 644\nb 755\nc 640\nsecret.env 600\nK=w\ny\n0002\n');
  // a directory whose default ACL would give group and others more than asked
  await $`mkdir ${`${dir}/acl`} && setfacl -d -m ${'u::rwx,g::rwx,o::r-x'} ${`${dir}/acl`}`;
  const acl = await run(
    mutate`write_file ${`${dir}/acl/s`} 0600 x; write_file ${`${dir}/acl/p`} 0644 y; stat -c '%n %a' ${dir}/acl/* | sed 's|.*/||'`
      .text,
  );
  t.is(acl.stdout, 'p 644\ns 600\n');
  await $`rm -rf ${`${dir}/acl`}`;
  // a directory it cannot write: fails, leaves nothing behind
  await $`chmod 0555 ${dir}`;
  const denied = await $({
    input: `${PRELUDE}\n${mutate`write_file ${`${dir}/d`} 0644 x`.text}\n`,
    nothrow: true,
  })`setpriv --reuid=65534 --regid=65534 --clear-groups bash -s`;
  t.not(denied.exitCode, 0);
  t.regex(denied.stderr, /Permission denied/);
  t.is((await $`ls -A ${dir}`).stdout, 'a\nb\nc\nsecret.env\n');
  await $`rm -rf ${dir}`;
});

test(
  'write_file leaves no temporary file when it cannot finish: a ' +
    'target it may not replace, a directory in the way, a stopped run',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-wf-'));
    const f = `${dir}/secret.env`;
    const temps = () => fs.readdirSync(dir).filter((n) => n.includes('.meshbook.'));
    // an immutable target (where the filesystem keeps the flag: ext4, xfs, ...)
    fs.writeFileSync(f, 'OLD\n');
    if ((await $({ nothrow: true, quiet: true })`chattr +i ${f}`).exitCode === 0) {
      const r = await run(mutate`write_file ${f} 0600 ${'K=canary\n'}`.text);
      await $`chattr -i ${f}`;
      t.not(r.exitCode, 0);
      t.regex(r.stderr, /Operation not permitted/);
      t.regex(r.stderr, /write_file: \S+secret\.env was not replaced/);
      t.deepEqual(temps(), []);
      t.is(fs.readFileSync(f, 'utf8'), 'OLD\n');
    } else t.log(`chattr +i is not kept on ${dir}: the immutable case is left to test/vm-leftovers.test.ts`);
    // a directory in the way: mv does not move the temp file into it
    fs.rmSync(f);
    fs.mkdirSync(f);
    const d = await run(mutate`printf 'K=canary\n' | write_file ${f} 0600`.text);
    t.not(d.exitCode, 0);
    t.regex(d.stderr, /cannot overwrite directory/);
    t.deepEqual(fs.readdirSync(f), []);
    t.deepEqual(temps(), []);
    fs.rmdirSync(f);
    // the run is stopped (SIGTERM to its process group, as stopRun does) while content streams in
    const p = spawn('setsid', ['bash', '-s'], { stdio: ['pipe', 'ignore', 'ignore'] });
    p.stdin.end(`${PRELUDE}\n${mutate`{ printf 'K=canary\n'; sleep 30; } | write_file ${f} 0600`.text}\n`);
    const exited = new Promise((resolve) => p.on('exit', resolve));
    for (let i = 0; i < 100 && !temps().some((n) => fs.readFileSync(`${dir}/${n}`, 'utf8') === 'K=canary\n'); i++)
      await new Promise((r) => setTimeout(r, 50));
    t.is(temps().length, 1, 'the temp file holds the content so far');
    process.kill(-p.pid!, 'SIGTERM');
    await exited;
    await new Promise((r) => setTimeout(r, 200)); // the subshell's EXIT trap, after its cat is gone
    t.deepEqual(temps(), []);
    t.false(fs.existsSync(f));
    fs.rmSync(dir, { recursive: true });
  },
);

// What sshd does with the remote words: joins them with spaces for the login shell (sh -c).
// sshd on Linux gives the session pipes; `via: 'socket'` is what another build might give.
const remoteAs = (user: string) =>
  remoteShell({ name: 'vm1', host: 'h', user, port: 22, privateIp: 'h', labels: {}, runtime: 'docker' }).join(' ');
const remote = remoteAs('root');
const asLoginShell = (input: string, via: 'pipe' | 'socket' = 'pipe') =>
  $({ input, nothrow: true, quiet: true })`sh -c ${via === 'pipe' ? `cat | ${remote}` : remote}`;

test(
  'the remote shell runs the script sent on stdin as bash -s would: ' +
    'functions, exit code, stdin at its end for the commands it starts',
  async (t) => {
    for (const via of ['pipe', 'socket'] as const) {
      const r = await asLoginShell(`${PRELUDE}\n${mutate`f() { echo "in f $1"; }; f ${'x y'}; exit 3`.text}\n`, via);
      t.is(r.exitCode, 3, via);
      t.is(r.stdout, 'in f x y\n', via);
      // set -e from the prelude ends the script at the first failing command
      const e = await asLoginShell(`${PRELUDE}\ntrap 'echo bye' EXIT\nfalse\necho not-reached\n`, via);
      t.is(e.exitCode, 1, via);
      t.is(e.stdout, 'bye\n', via); // the EXIT trap (the run's pid file is removed by one) fires
    }
    // the whole script is read before it runs: a command that reads stdin gets nothing of it
    const c = await asLoginShell(`${PRELUDE}\ncat\necho after-cat\n`);
    t.is(c.stdout, 'after-cat\n');
  },
);

test('nap sleeps without starting a process, in the shell and in its subshells', async (t) => {
  const script = `${PRELUDE}\ns=$EPOCHREALTIME; nap 0.2; ( nap 0.1 ); e=$EPOCHREALTIME; echo "$s $e"\n`;
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mb-nap-')), 'strace');
  const r = await $({ input: script, nothrow: true, quiet: true })`strace -f -qq -e trace=execve -o ${log} bash -s`;
  const [s, e] = r.stdout.trim().split(' ').map(Number);
  t.true(e - s >= 0.29 && e - s < 1.5, `${e - s} s`);
  const execs = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes('execve('));
  t.is(execs.length, 1, execs.join('\n')); // bash itself only
  fs.rmSync(path.dirname(log), { recursive: true });
  // nap_close: a daemon started after it does not inherit the pipe
  const fds = await run(
    'fds() { local n=0 f; for f in /proc/$BASHPID/fd/*; do n=$((n ' +
      '+ 1)); done; echo $n; }; fds; nap 0.01; fds; nap_close; fds',
  );
  const [before, napping, closed] = fds.stdout.trim().split('\n').map(Number);
  t.is(napping, before + 1); // the pipe, open read-write
  t.is(closed, before);
});

test(
  'an interrupted run is stopped whole, also through sudo or a login ' +
    'shell that does not exec its command: the process group is recorded',
  async (t) => {
    for (const user of ['root', 'ops']) {
      const runId = `mbtest${process.pid}${user}`;
      const remote = remoteAs(user);
      // as sshd does: a new session whose login shell (here dash, which forks for its
      // command instead of exec-ing it) is given the joined remote words
      const p = spawn('setsid', ['sh', '-c', remote], { stdio: ['pipe', 'pipe', 'ignore'] });
      p.stdin.end(`${PRELUDE}\n${trackRun(runId)}\nsleep 30 & echo "child $!"; wait\n`);
      const child = await new Promise<number>((resolve, reject) => {
        let out = '';
        p.stdout!.on('data', (d) => {
          out += d;
          const m = /child (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        p.on('exit', (code) =>
          reject(new Error(`${user}: the session ended (${code}) before it started its child: ${out}`)),
        );
      });
      await $({ input: stopRun(runId), quiet: true })`sh -c ${remote}`;
      const gone = async () => {
        for (let i = 0; i < 30; i++) {
          try {
            process.kill(child, 0);
          } catch {
            return true;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return false;
      };
      t.true(await gone(), `${user}: the session's sleep ${child} still runs`);
      t.false(fs.existsSync(`/run/meshbook/${runId}.pid`), user);
    }
  },
);

test('the remote shell reads a large script in blocks, not one byte per read(2) as bash -s does', async (t) => {
  const big = `${PRELUDE}\n${Array.from({ length: 300 }, (_, i) => `x${i}=${'a'.repeat(60)}`).join('\n')}\necho ok\n`;
  const reads = async (argv: string[]) => {
    const r = await $({ input: big, nothrow: true, quiet: true })`strace -f -qq -c -e trace=read ${argv}`;
    // strace -c: % time, seconds, usecs/call, calls, [errors,] syscall
    const row = r.stderr.split('\n').find((l) => / read$/.test(l.trimEnd()));
    return Number(row?.trim().split(/\s+/)[3] ?? NaN);
  };
  const ours = await reads(['sh', '-c', `cat | ${remote}`]);
  const byteWise = await reads(['sh', '-c', 'cat | bash -s']);
  t.true(byteWise > big.length * 0.9, `bash -s: ${byteWise} reads for ${big.length} bytes`);
  t.true(ours < 100, `ours: ${ours} reads`);
});

test('ssh argv: accept-new against our known_hosts, multiplexed, script never in argv', (t) => {
  const vm = {
    name: 'vm1',
    host: '192.168.0.250',
    user: 'ops',
    port: 2222,
    privateIp: '192.168.0.250',
    labels: {},
    runtime: 'docker' as const,
  };
  const argv = sshArgv(
    vm,
    { knownHosts: '/k/known_hosts', connectTimeoutS: 7, commandTimeoutMs: 1000, netns: 'meshlab-ws' },
    remoteShell({ ...vm, user: 'ops' }),
  );
  t.deepEqual(argv.slice(0, 4), ['ip', 'netns', 'exec', 'meshlab-ws']);
  const opts = argv.flatMap((a, i) => (argv[i - 1] === '-o' ? [a] : []));
  t.true(opts.includes('StrictHostKeyChecking=accept-new'));
  t.false(opts.some((o) => /StrictHostKeyChecking=no/.test(o)));
  t.true(opts.includes('UserKnownHostsFile=/k/known_hosts'));
  t.true(opts.includes('ControlMaster=auto'));
  t.true(opts.includes('ConnectTimeout=7'));
  t.deepEqual(argv.slice(-6, -1), ['ops@192.168.0.250', 'sudo', '-n', 'bash', '-c']);
  t.regex(argv.at(-1)!, /^'.*\. \/dev\/stdin.*'$/);
});

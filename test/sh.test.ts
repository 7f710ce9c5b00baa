// The script builder: values are quoted by zx (never by hand), arrays are argument
// lists, secrets are masked in what is shown and only present in what is sent.
import test from 'ava';
import { $ } from 'zx';
import { probe, mutate, Secret, PRELUDE } from '../scripts/engine/sh.ts';
import { sshArgv } from '../scripts/engine/ssh.ts';

const run = async (text: string) => (await $({ input: `${PRELUDE}\n${text}\n`, nothrow: true })`bash -s`);

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
  // every mode as asked, whatever the session's umask (a umask for the usual modes, chmod
  // for execute bits); content as an argument; an existing destination is replaced
  const modes = await run(mutate`umask 0002; write_file ${`${dir}/a`} 0644 x; write_file ${`${dir}/b`} 0755 'y'$'\n'; write_file ${`${dir}/c`} 0640 z; printf 'K=w\n' | write_file ${f} 0600; stat -c '%n %a' ${dir}/* | sed 's|.*/||'; cat ${f} ${`${dir}/b`}; umask`.text);
  t.is(modes.stdout, 'a 644\nb 755\nc 640\nsecret.env 600\nK=w\ny\n0002\n');
  // a directory it cannot write: fails, leaves nothing behind
  await $`chmod 0555 ${dir}`;
  const denied = await $({ input: `${PRELUDE}\n${mutate`write_file ${`${dir}/d`} 0644 x`.text}\n`, nothrow: true })`setpriv --reuid=65534 --regid=65534 --clear-groups bash -s`;
  t.not(denied.exitCode, 0);
  t.regex(denied.stderr, /Permission denied/);
  t.is((await $`ls -A ${dir}`).stdout, 'a\nb\nc\nsecret.env\n');
  await $`rm -rf ${dir}`;
});

test('ssh argv: accept-new against our known_hosts, multiplexed, script never in argv', (t) => {
  const vm = { name: 'vm1', host: '192.168.0.250', user: 'ops', port: 2222, privateIp: '192.168.0.250', labels: {}, runtime: 'docker' as const };
  const argv = sshArgv(vm, { knownHosts: '/k/known_hosts', connectTimeoutS: 7, commandTimeoutMs: 1000, netns: 'meshlab-ws' }, ['sudo', '-n', 'bash', '-s']);
  t.deepEqual(argv.slice(0, 4), ['ip', 'netns', 'exec', 'meshlab-ws']);
  const opts = argv.flatMap((a, i) => (argv[i - 1] === '-o' ? [a] : []));
  t.true(opts.includes('StrictHostKeyChecking=accept-new'));
  t.false(opts.some((o) => /StrictHostKeyChecking=no/.test(o)));
  t.true(opts.includes('UserKnownHostsFile=/k/known_hosts'));
  t.true(opts.includes('ControlMaster=auto'));
  t.true(opts.includes('ConnectTimeout=7'));
  t.deepEqual(argv.slice(-5), ['ops@192.168.0.250', 'sudo', '-n', 'bash', '-s']);
});

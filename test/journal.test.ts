// The journal and the run lock on their own: unreadable journals are moved aside (never a
// crash), identities void stale entries, fingerprints do not reveal secrets, state files
// are written through unique temporary names, one run per env file.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { Journal, fingerprint } from '../scripts/engine/journal.ts';
import { CLUSTER_ID_CMD, clusterIdentity, hostKeyIdentity } from '../scripts/engine/identity.ts';
import { lockEnv, LockBusy } from '../scripts/engine/lock.ts';
import { registerSecret } from '../scripts/engine/redact.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-journal-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
const envFile = path.join(tmp, 'x.env');
fs.writeFileSync(envFile, 'A=1\n');

for (const [shape, text] of Object.entries({
  empty: '',
  truncated: '{"version":2,"envFile":"/x","runbook":"rb","compl',
  garbage: '\u0000\u0001 not json',
  '{}': '{}',
  null: 'null',
  'old format': '{"envFile":"/x","complete":false,"steps":{}}',
})) {
  test(`an unreadable journal (${shape}) is named, moved aside and the run starts fresh`, (t) => {
    const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
    const j = new Journal(envFile, dir);
    fs.mkdirSync(path.dirname(j.fileFor('rb')), { recursive: true });
    fs.writeFileSync(j.fileFor('rb'), text);
    t.deepEqual(j.interrupted(['rb']), []);
    t.is(j.notices.length, 1);
    t.regex(j.notices[0], /could not be read .* moved aside to .*unreadable-\d{4}-/);
    t.true(j.notices[0].includes(j.fileFor('rb')));
    const aside = fs.readdirSync(path.dirname(j.fileFor('rb'))).filter((f) => f.includes('.unreadable-'));
    t.is(aside.length, 1);
    t.is(fs.readFileSync(path.join(path.dirname(j.fileFor('rb')), aside[0]), 'utf8'), text);
    // and the run goes on: start, record, finish write a good journal
    j.start(['rb']);
    j.record('rb/01-a', 'vm1', 'changed', 'f');
    j.finish(['rb'], false);
    const again = new Journal(envFile, dir);
    t.deepEqual(again.interrupted(['rb']), ['rb']);
    t.true(again.doneBefore('rb/01-a', 'vm1', 'f'));
    t.deepEqual(again.notices, []);
  });
}

test('one journal per runbook: an interrupted run of one runbook is not reported for another', (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const j = new Journal(envFile, dir);
  j.start(['a']);
  j.finish(['a'], false);
  const k = new Journal(envFile, dir);
  t.deepEqual(k.interrupted(['b']), []);
  t.deepEqual(k.interrupted(['a', 'b']), ['a']);
  t.not(k.fileFor('a'), k.fileFor('b'));
});

test('the journal is found from any directory (state home, not the cwd)', (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const cwd = process.cwd();
  const j = new Journal(envFile, dir);
  process.chdir(os.tmpdir());
  try {
    t.is(new Journal(path.relative(os.tmpdir(), envFile), dir).fileFor('rb'), j.fileFor('rb'));
  } finally {
    process.chdir(cwd);
  }
});

test('a host with another identity loses its entries, with a line saying so; a first contact does not', (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const j = new Journal(envFile, dir);
  j.identify(['rb'], 'vm1', undefined, 'host'); // first run: key not yet known
  j.start(['rb']);
  j.record('rb/01-a', 'vm1', 'changed', 'f');
  j.record('rb/01-a', 'vm2', 'changed', 'f');
  j.learn(['rb'], 'vm1', 'hostkey:1'); // known after the first contact
  j.learn(['rb'], 'vm2', 'hostkey:2');
  j.finish(['rb'], false);
  const k = new Journal(envFile, dir);
  k.identify(['rb'], 'vm1', 'hostkey:1', 'host');
  k.identify(['rb'], 'vm2', 'hostkey:NEW', 'host');
  t.true(k.doneBefore('rb/01-a', 'vm1', 'f'));
  t.false(k.doneBefore('rb/01-a', 'vm2', 'f'));
  t.deepEqual(k.notices, ['journal of rb: vm2 is not the host it recorded (identity changed): its entries are void']);
});

test('fingerprints are taken over the masked text: a journal cannot confirm a guessed secret', (t) => {
  const secret = `canary-${crypto.randomBytes(6).toString('hex')}`;
  const script = (s: string) => `printf '%s\\n' 'KEY=${s}' > /opt/env`;
  const before = fingerprint(script(secret));
  registerSecret(secret);
  const masked = fingerprint(script(secret));
  t.not(masked, before, 'the fingerprint changed once the secret is known as one');
  t.is(masked, fingerprint(script('***')));
  t.is(fingerprint(script('a-wrong-guess')), fingerprint(script('a-wrong-guess')));
  t.not(fingerprint(script('a-wrong-guess')), masked);
  // a guess equal to the secret is masked too: the journal says nothing about it
  t.is(fingerprint(script(secret)), fingerprint(script('***')));
});

test('host identity from known_hosts: plain, [host]:port and hashed entries; none when absent', (t) => {
  const salt = crypto.randomBytes(20);
  const hashed = (name: string) =>
    `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name).digest('base64')}`;
  const kh = [
    '192.168.0.250 ssh-ed25519 AAAAkey1',
    '[192.168.0.251]:2222 ssh-ed25519 AAAAkey2',
    `${hashed('192.168.0.252')} ssh-ed25519 AAAAkey3`,
    '@revoked 192.168.0.253 ssh-ed25519 AAAAbad',
  ].join('\n');
  const a = hostKeyIdentity(kh, '192.168.0.250', 22);
  t.regex(a!, /^hostkey:[0-9a-f]{16}$/);
  t.truthy(hostKeyIdentity(kh, '192.168.0.251', 2222));
  t.is(hostKeyIdentity(kh, '192.168.0.251', 22), undefined);
  t.truthy(hostKeyIdentity(kh, '192.168.0.252', 22));
  t.is(hostKeyIdentity(kh, '192.168.0.253', 22), undefined);
  t.not(hostKeyIdentity(kh.replace('key1', 'key9'), '192.168.0.250', 22), a);
});

test('journal writes go through unique temporary names: concurrent writers never tear the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const code = `import { Journal } from ${JSON.stringify(path.resolve('scripts/engine/journal.ts'))};
    const j = new Journal(${JSON.stringify(envFile)}, ${JSON.stringify(dir)});
    j.start(['rb']);
    for (let i = 0; i < 300; i++) { j.record('rb/01-a', 'vm' + (i % 7), 'changed', String(i)); j.flush(); }
    j.finish(['rb'], true);`;
  const runs = Array.from(
    { length: 3 },
    () =>
      new Promise<number>((res) => {
        spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: 'inherit' }).on(
          'exit',
          (c) => res(c ?? 1),
        );
      }),
  );
  t.deepEqual(await Promise.all(runs), [0, 0, 0]);
  const j = new Journal(envFile, dir);
  t.deepEqual(j.interrupted(['rb']), []);
  t.deepEqual(j.notices, []);
  t.deepEqual(
    fs.readdirSync(path.dirname(j.fileFor('rb'))).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('the run lock: a second holder is refused naming pid and command; a dead holder is taken over', async (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, 'locks-'));
  const first = lockEnv(envFile, 'meshbook rebuild a --env x.env', dir);
  const e = t.throws(() => lockEnv(envFile, 'meshbook rebuild b', dir), { instanceOf: LockBusy });
  t.regex(e!.message, new RegExp(`pid ${process.pid} \\(meshbook rebuild a --env x\\.env\\)`));
  first.release();
  // a holder that died without releasing (kill -9)
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { lockEnv } from ${JSON.stringify(path.resolve('scripts/engine/lock.ts'))}; ` +
        `lockEnv(${JSON.stringify(envFile)}, 'meshbook rebuild ` +
        `dead', ${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((res) =>
    child.stdout!.on('data', (d) => {
      if (String(d).includes('locked')) res();
    }),
  );
  t.throws(() => lockEnv(envFile, 'x', dir), { instanceOf: LockBusy });
  child.kill('SIGKILL');
  await new Promise((res) => child.on('exit', res));
  const taken = lockEnv(envFile, 'meshbook rebuild c', dir);
  t.is(taken.tookOver?.pid, child.pid);
  t.is(taken.tookOver?.command, 'meshbook rebuild dead');
  taken.release();
  t.deepEqual(fs.readdirSync(dir), []);
});

test("cluster identity: the lab generation, or a real cluster's kube-system UID; unknown otherwise", (t) => {
  t.is(clusterIdentity({ LAB_GENERATION: '0123456789abcdef' }, true), 'lab:0123456789abcdef');
  t.is(clusterIdentity({}, true), undefined);
  t.deepEqual(CLUSTER_ID_CMD.argv, ['kubectl', 'get', 'namespace', 'kube-system', '-o', 'jsonpath={.metadata.uid}']);
  t.is(CLUSTER_ID_CMD.kind, 'probe');
  t.is(
    clusterIdentity({}, false, { code: 0, stdout: '6f1c2d3e-0a1b-4c5d-8e9f-001122334455', stderr: '' }),
    'kube-system:6f1c2d3e-0a1b-4c5d-8e9f-001122334455',
  );
  t.is(
    clusterIdentity({}, false, { code: 1, stdout: '', stderr: 'The connection to the server was refused' }),
    undefined,
  );
  t.is(clusterIdentity({}, false, { code: 0, stdout: 'error: something', stderr: '' }), undefined);
});

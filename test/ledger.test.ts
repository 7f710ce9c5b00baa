// The run ledger: one JSONL file per run (0600 under a 0700 directory), an event per line with
// t and type; a real run through the runner records each step x host with its commands, exit
// codes, output tails and facts, the canary secret masked everywhere (in the commands shown,
// in their stdout and stderr); a kill -9 leaves every earlier line readable and the next run
// marks that run ended abnormally; a verifier's JSON output becomes a verify-result event.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { CANARY, ledgerRun } from './helpers/ledger-run.ts';
import { readEvents, summarize, listRuns, resolveRun } from '../scripts/ledger/read.ts';
import { startRun, runsDir, RUN_PARENT_ENV } from '../scripts/ledger/ledger.ts';
import { sentOf } from '../scripts/ledger/capture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-ledger-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.serial('a run: modes, one event per line, every step x host with its commands, no secret', async (t) => {
  const dir = path.join(tmp, 'a');
  const { rep, ledger } = await ledgerRun(dir);
  t.is(fs.statSync(path.dirname(ledger.file)).mode & 0o777, 0o700);
  t.is(fs.statSync(ledger.file).mode & 0o777, 0o600);
  const text = fs.readFileSync(ledger.file, 'utf8');
  t.false(text.includes(CANARY), 'the canary secret is in no event');
  t.true(text.includes('token=***') && text.includes('stderr says ***'), 'output masked on the way in');
  const { events, bad } = readEvents(ledger.file);
  t.is(bad, 0);
  for (const e of events) t.true(typeof e.t === 'string' && !Number.isNaN(Date.parse(e.t)) && !!e.type);
  t.is(events[0].type, 'run-start');
  t.is(events[events.length - 1].type, 'run-end');
  t.is(events[events.length - 1].code, 1);
  t.regex(String((events[0].env as { sha256: string }).sha256), /^[0-9a-f]{64}$/);
  // the ledger says what the runner's report says, per step x host
  const ends = events.filter((e) => e.type === 'step-end');
  t.deepEqual(
    ends.map((e) => [e.step, e.host, e.status]),
    rep.records.flatMap((r) => Object.entries(r.hosts).map(([h, x]) => [r.id, h, x.status])),
  );
  t.deepEqual(
    ends.map((e) => e.status),
    ['ok', 'changed', 'failed'],
  );
  const sent = ends.map((e) => (e.sent as { kind: string; code: number; cmd: string; stdout: string }[]) ?? []);
  t.deepEqual(
    sent.map((s) => s.map((x) => `${x.kind}:${x.code}`)),
    [['probe:0'], ['check:10', 'change:0'], ['check:3']],
  );
  t.regex(sent[0][0].cmd, /bash -c/);
  t.true(sent[0][0].cmd.includes('***'), 'the stdin shown in the command is masked too');
  t.deepEqual(ends[0].facts, { seen: true });
  t.regex(String(ends[2].error), /check exited 3/);
  const s = summarize(ledger.file, events);
  t.is(s.result, 'failed');
  t.deepEqual(s.failedSteps, ['ledger-demo/03-fail']);
  t.is(resolveRun(path.dirname(ledger.file), 'latest'), ledger.file);
  t.is(resolveRun(path.dirname(ledger.file), ledger.id), ledger.file);
  // meshbook runs --json lists it
  const cli = spawnSync(
    process.execPath,
    ['bin/meshbook.js', 'runs', '--json', '--runs-dir', path.dirname(ledger.file)],
    {
      encoding: 'utf8',
    },
  );
  t.is(cli.status, 0, cli.stderr);
  const listed = JSON.parse(cli.stdout) as { runs: { id: string; result: string; failedSteps: string[] }[] };
  t.like(listed.runs[0], { id: ledger.id, result: 'failed', failedSteps: ['ledger-demo/03-fail'] });
});

test.serial('kill -9 mid-run: every earlier event parses; the next run marks it ended abnormally', async (t) => {
  const dir = path.join(tmp, 'k');
  const script = `
    import { startRun } from ${JSON.stringify(path.resolve('scripts/ledger/ledger.ts'))};
    const l = startRun({ command: 'rebuild', runsDir: ${JSON.stringify(dir)} });
    let i = 0;
    setInterval(() => l.event('step-end', { step: 's' + i++, host: 'vm1', status: 'ok', stdout: 'x'.repeat(20000) }), 2);
    setTimeout(() => process.stdout.write('going\\n'), 200);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, [RUN_PARENT_ENV]: '' },
  });
  await new Promise((res) => child.stdout.once('data', res));
  child.kill('SIGKILL');
  await new Promise((res) => child.once('exit', res));
  const [file] = fs.readdirSync(dir).map((f) => path.join(dir, f));
  const { events, bad } = readEvents(file);
  t.is(bad, 0, 'no line was cut short');
  t.true(events.length > 10);
  t.falsy(events.find((e) => e.type === 'run-end'));
  t.is(summarize(file, events).result, 'ended abnormally');
  // the next run marks it (and leaves its own, live, file alone)
  const next = startRun({ command: 'rebuild', runsDir: dir });
  const after = readEvents(file).events;
  t.like(after[after.length - 1], { type: 'run-end', abnormal: true, code: null });
  startRun({ command: 'rebuild', runsDir: dir }).end(0);
  t.falsy(
    readEvents(next.file).events.find((e) => e.type === 'run-end'),
    'a live run is not marked',
  );
  next.end(0);
  t.deepEqual(
    listRuns(dir).map((r) => r.result),
    ['ended abnormally', 'ok', 'ok'],
  );
});

test('MESHBOOK_RUNS_DIR moves the ledger; a verifier JSON line in a command output is kept whole', (t) => {
  const old = process.env.MESHBOOK_RUNS_DIR;
  process.env.MESHBOOK_RUNS_DIR = path.join(tmp, 'env-dir');
  t.is(runsDir(), path.join(tmp, 'env-dir'));
  t.is(runsDir('x/y'), path.resolve('x/y'));
  if (old === undefined) delete process.env.MESHBOOK_RUNS_DIR;
  else process.env.MESHBOOK_RUNS_DIR = old;
  const json = JSON.stringify({ tool: 'meshbook verify traffic', verdict: 'PASS', buckets: [] });
  const s = sentOf(
    'probe',
    'node meshbook.js verify traffic --json',
    { code: 0, stdout: `x\n${json}\n`, stderr: '' },
    0,
  );
  t.is(s.verify?.verdict, 'PASS');
  t.notRegex(s.stdout, /verdict/);
});

test.serial(
  'an existing runs directory open to others is not used (nor narrowed); a run ends its children tag',
  (t) => {
    const open = path.join(tmp, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o1777);
    t.throws(() => startRun({ command: 'rebuild', runsDir: open }), { message: /open to other users \(mode 1777\)/ });
    t.is(fs.statSync(open).mode & 0o7777, 0o1777, 'its mode is left alone');
    t.deepEqual(fs.readdirSync(open), []);
    const own = path.join(tmp, 'own');
    const ledger = startRun({ command: 'walkthrough', runsDir: own });
    t.is(process.env[RUN_PARENT_ENV], ledger.id, "a run's children (its verifier) are part of it");
    ledger.end(0);
    t.is(process.env[RUN_PARENT_ENV], undefined, 'what runs after it (the offered canary) records a run of its own');
  },
);

test.serial('verify traffic: credentials on its command line are masked in its output and its ledger', async (t) => {
  const http = await import('node:http');
  const server = http.createServer((_req, res) => res.end('Hello\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const dir = path.join(tmp, 'verify-creds');
  const { $ } = await import('zx');
  const verify = $({ nothrow: true, quiet: true, env: { ...process.env, MESHBOOK_RUNS_DIR: dir } });
  const ledgers = () => fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  try {
    const h =
      await verify`node bin/meshbook.js verify traffic --url ${`http://127.0.0.1:${port}/`} --header ${'Authorization: Bearer tok-0123456789'} --header ${'X-Api-Key: k3y-abcdef'} --expect a=100 --classify a=. --warmup 0 --json`;
    t.is(h.exitCode, 0, h.stderr);
    // a URL with user:password is refused (exit 3), and its password is not recorded either
    const u =
      await verify`node bin/meshbook.js verify traffic --url ${`http://ops:pa55-w0rd@127.0.0.1:${port}/`} --expect a=100 --classify a=. -n 30 --json`;
    t.is(u.exitCode, 3);
    const all = [h.stdout, h.stderr, u.stdout, u.stderr, ...ledgers()].join('\n');
    for (const secret of ['pa55-w0rd', 'tok-0123456789', 'k3y-abcdef']) t.false(all.includes(secret), secret);
    t.true(ledgers().some((l) => l.includes('Authorization: ***')));
  } finally {
    server.close();
  }
});

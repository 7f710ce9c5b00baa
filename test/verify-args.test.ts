// Argument and env-file handling of `meshbook verify traffic`: everything is validated before
// anything is sent, and each problem is one line naming the argument.

import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, VerifyArgError, type RawVerifyOptions } from '../scripts/verify/args.ts';
import { readTrafficEnv } from '../scripts/verify/env.ts';

const FIX = join(import.meta.dirname, 'fixtures', 'verify');
const base: RawVerifyOptions = {
  url: 'http://127.0.0.1:8004/hello/eric',
  expect: 'v1=30,v2=60,v3=10',
  classify: 'v1=^Hello,v2=^Bonjour,v3=^Hola',
};

function argError(t: import('ava').ExecutionContext, raw: RawVerifyOptions, arg: string, re: RegExp) {
  const e = t.throws(() => resolveConfig(raw), { instanceOf: VerifyArgError });
  t.is(e!.arg, arg);
  t.regex(e!.message, re);
  t.false(e!.message.includes('\n'), 'one line');
}

test('defaults and a full parse', (t) => {
  const c = resolveConfig(base);
  t.is(c.origin, 'http://127.0.0.1:8004');
  t.is(c.path, '/hello/eric');
  t.deepEqual(
    c.buckets.map((b) => [b.name, b.weight, b.share]),
    [
      ['v1', 30, 0.3],
      ['v2', 60, 0.6],
      ['v3', 10, 0.1],
    ],
  );
  t.true(c.buckets[1].pattern.test('Bonjour eric(1.2.3.4)<-Hello eric'));
  t.is(c.n, 'auto');
  t.is(c.connections, 10);
  t.is(c.warmup, 5);
  t.is(c.alpha, 0.05);
  t.is(c.minEffect, 0.05);
  t.is(c.timeoutMs, 10_000);
  t.is(c.maxBodyBytes, 4096);
  t.is(c.byHeader, null);
  t.false(c.deterministic);
});

test('classify: commas inside a pattern survive, repeated flags, /re/flags, objects', (t) => {
  const c = resolveConfig({
    ...base,
    expect: 'a=1,b=1,c=0',
    classify: ['a=^x{1,3}y,b=/^HELLO/i', 'c=z'],
  });
  t.is(c.buckets[0].pattern.source, '^x{1,3}y');
  t.deepEqual(resolveConfig({ ...base, classify: 'v3=^Hola,v1=^Hello,v2=^Bonjour' }).matchOrder, [2, 0, 1]);
  t.true(c.buckets[1].pattern.test('hello'));
  t.true(c.buckets[2].pattern.test('z'));
  const o = resolveConfig({ ...base, expect: { v1: 1, v2: 3 }, classify: { v1: /^Hello/g, v2: '^Bonjour' } });
  t.is(o.buckets[1].share, 0.75);
  t.is(o.buckets[0].pattern.flags, ''); // g/y dropped: no lastIndex state between requests
});

test('weights are normalised and zero weights kept', (t) => {
  const c = resolveConfig({ ...base, expect: 'v1=3,v2=6,v3=1' });
  t.deepEqual(
    c.buckets.map((b) => b.share),
    [0.3, 0.6, 0.1],
  );
  const z = resolveConfig({ ...base, expect: 'v1=100,v2=0,v3=0' });
  t.deepEqual(
    z.buckets.map((b) => b.share),
    [1, 0, 0],
  );
});

test('bad arguments: one line naming the argument', (t) => {
  argError(t, { ...base, url: undefined }, '--url', /missing/);
  argError(t, { ...base, url: 'ftp://x/' }, '--url', /http:\/\/ or https:\/\//);
  argError(t, { ...base, url: 'not a url' }, '--url', /not a URL/);
  argError(t, { ...base, expect: 'v1=30,v2=sixty,v3=10' }, '--expect', /weight "sixty" for v2/);
  argError(t, { ...base, expect: 'v1=30,v2=-1,v3=10' }, '--expect', /v2/);
  argError(t, { ...base, expect: 'v1=0,v2=0,v3=0' }, '--expect', /all weights are 0/);
  argError(t, { ...base, expect: 'v1=30,v1=70' }, '--expect', /given twice/);
  argError(t, { ...base, expect: '30,60,10' }, '--expect', /not NAME=WEIGHT/);
  argError(t, { ...base, classify: 'v1=^Hello,v2=^Bonjour' }, '--classify', /no pattern for bucket v3/);
  argError(t, { ...base, classify: 'v1=^Hello,v2=^Bonjour,v3=^Hola,v4=^Hallo' }, '--classify', /v4 has no weight/);
  argError(t, { ...base, classify: 'v1=^Hello,v2=(,v3=^Hola' }, '--classify', /not a valid regular expression/);
  argError(t, { ...base, header: ['end-user jason'] }, '--header', /not 'Name: value'/);
  argError(t, { ...base, byHeader: 'x version' }, '--by-header', /not a valid header name/);
  argError(t, { ...base, n: '0' }, '-n', /out of range/);
  argError(t, { ...base, n: 'lots' }, '-n', /not a number/);
  argError(t, { ...base, n: '10.5' }, '-n', /out of range/);
  argError(t, { ...base, connections: '0' }, '-c', /out of range/);
  argError(t, { ...base, qps: '0' }, '--qps', /must be > 0/);
  argError(t, { ...base, alpha: '1.5' }, '--alpha', /between 0 and 0.5/);
  argError(t, { ...base, minEffect: '0' }, '--min-effect', /between 0.5 and 50/);
  argError(t, { ...base, timeout: '-5' }, '--timeout', /out of range/);
  argError(t, { ...base, slack: '3' }, '--slack', /only applies with --deterministic/);
  argError(t, { ...base, maxTime: '0' }, '--max-time', /must be > 0/);
});

test('--env: a traffic-shift env gives URL, weights and the hello app classes', (t) => {
  const env = readTrafficEnv(join(FIX, 'traffic-shift.env'));
  t.is(env.url, 'http://192.168.0.10:8004/hello/eric');
  t.is(env.expect, 'v1=30,v2=60,v3=10');
  t.is(env.classify, 'v1=^[^<]*<-Hello ,v2=^[^<]*<-Bonjour ,v3=^[^<]*<-Hola ');
  const c = resolveConfig({ env: join(FIX, 'traffic-shift.env') });
  t.is(c.url.href, 'http://192.168.0.10:8004/hello/eric');
  t.deepEqual(
    c.buckets.map((b) => b.weight),
    [30, 60, 10],
  );
  // Through the ingress, hello1 (always v1) answers first: the version under test is
  // hello2's greeting, the one after the first `<-`.
  const bucketOf = (body: string) => c.buckets.filter((b) => b.pattern.test(body)).map((b) => b.name);
  t.deepEqual(bucketOf('Hello eric(172.18.0.230)<-Bonjour eric(192.168.0.171)<-Hello eric(172.18.1.36)'), ['v2']);
  t.deepEqual(bucketOf('Hello eric(172.18.0.230)<-Hola eric(192.168.0.172)<-Hello eric(172.18.1.36)'), ['v3']);
  t.deepEqual(bucketOf('Hello eric(172.18.0.230)<-Hello eric(192.168.0.170)<-Hello eric(172.18.1.36)'), ['v1']);
  t.deepEqual(bucketOf('Hello eric(172.18.0.230)<-ERROR connect ENETUNREACH'), []);
  // IPv6 host, quoted WEIGHTS, defaults for the port and a custom path
  const v6 = readTrafficEnv(join(FIX, 'traffic-shift-v6.env'));
  t.is(v6.url, 'http://[::1]:8004/hello/jason');
  t.is(v6.classify, 'v1=^[^<]*<-Hello ,v2=^[^<]*<-Bonjour ');
  // flags override the env
  const o = resolveConfig({ env: join(FIX, 'traffic-shift.env'), url: 'http://127.0.0.1:9/x' });
  t.is(o.url.href, 'http://127.0.0.1:9/x');
});

test('--env problems name the file and the key', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshbook-verify-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const noHost = write('a.env', 'WEIGHTS=v1=30,v2=70\n');
  argError(t, { env: noHost }, `--env ${noHost}: INGRESS_HOST`, /missing/);
  const badPort = write('b.env', 'WEIGHTS=v1=30,v2=70\nINGRESS_HOST=10.0.0.1\nINGRESS_PORT=80000\n');
  argError(t, { env: badPort }, `--env ${badPort}: INGRESS_PORT`, /not a port/);
  const v9 = write('c.env', 'WEIGHTS=v1=30,v9=70\nINGRESS_HOST=10.0.0.1\n');
  argError(t, { env: v9 }, `--env ${v9}: WEIGHTS`, /"v9" is not one of the hello app's/);
  const noWeights = write('d.env', 'INGRESS_HOST=10.0.0.1\n');
  argError(t, { env: noWeights }, `--env ${noWeights}: WEIGHTS`, /missing/);
  const badWeight = write('e.env', 'WEIGHTS=v1=30,v2=x\nINGRESS_HOST=10.0.0.1\n');
  argError(t, { env: badWeight }, `--env ${badWeight}: WEIGHTS`, /weight "x" for v2/);
  const badHost = write('f.env', 'WEIGHTS=v1=100\nINGRESS_HOST=http://10.0.0.1\n');
  argError(t, { env: badHost }, `--env ${badHost}: INGRESS_HOST`, /not an IP address or host name/);
  argError(t, { env: join(dir, 'missing.env') }, '--env', /cannot read .*ENOENT/);
});

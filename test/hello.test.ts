// The hello app (vm/hello/hello.mjs) on loopback: greetings per version, the article's chain
// v1 -> v2 -> v3 over three instances, and what a failed backend looks like (connection
// refused; a name that does not resolve, inside a network namespace of its own so the DNS
// query cannot leave it). Traffic goes to 127.0.0.1 only.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const APP = new URL('../vm/hello/hello.mjs', import.meta.url).pathname;
const children: ChildProcess[] = [];

interface Hello {
  port: number;
  lines: string[];
  child: ChildProcess;
}

async function start(env: Record<string, string>): Promise<Hello> {
  const child = spawn(process.execPath, [APP], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(l);
        if (m) resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`hello exited ${code}: ${err}`)));
  });
  return { port, lines, child };
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as net.AddressInfo).port;
  s.close();
  return p;
}

test.after.always(() => {
  for (const c of children) c.kill('SIGKILL');
});

test('each version greets in its language, with its own address', async (t) => {
  for (const [v, g] of [
    ['v1', 'Hello'],
    ['v2', 'Bonjour'],
    ['v3', 'Hola'],
  ]) {
    const h = await start({ VERSION: v, OWN_IP: '10.0.0.9' });
    const r = await get(h.port, '/hello/eric');
    t.is(r.status, 200);
    t.is(r.body, `${g} eric(10.0.0.9)\n`);
  }
});

test('the address defaults to the first non-loopback IPv4, and messages are decoded', async (t) => {
  const h = await start({ VERSION: 'v1' });
  const r = await get(h.port, '/hello/%C3%A9ric%20b');
  t.regex(r.body, /^Hello éric b\((\d+\.){3}\d+\)\n$/);
  t.false(r.body.includes('(127.'), 'a loopback address was shown although a non-loopback one exists');
});

test('the chain v1 -> v2 -> v3 over three instances', async (t) => {
  const v3 = await start({ VERSION: 'v3', OWN_IP: '172.18.1.36' });
  const v2 = await start({
    VERSION: 'v2',
    OWN_IP: '192.168.0.171',
    HTTP_HELLO_BACKEND: '127.0.0.1',
    BACKEND_PORT: String(v3.port),
  });
  const v1 = await start({
    VERSION: 'v1',
    OWN_IP: '172.18.0.230',
    HTTP_HELLO_BACKEND: '127.0.0.1',
    BACKEND_PORT: String(v2.port),
  });
  const r = await get(v1.port, '/hello/eric');
  t.is(r.status, 200);
  t.is(r.body, 'Hello eric(172.18.0.230)<-Bonjour eric(192.168.0.171)<-Hola eric(172.18.1.36)\n');
  // several in a row over the keep-alive agent
  for (let i = 0; i < 20; i++)
    t.is(
      (await get(v1.port, `/hello/m${i}`)).body,
      `Hello m${i}(172.18.0.230)<-Bonjour m${i}(192.168.0.171)<-Hola m${i}(172.18.1.36)\n`,
    );
  // one log line per request, naming the backend
  await new Promise((r) => setTimeout(r, 50));
  t.true(
    v1.lines.filter((l) => / GET \/hello\/m\d+ 200 \d+ms backend=127\.0\.0\.1:\d+$/.test(l)).length === 20,
    v1.lines.join('\n'),
  );
});

test('a backend that refuses: 503 with one line naming it; the error travels up the chain', async (t) => {
  const dead = await freePort();
  const v2 = await start({
    VERSION: 'v2',
    OWN_IP: '10.0.0.2',
    HTTP_HELLO_BACKEND: '127.0.0.1',
    BACKEND_PORT: String(dead),
  });
  const r2 = await get(v2.port, '/hello/eric');
  t.is(r2.status, 503);
  t.is(r2.body, `Bonjour eric(10.0.0.2)<-ERROR connect ECONNREFUSED 127.0.0.1:${dead}\n`);
  const v1 = await start({
    VERSION: 'v1',
    OWN_IP: '10.0.0.1',
    HTTP_HELLO_BACKEND: '127.0.0.1',
    BACKEND_PORT: String(v2.port),
  });
  const r1 = await get(v1.port, '/hello/eric');
  t.is(r1.status, 502);
  t.is(r1.body, `Hello eric(10.0.0.1)<-Bonjour eric(10.0.0.2)<-ERROR connect ECONNREFUSED 127.0.0.1:${dead}\n`);
});

test('a backend that hangs: bounded by BACKEND_TIMEOUT_MS', async (t) => {
  const hang = net
    .createServer(() => {
      /* accept, never answer */
    })
    .listen(0, '127.0.0.1');
  await once(hang, 'listening');
  try {
    const port = (hang.address() as net.AddressInfo).port;
    const v1 = await start({
      VERSION: 'v1',
      OWN_IP: '10.0.0.1',
      HTTP_HELLO_BACKEND: '127.0.0.1',
      BACKEND_PORT: String(port),
      BACKEND_TIMEOUT_MS: '300',
    });
    const t0 = Date.now();
    const r = await get(v1.port, '/hello/eric');
    t.true(Date.now() - t0 < 2000);
    t.is(r.status, 503);
    t.is(r.body, `Hello eric(10.0.0.1)<-ERROR timed out after 300 ms calling 127.0.0.1:${port}\n`);
  } finally {
    hang.close();
  }
});

test('other paths and methods, and bad settings', async (t) => {
  const h = await start({ VERSION: 'v3', OWN_IP: '10.0.0.3' });
  t.is((await get(h.port, '/')).status, 404);
  t.is((await get(h.port, '/hello/a/b')).status, 404);
  await t.throwsAsync(start({ VERSION: 'v4' }), { message: /VERSION="v4" is not v1, v2 or v3/ });
  await t.throwsAsync(start({ VERSION: 'v1', BACKEND_TIMEOUT_MS: 'soon' }), {
    message: /BACKEND_TIMEOUT_MS="soon" is not a whole number/,
  });
});

test('the fault knob: a share of 500s naming the version, a delay, applied per request, no restart', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-hello-fault-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'fault.json');
  const h = await start({ VERSION: 'v3', OWN_IP: '10.0.0.3', FAULT_FILE: file });
  const many = async (n: number) => Promise.all(Array.from({ length: n }, () => get(h.port, '/hello/eric')));
  t.deepEqual(await get(h.port, '/hello/eric'), { status: 200, body: 'Hola eric(10.0.0.3)\n' });
  fs.writeFileSync(file, '{"errorRate": 1}');
  t.deepEqual(await get(h.port, '/hello/eric'), { status: 500, body: 'Hola eric(10.0.0.3)<-FAULT\n' });
  fs.writeFileSync(file, '{"errorRate": 0.2}');
  const share = (await many(400)).filter((r) => r.status === 500).length / 400;
  t.true(share > 0.1 && share < 0.3, `share of 500s ${share}`);
  fs.writeFileSync(file, '{"delayMs": 300}');
  const t0 = performance.now();
  const slow = await get(h.port, '/hello/eric');
  const ms = performance.now() - t0;
  t.is(slow.status, 200);
  t.true(ms >= 300 && ms < 1000, `${ms} ms`);
  fs.writeFileSync(file, 'not json');
  t.is((await get(h.port, '/hello/eric')).status, 200, 'an unreadable knob is no fault');
  fs.writeFileSync(file, '{"errorRate": 1}');
  t.is((await get(h.port, '/hello/eric')).status, 500);
  fs.rmSync(file);
  t.is((await get(h.port, '/hello/eric')).status, 200, 'no file, no fault');
  t.true(h.lines.some((l) => l.endsWith('fault: {"errorRate":0,"delayMs":300}')));
});

// The article's symptom when a VM lacks the hosts line: the backend name does not resolve.
// Inside a fresh network namespace (only loopback) the resolver cannot reach anything.
const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('a backend name that does not resolve: the DNS error names it (own network namespace)', async (t) => {
  const client =
    `
    const { spawn } = require('node:child_process');
    const http = require('node:http');
    const app = spawn(process.execPath, [${JSON.stringify(APP)}], { env: { PATH: process.env.PATH, HOST: ` +
    `'127.0.0.1', PORT: '18001', VERSION: 'v2', OWN_IP: '192.168.0.171', HTTP_HELLO_BACKEND: ` +
    (`'hello3-svc.http-reciprocal-hello.svc.cluster.local', ` +
      `BACKEND_TIMEOUT_MS: '2000' }, stdio: ['ignore', 'pipe', 'inherit'] });
    app.stdout.once('data', () => http.get('http://127.0.0.1:18001/hello/eric', (res) => {
      let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => `) +
    `{ console.log(res.statusCode + ' ' + b.trim()); app.kill(); });
    }));`;
  const child = spawn(
    'unshare',
    ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" -e "$1"', process.execPath, client],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await once(child, 'exit');
  t.regex(
    out.trim(),
    /^503 Bonjour eric\(192\.168\.0\.171\)<-ERROR getaddrinfo (ENOTFOUND|EAI_AGAIN) hello3-svc\.http-reciprocal-hello\.svc\.cluster\.local$/,
  );
});

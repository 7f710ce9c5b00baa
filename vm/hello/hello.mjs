#!/usr/bin/env node
// The hello app of article 4 (http_reciprocal_demo's http_springboot v1/v2/v3), in plain
// Node (node:http only, no npm packages), so it runs with the VM's own `node` when a VM has
// no container engine (inventory `runtime: process`, and every lab VM).
//
//   GET /hello/{msg}  ->  "<greeting> <msg>(<own ip>)"                        no backend
//                     ->  "<greeting> <msg>(<own ip>)<-<backend's answer>"     HTTP_HELLO_BACKEND set
//   e.g. Hello eric(172.18.0.230)<-Bonjour eric(192.168.0.171)<-Hello eric(172.18.1.36)
//
// Environment:
//   VERSION             v1 (Hello, default) | v2 (Bonjour) | v3 (Hola)
//   PORT                listening port (8001); 0 picks a free one (tests)
//   HOST                bind address (0.0.0.0)
//   HTTP_HELLO_BACKEND  host of the next hop; it is called at http://HOST:BACKEND_PORT/hello/{msg}
//   BACKEND_PORT        port of the next hop (8001)
//   BACKEND_TIMEOUT_MS  bound for the whole backend call (3000)
//   OWN_IP              the address shown in answers (default: first non-loopback IPv4)
//   FAULT_FILE          the fault knob (default: fault.json next to this file), see below
//
// A failed backend call answers 503 (unreachable: DNS, connect, timeout) or 502 (the backend
// answered with an error), still one line that names the backend and the error, e.g.
//   Hello eric(192.168.0.170)<-ERROR getaddrinfo ENOTFOUND hello3-svc.http-reciprocal-hello.svc.cluster.local
// One log line per request on stdout.
//
// The fault knob (the lab's `meshbook lab fault`): while FAULT_FILE exists and holds
// {"errorRate": R, "delayMs": MS}, every answer to GET /hello/{msg} waits MS ms and a share R
// of them (0..1, Math.random) is a 500 that still names the version, without calling the
// backend: "Hola eric(192.168.0.252)<-FAULT". No file (or both 0) = no fault. The file is
// stat()ed per request and read again only when its inode, size, mtime or ctime change, so a
// new knob applies to the next request, without a restart.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const GREETINGS = { v1: 'Hello', v2: 'Bonjour', v3: 'Hola' };
const MAX_MSG = 256;
const TRACE_HEADERS = ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent', 'tracestate', 'x-ot-span-context'];

function fail(msg) {
  process.stderr.write(`hello: ${msg}\n`);
  process.exit(2);
}

function intEnv(name, dflt, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) fail(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  return Number(raw);
}

export function ownIp() {
  if (process.env.OWN_IP) return process.env.OWN_IP;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if ((a.family === 'IPv4' || a.family === 4) && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const version = process.env.VERSION || 'v1';
const greeting = GREETINGS[version];
if (!greeting) fail(`VERSION=${JSON.stringify(version)} is not v1, v2 or v3`);
const port = intEnv('PORT', 8001, 0, 65535);
const host = process.env.HOST || '0.0.0.0';
const backend = (process.env.HTTP_HELLO_BACKEND || '').trim();
if (backend && !/^[A-Za-z0-9.:\-[\]]+$/.test(backend)) fail(`HTTP_HELLO_BACKEND=${JSON.stringify(backend)} is not a host name or address`);
const backendPort = intEnv('BACKEND_PORT', 8001, 1, 65535);
const backendTimeoutMs = intEnv('BACKEND_TIMEOUT_MS', 3000, 1, 600000);
const ip = ownIp();
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });

const oneLine = (s) => String(s).replace(/[\r\n]+/g, ' ').trim();

const faultFile = process.env.FAULT_FILE || path.join(path.dirname(fileURLToPath(import.meta.url)), 'fault.json');
let faultKey = 'none';
let fault = null;

/** {errorRate, delayMs} from the knob's text, or null (no fault); bad values count as 0. */
function parseFault(text) {
  let j;
  try {
    j = JSON.parse(text);
  } catch (e) {
    process.stderr.write(`hello: ignoring ${faultFile}: ${oneLine(e.message)}\n`);
    return null;
  }
  const rate = typeof j?.errorRate === 'number' && j.errorRate >= 0 && j.errorRate <= 1 ? j.errorRate : 0;
  const delay = Number.isInteger(j?.delayMs) && j.delayMs >= 0 && j.delayMs <= 600000 ? j.delayMs : 0;
  return rate || delay ? { errorRate: rate, delayMs: delay } : null;
}

/** The fault in force: one stat per request, a read only when the file changed. */
function currentFault() {
  let key = 'none';
  let st;
  try {
    st = fs.statSync(faultFile, { bigint: true });
    key = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    // no file: no fault
  }
  if (key === faultKey) return fault;
  let text = null;
  try {
    if (st) text = fs.readFileSync(faultFile, 'utf8');
  } catch {
    key = 'none'; // gone between stat and read
  }
  faultKey = key;
  fault = text === null ? null : parseFault(text);
  process.stdout.write(`${new Date().toISOString()} fault: ${fault ? JSON.stringify(fault) : 'none'}\n`);
  return fault;
}

/** Call the next hop; resolves { ok, status, text } (text is one line), never rejects. */
function callBackend(msg, incoming) {
  return new Promise((resolve) => {
    const headers = {};
    for (const h of TRACE_HEADERS) if (incoming.headers[h]) headers[h] = incoming.headers[h];
    const where = `${backend}:${backendPort}`;
    let done = false;
    const finish = (r) => { if (!done) { done = true; clearTimeout(timer); resolve(r); } };
    const req = http.get({ host: backend, port: backendPort, path: `/hello/${encodeURIComponent(msg)}`, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { if (body.length < 65536) body += c; });
      res.on('end', () => {
        const text = oneLine(body.split('\n')[0] ?? '');
        if (res.statusCode >= 200 && res.statusCode < 300) finish({ ok: true, status: res.statusCode, text });
        else finish({ ok: false, status: 502, text: text || `ERROR HTTP ${res.statusCode} from ${where}` });
      });
      res.on('error', (e) => finish({ ok: false, status: 502, text: `ERROR ${oneLine(e.message)} (reading the answer of ${where})` }));
    });
    const timer = setTimeout(() => {
      finish({ ok: false, status: 503, text: `ERROR timed out after ${backendTimeoutMs} ms calling ${where}` });
      req.destroy();
    }, backendTimeoutMs);
    req.on('error', (e) => {
      const m = oneLine(e.message).replace(/ - Local \([^)]*\)$/, '');   // node adds the unbound local address
      finish({ ok: false, status: 503, text: `ERROR ${m}${m.includes(backend) ? '' : ` (backend ${where})`}` });
    });
  });
}

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  let status = 200;
  let body;
  let note = '';
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^\/hello\/([^/]+)$/.exec(url.pathname);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    status = 405;
    body = 'only GET /hello/{msg}';
  } else if (!m) {
    status = 404;
    body = 'not found: GET /hello/{msg}';
  } else {
    let msg;
    try {
      msg = decodeURIComponent(m[1]);
    } catch {
      msg = m[1];
    }
    msg = oneLine(msg).slice(0, MAX_MSG);
    const me = `${greeting} ${msg}(${ip})`;
    const f = currentFault();
    if (f?.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f && Math.random() < f.errorRate) {
      status = 500;
      body = `${me}<-FAULT`;
      note = ` fault=${JSON.stringify(f)}`;
    } else if (!backend) body = me;
    else {
      const r = await callBackend(msg, req);
      body = `${me}<-${r.text}`;
      status = r.ok ? 200 : r.status;
      note = ` backend=${backend}:${backendPort}${r.ok ? '' : ' failed'}`;
    }
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) + 1 });
  res.end(req.method === 'HEAD' ? undefined : `${body}\n`);
  process.stdout.write(`${new Date().toISOString()} ${req.socket.remoteAddress ?? '-'} ${req.method} ${oneLine(req.url ?? '')} ${status} ${Date.now() - started}ms${note}\n`);
});
server.keepAliveTimeout = 65000;

server.on('error', (e) => fail(`cannot listen on ${host}:${port}: ${e.message}`));
server.listen(port, host, () => {
  const a = server.address();
  process.stdout.write(`hello ${version} (${greeting}) listening on ${a.address}:${a.port}; own ip ${ip}; backend ${backend ? `${backend}:${backendPort}` : 'none'}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

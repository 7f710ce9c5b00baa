#!/usr/bin/env node
// meshbook lab cluster: a tiny curl for pods when the machine has no curl (kubectl exec ...
// -- curl URL in the lab). HTTP/1.1 GET/HEAD/POST over node:http; the options runbooks use:
//   -s -S -f -I -m SECS (--max-time) -o FILE -w FORMAT (%{http_code}, \n) -H 'K: V' -X METHOD -d DATA
// Exit codes as curl's: 6 cannot resolve, 7 cannot connect, 22 HTTP error with -f, 28 timeout.
import http from 'node:http';
import fs from 'node:fs';

const args = process.argv.slice(2);
let silent = false,
  showErr = false,
  failHttp = false,
  head = false,
  maxTime = 0,
  outFile = '',
  format = '',
  method = '',
  data;
const headers = {};
const urls = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (/^-[sSfI]+$/.test(a)) {
    for (const c of a.slice(1)) {
      if (c === 's') silent = true;
      if (c === 'S') showErr = true;
      if (c === 'f') failHttp = true;
      if (c === 'I') head = true;
    }
  } else if (a === '--silent') silent = true;
  else if (a === '--show-error') showErr = true;
  else if (a === '--fail') failHttp = true;
  else if (a === '-m' || a === '--max-time') maxTime = Number(args[++i]);
  else if (a === '-o' || a === '--output') outFile = args[++i];
  else if (a === '-w' || a === '--write-out') format = args[++i];
  else if (a === '-H' || a === '--header') {
    const h = args[++i];
    const k = h.indexOf(':');
    headers[h.slice(0, k).trim()] = h.slice(k + 1).trim();
  } else if (a === '-X' || a === '--request') method = args[++i];
  else if (a === '-d' || a === '--data') data = args[++i];
  else if (a.startsWith('-')) {
    process.stderr.write(`curl (meshbook lab stand-in): option ${a} is not supported\n`);
    process.exit(2);
  } else urls.push(a);
}
const err = (code, msg) => {
  if (!silent || showErr) process.stderr.write(`curl: (${code}) ${msg}\n`);
  return code;
};
const write = (s) => (outFile && outFile !== '-' ? fs.appendFileSync(outFile, s) : process.stdout.write(s));

function one(raw) {
  return new Promise((settle) => {
    let settled = false;
    const resolve = (v) => {
      if (!settled) {
        settled = true;
        settle(v);
      }
    };
    let url;
    try {
      url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      resolve(err(3, `URL rejected: ${raw}`));
      return;
    }
    if (url.protocol !== 'http:') {
      resolve(err(1, `Protocol "${url.protocol.slice(0, -1)}" not supported by the lab stand-in`));
      return;
    }
    const req = http.request(
      url,
      {
        method: method || (head ? 'HEAD' : data !== undefined ? 'POST' : 'GET'),
        headers: { 'user-agent': 'curl/lab', accept: '*/*', ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (failHttp && code >= 400) {
            resolve(err(22, `The requested URL returned error: ${code}`));
            return;
          }
          if (head)
            write(
              `HTTP/${res.httpVersion} ${code} ${res.statusMessage}\r\n${Object.entries(res.headers)
                .map(([k, v]) => `${k}: ${v}\r\n`)
                .join('')}\r\n`,
            );
          else write(Buffer.concat(chunks));
          if (format)
            process.stdout.write(
              format.replace(/%\{http_code\}/g, String(code).padStart(3, '0')).replace(/\\n/g, '\n'),
            );
          resolve(0);
        });
        res.on('error', (e) => resolve(err(56, e.message)));
      },
    );
    if (maxTime > 0)
      req.setTimeout(maxTime * 1000, () => {
        req.destroy();
        resolve(err(28, `Operation timed out after ${maxTime * 1000} milliseconds`));
      });
    req.on('error', (e) => {
      if (settled) return;
      if (format) process.stdout.write(format.replace(/%\{http_code\}/g, '000').replace(/\\n/g, '\n'));
      resolve(
        e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
          ? err(6, `Could not resolve host: ${url.hostname}`)
          : err(7, `Failed to connect to ${url.hostname} port ${url.port || 80}: ${e.message}`),
      );
    });
    if (data !== undefined) req.write(data);
    req.end();
  });
}

let rc = 0;
for (const u of urls) rc = (await one(u)) || rc;
if (!urls.length) rc = err(2, 'no URL specified');
process.exit(rc);

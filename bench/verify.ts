// Benchmark: `meshbook verify traffic` against hey on the same fast local target.
//
//   npm run bench:verify                      # 3 rounds of N = 200,000 at 50 connections
//   npm run bench:verify -- --n 500000 --connections 50 --rounds 5
//   npm run bench:verify -- --rss 2000000     # also one 2,000,000-request run for peak RSS
//
// The target is NGINX from Debian's packages, run in the foreground with its own temporary
// prefix, config, pid and log files, listening on 127.0.0.1 only: `split_clients` on
// $request_id answers "Hello" / "Bonjour" / "Hola" 30/60/10 at random, like a mesh's weighted
// route. Each round runs hey and the verifier (as a subprocess, as a user would) with the same
// N and connections, alternating which goes first, and prints both req/s and their ratio.
// NGINX is stopped and its directory removed at the end, also on Ctrl-C.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Command } from 'commander';

const ROOT = join(import.meta.dirname, '..');
const MAIN = join(ROOT, 'scripts', 'verify', 'main.ts');

const program = new Command('bench-verify')
  .option('--n <n>', 'requests per run', '200000')
  .option('-c, --connections <n>', 'connections', '50')
  .option('--rounds <n>', 'rounds (each: hey + verifier)', '3')
  .option('--workers <n>', 'NGINX worker processes', '1')
  .option('--rss <n>', 'also one verifier run of this many requests, reporting its peak RSS')
  .parse(process.argv);
const o = program.opts<{ n: string; connections: string; rounds: string; workers: string; rss?: string }>();
const N = Number(o.n);
const C = Number(o.connections);
const ROUNDS = Number(o.rounds);
const WORKERS = Number(o.workers);
for (const [name, v] of [
  ['--n', N],
  ['--connections', C],
  ['--rounds', ROUNDS],
  ['--workers', WORKERS],
] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench: ${name} must be a whole number >= 1`);
    process.exit(2);
  }
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

let nginx: ChildProcess | null = null;
let prefix: string | null = null;

async function cleanup(): Promise<void> {
  if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
    nginx.kill('SIGQUIT'); // graceful stop of master and workers
    const exited = once(nginx, 'exit');
    const timer = setTimeout(() => nginx?.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  nginx = null;
  if (prefix) rmSync(prefix, { recursive: true, force: true });
  prefix = null;
}

process.on('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

async function startNginx(port: number): Promise<string> {
  const bin = which('nginx');
  if (!bin) throw new Error('nginx is not installed (Debian: apt-get install nginx)');
  prefix = mkdtempSync(join(tmpdir(), 'meshbook-bench-nginx-'));
  const conf = join(prefix, 'nginx.conf');
  const isRoot = process.getuid?.() === 0;
  writeFileSync(
    conf,
    `# meshbook bench target: random 30/60/10 split on loopback only
daemon off;
master_process on;
worker_processes ${WORKERS};
${isRoot ? 'user nobody nogroup;' : ''}
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  split_clients "\${request_id}" $greeting {
    30% "Hello";
    60% "Bonjour";
    *   "Hola";
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      default_type text/plain;
      return 200 "$greeting eric(127.0.0.1)\\n";
    }
  }
}
`,
  );
  const test = spawnSync(bin, ['-t', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t failed: ${test.stderr}`);
  nginx = spawn(bin, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/hello/eric`;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (nginx.exitCode !== null)
      throw new Error(`nginx exited (${nginx.exitCode}): ${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
    try {
      const res = await fetch(url);
      if (res.ok && /^(Hello|Bonjour|Hola) /.test(await res.text())) return url;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not answer within 10 s');
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface HeyRun {
  rps: number;
  ok: number;
}

async function hey(bin: string, url: string, n: number): Promise<HeyRun> {
  const r = await run(bin, ['-n', String(n), '-c', String(C), url]);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || !rps) throw new Error(`hey failed (${r.code}): ${r.stderr || r.stdout}`);
  const ok = /\[200\]\s+(\d+) responses/.exec(r.stdout);
  return { rps: Number(rps[1]), ok: ok ? Number(ok[1]) : 0 };
}

interface VerifierRun {
  rps: number;
  verdict: string;
  counted: number;
  classified: number;
  peakRssMB: number;
  shares: string;
  durationS: number;
}

async function verifier(url: string, n: number): Promise<VerifierRun> {
  const r = await run(process.execPath, [
    '--import',
    'tsx',
    MAIN,
    'verify',
    'traffic',
    '--url',
    url,
    '--expect',
    'v1=30,v2=60,v3=10',
    '--classify',
    'v1=^Hello,v2=^Bonjour,v3=^Hola',
    '-n',
    String(n),
    '-c',
    String(C),
    '--json',
    '--no-progress',
    '--max-time',
    '600',
  ]);
  let j;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(`verifier failed (${r.code}): ${r.stderr}${r.stdout}`);
  }
  return {
    rps: j.run.reqPerSec,
    verdict: j.verdict,
    counted: j.totals.counted,
    classified: j.totals.classified,
    peakRssMB: j.run.peakRssMB,
    shares: j.buckets.map((b: { observedPct: number }) => b.observedPct.toFixed(2)).join('/'),
    durationS: j.run.durationS,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

try {
  const heyBin = which('hey');
  if (!heyBin) throw new Error('hey is not installed (Debian: apt-get install hey)');
  const port = await freePort();
  const url = await startNginx(port);
  console.log(
    `target   nginx ${WORKERS} worker(s) at ${url} (split_clients 30/60/10), node ${process.version}, ` +
      `${(await import('node:os')).availableParallelism()} CPUs`,
  );
  console.log(`runs     N = ${fmt(N)}, ${C} connections, ${ROUNDS} rounds (order alternates)\n`);
  // warm both up once (page cache, JIT, nginx workers)
  await hey(heyBin, url, Math.min(N, 20_000));
  await verifier(url, Math.min(N, 20_000));

  const ratios: number[] = [];
  const heyRps: number[] = [];
  const verRps: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    let h: HeyRun;
    let v: VerifierRun;
    if (round % 2 === 1) {
      h = await hey(heyBin, url, N);
      v = await verifier(url, N);
    } else {
      v = await verifier(url, N);
      h = await hey(heyBin, url, N);
    }
    if (h.ok !== N) console.log(`  note: hey got ${h.ok} HTTP 200 of ${N}`);
    const ratio = v.rps / h.rps;
    heyRps.push(h.rps);
    verRps.push(v.rps);
    ratios.push(ratio);
    console.log(
      `round ${round}  hey ${fmt(h.rps).padStart(7)} req/s   verifier ${fmt(v.rps).padStart(7)} req/s   ` +
        (`ratio ${ratio.toFixed(2)}   verifier: ${v.verdict} ${v.shares} ` +
          `(${fmt(v.classified)}/${fmt(v.counted)} classified), `) +
        `peak RSS ${v.peakRssMB} MB`,
    );
  }
  console.log(
    `\nmedian   hey ${fmt(median(heyRps))} req/s   verifier ${fmt(median(verRps))} req/s   ` +
      `ratio ${median(ratios).toFixed(2)} (target >= 0.80)`,
  );

  if (o.rss) {
    const big = Number(o.rss);
    console.log(`\nlarge    verifier -n ${fmt(big)} -c ${C} ...`);
    const v = await verifier(url, big);
    console.log(
      `large    ${fmt(v.counted)} requests in ${v.durationS.toFixed(1)} ` +
        `s (${fmt(v.rps)} req/s), ${v.verdict} ${v.shares}, ` +
        `peak RSS ${v.peakRssMB} MB (limit 200 MB)`,
    );
  }
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}

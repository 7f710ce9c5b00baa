// meshbook lab: the program of the lab's stand-in image for the ASM VM proxy
// (meshbook-lab/asm-vm-proxy-stand-in:lab, lab/docker/images.ts). It is NOT the ASM proxy: it does the
// two things of the real proxy that a VM can see, so article 1's steps check something real:
//   - sets the interception rules istio-iptables sets (vm/istio-iptables.sh, run with
//     SERVICE_CIDR, which the lab bakes into the image; the real proxy learns it from the mesh)
//     in the network it runs in: with --network=host and --cap-add=NET_ADMIN, the VM's;
//   - answers on the status port 15020 (GET /healthz/ready) as pilot-agent does, and on the
//     admin port 127.0.0.1:15000 (GET /server_info: LIVE).
// It reads the article's env file keys (ACCESS_KEY_ID ... POD_NAME) and stops with an error
// when one is missing, as the proxy does; it never prints a value. It logs to
// /var/log/istio/istio.log when that directory is mounted, and to stdout.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

const WHO = 'meshbook lab stand-in image for the ASM VM proxy (not the ASM proxy)';
const KEYS = ['ACCESS_KEY_ID', 'ACCESS_KEY_SECRET', 'REGION', 'MESH_ID', 'NS', 'SA', 'POD_NAME'];
const LOG_DIR = '/var/log/istio';

function log(msg) {
  const line = `${new Date().toISOString()} info\t${msg}\n`;
  process.stdout.write(line);
  try {
    if (fs.existsSync(LOG_DIR)) fs.appendFileSync(`${LOG_DIR}/istio.log`, line);
  } catch {
    /* the log dir is optional */
  }
}

const missing = KEYS.filter((k) => !process.env[k]);
if (missing.length) {
  log(`${WHO}: the env file lacks ${missing.join(', ')}: stopping`);
  process.exit(1);
}
log(`${WHO}: starting for mesh ${process.env.MESH_ID} in ${process.env.REGION}, namespace ${process.env.NS}`);

// only what the script needs: never the access key
const rules = spawnSync('/bin/bash', ['/lab/istio-iptables.sh'], {
  env: { PATH: process.env.PATH, SERVICE_CIDR: process.env.SERVICE_CIDR ?? '' },
  encoding: 'utf8',
});
if (rules.status !== 0) {
  log(`${WHO}: istio-iptables failed (exit ${rules.status}): ${(rules.stderr || '').trim()}`);
  process.exit(1);
}
log(`${WHO}: ${rules.stdout.trim()}`);

const answer = (res, code, body) => {
  res.writeHead(code, { 'content-type': 'text/plain', 'x-meshbook-lab-stand-in': 'asm-vm-proxy' });
  res.end(`${body}\n`);
};
http
  .createServer((req, res) => {
    if (req.url === '/healthz/ready') return answer(res, 200, `ready (${WHO})`);
    return answer(res, 404, 'not found');
  })
  .listen(15020, '0.0.0.0', () => log(`${WHO}: status port 15020 ready`));
http
  .createServer((req, res) => {
    if (req.url === '/server_info') return answer(res, 200, JSON.stringify({ state: 'LIVE', standIn: WHO }));
    return answer(res, 404, 'not found');
  })
  .listen(15000, '127.0.0.1');

// docker stop: end at once (PID 1 of a container gets no default SIGTERM action)
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));

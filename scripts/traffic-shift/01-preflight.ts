// Article §1 "搭建實驗環境" (set up the lab): one ACK cluster and three ECS VMs, each running
// one hello2 version. Before any change: SSH answers as root, the VM's version label in the
// inventory is v1|v2|v3 and it has a private address (the WorkloadEntry's), and what hello2
// will run on: Node (inventory `runtime: process`) or docker (`runtime: docker`, default).
// The inventory is checked here, first, because the engine's input check cannot see it: a
// VM with a missing or wrong label fails this step and nothing is changed on it.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { vmVersion } from './common.ts';

const NODE_MAJOR = 18;

const step: Step = {
  id: '01-preflight',
  title: "Preflight: SSH, root, the VM's hello2 version and runtime",
  article: '§1 搭建實驗環境 (set up the lab)',
  notes: [
    'the article hard-codes three VMs (ssh1.sh..ssh3.sh) and their versions; ' +
      'here each inventory VM names its version (labels.version) and runtime',
  ],
  target: 'vm',
  gathersFacts: true,
  vm: () => ({
    probe: probe`
      echo "uid=$EUID"
      echo "hostname=$HOSTNAME"
      echo "node=$(node --version 2>/dev/null || echo none)"
      if command -v docker >/dev/null 2>&1; then echo docker=yes; else echo docker=no; fi
    `,
    interpret: (out, ctx) => {
      const kv = Object.fromEntries(
        out.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/=(.*)/s).slice(0, 2)),
      );
      const lines = [`ssh ok: ${ctx.vm.user}@${ctx.vm.host}:${ctx.vm.port} (hostname ${kv.hostname})`];
      const bad = (msg: string) => ({ ok: false, lines: [...lines, `error: ${msg}`] });
      if (kv.uid !== '0') return bad(`commands run as uid ${kv.uid}, not root; use user: root or passwordless sudo`);
      const v = vmVersion(ctx.vm);
      if ('problem' in v) return bad(v.problem);
      if (!ctx.vm.privateIp)
        return bad(`inventory VM ${ctx.vm.name} has no privateIp; set it to the address the mesh reaches hello2 at`);
      lines.push(`hello2 ${v.version} at ${ctx.vm.privateIp}:8001 (runtime ${ctx.vm.runtime})`);
      if (ctx.vm.runtime === 'process') {
        const major = /^v(\d+)\./.exec(kv.node ?? '')?.[1];
        if (!major)
          return bad(
            `node is not installed on ${ctx.vm.name}; runtime: process runs vm/hello/hello.mjs ` +
              `with the VM's node (install Node.js ${NODE_MAJOR}+ or use runtime: docker)`,
          );
        if (Number(major) < NODE_MAJOR)
          return bad(
            `node ${kv.node} on ${ctx.vm.name} is older than ${NODE_MAJOR}; ` +
              `install Node.js ${NODE_MAJOR}+ or use runtime: docker`,
          );
        lines.push(`node ${kv.node}`);
      } else if (kv.docker !== 'yes') {
        return bad(
          `docker is not installed on ${ctx.vm.name}; install it ` +
            `(asm-vm-proxy 02-install-docker) or give the VM runtime: process`,
        );
      } else lines.push('docker: installed');
      return { ok: true, lines, facts: { version: v.version } };
    },
  }),
};
export default step;

// The canary's data-plane check in the lab (scripts/canary/data-plane.ts says why it reads
// hello1's sidecar): the weights the NGINX of hello1's pod has loaded for hello2-svc, read off
// the configuration that NGINX runs, the way `istioctl proxy-config routes` reads Envoy's.
//
//   map $lab_key $lab_route { "~^vh2\t\/hello..." vh2_r0;  # VirtualService ns/hello2-vs http[0] }
//   map $lab_route $lab_upstream { vh2_r0 $lab_vh2_r0; }          (one destination: the cluster)
//   split_clients "${request_id}" $lab_vh2_r0 { 30% outbound_8001_v1_hello2-svc...; * ...v3...; }
//
// Loaded, not only written: the file is read through the pod's PID 1 (its mount namespace),
// and counts only when the NGINX workers started after it was written (a reload replaces them).
import fs from 'node:fs';
import { resolveConfig } from '../config.ts';
import { procChildren, procStat, procNetnsInode } from '../sys.ts';
import { readClusterState } from './state.ts';
import { SIDECAR_DIR, nginxMasters } from './proxies.ts';
import type { DataPlane, Read } from '../../scripts/canary/data-plane.ts';
import { VERSIONS, type Weights } from '../../scripts/traffic-shift/common.ts';

const TICK_MS = 10; // USER_HZ is 100 on Linux
// boot time to the centisecond (/proc/stat's btime is whole seconds: up to 1 s off)
const bootMs = () => Date.now() - Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;

/** hello2's weights in a rendered sidecar config, from its route map and split_clients. */
export function weightsOfNginx(conf: string, namespace: string): Read {
  const fqdn = `hello2-svc.${namespace}.svc.cluster.local`;
  const route = new RegExp(` (vh\\d+_r\\d+);  # VirtualService ${namespace}/hello2-vs http\\[\\d+\\]$`, 'm').exec(conf);
  if (!route) return { problem: `no route of VirtualService ${namespace}/hello2-vs in hello1's sidecar` };
  const rid = route[1];
  const target = new RegExp(`^ +${rid} ([^ ;]+);$`, 'm').exec(conf)?.[1];
  if (!target) return { problem: `route ${rid} has no upstream in hello1's sidecar` };
  const subsetOf = (cluster: string) =>
    new RegExp(`^outbound_\\d+_([^_]*)_${fqdn.replaceAll('.', '\\.')}$`).exec(cluster)?.[1];
  const w: Weights = { v1: 0, v2: 0, v3: 0 };
  const add = (cluster: string, pct: number): string | undefined => {
    const s = subsetOf(cluster);
    if (!s || !(VERSIONS as string[]).includes(s)) return `route ${rid} sends to ${cluster}, not a subset of ${fqdn}`;
    w[s as keyof Weights] += pct;
  };
  if (!target.startsWith('$')) {
    const bad = add(target, 100);
    return bad ? { problem: bad } : { weights: w };
  }
  const block = new RegExp(`split_clients "\\$\\{request_id\\}" \\${target} \\{\\n([^}]*)\\}`).exec(conf)?.[1];
  if (!block) return { problem: `no split_clients for ${target} in hello1's sidecar` };
  let used = 0;
  for (const line of block
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = /^(\*|[\d.]+%) ([^ ;]+);$/.exec(line);
    if (!m) return { problem: `unreadable split_clients line ${JSON.stringify(line)}` };
    const pct = m[1] === '*' ? 100 - used : Number(m[1].slice(0, -1));
    used += pct;
    const bad = add(m[2], Math.round(pct));
    if (bad) return { problem: bad };
  }
  return { weights: w };
}

/** The lab's data plane for the canary: hello1's sidecar NGINX in the env's lab. */
export function labDataPlane(env: Record<string, string>, namespace: string): DataPlane {
  const cfg = resolveConfig({ prefix: env.LAB_PREFIX, dir: env.LAB_DIR });
  return {
    what: "hello1's sidecar (the lab's NGINX, its loaded configuration)",
    async read(): Promise<Read> {
      const st = await readClusterState(cfg);
      const pod = st?.pods.find((p) => p.deployment === 'hello1-deploy' && p.namespace === namespace && p.pid1);
      if (!pod?.pid1) return { problem: `no hello1-deploy pod in namespace ${namespace} of lab ${cfg.prefix}` };
      const ino = procNetnsInode(pod.pid1.pid);
      const master = ino === null ? undefined : nginxMasters().get(ino);
      if (!master) return { problem: `hello1's pod ${pod.name} runs no sidecar NGINX` };
      const file = `/proc/${pod.pid1.pid}/root${SIDECAR_DIR}/nginx.conf`;
      let conf: string;
      let mtimeMs: number;
      try {
        conf = fs.readFileSync(file, 'utf8');
        mtimeMs = fs.statSync(file).mtimeMs;
      } catch (e) {
        return { problem: `cannot read ${pod.name}'s sidecar configuration: ${(e as Error).message}` };
      }
      const workers = procChildren(master).map((pid) => procStat(pid)?.start);
      const boot = bootMs();
      const loaded = workers.some((s) => s !== undefined && boot + Number(s) * TICK_MS + 2 * TICK_MS >= mtimeMs);
      if (!loaded) return { problem: `${pod.name}'s sidecar has a new configuration written but not loaded` };
      return weightsOfNginx(conf, namespace);
    },
  };
}

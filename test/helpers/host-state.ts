// Snapshots of the machine's own network and hosts state, to prove the lab and the
// runbooks leave it byte-identical.
import fs from 'node:fs';
import { $ } from 'zx';

const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/forwarding',
  'net/ipv6/conf/all/forwarding',
  'net/bridge/bridge-nf-call-iptables',
];

/** The machine's mounts (mount point, fs type, source, root): no ids, which change for nothing. */
function mounts(): string {
  return (
    fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      // network namespace handles (/run/netns/*) come and go with every lab on the machine,
      // other tests' included; the namespaces are checked on their own
      .filter((l) => !l.split(' ')[4].startsWith('/run/netns/'))
      .map((l) => {
        const [pre, post] = l.split(' - ');
        const f = pre.split(' ');
        return `${f[4]} ${f[3]} ${post}`;
      })
      .sort()
      .join('\n')
  );
}

/** Processes of a container engine running in the machine's own network namespace. */
function rootNsEngines(): string {
  const root = fs.statSync('/proc/self/ns/net').ino;
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (/^(dockerd|containerd)/.test(comm) && fs.statSync(`/proc/${pid}/ns/net`).ino === root) out.push(comm);
    } catch {
      /* gone */
    }
  }
  return out.sort().join(' ');
}

/** The cgroups a lab with this prefix may make (its VMs' Docker daemons' cgroup parents). */
function labCgroups(prefix: string): string {
  const out: string[] = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const d = `/sys/fs/cgroup/${h}`;
    if (!fs.statSync(d).isDirectory()) continue;
    for (const e of fs.readdirSync(d)) if (e.startsWith(`meshbook-lab-${prefix}-`)) out.push(`${h}/${e}`);
  }
  return out.sort().join(' ');
}

/** The machine's state a lab (with `prefix`) could touch: hosts, routes, links, every iptables
 *  table, mounts, forwarding sysctls, container engines in the root namespace, the lab's cgroups. */
export async function hostState(prefix = ''): Promise<Record<string, string>> {
  const q = $({ quiet: true, nothrow: true });
  const save = async (tool: string) => (await q`${tool}`).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, '');
  return {
    hosts: fs.readFileSync('/etc/hosts', 'utf8'),
    routes: (await q`ip route show table all`).stdout,
    rules: (await q`ip rule show`).stdout,
    links: (await q`ip -o link show`).stdout.replace(/\s+link\/.*$/gm, ''),
    iptables: await save('iptables-save'),
    ip6tables: await save('ip6tables-save'),
    iptablesLegacy: await save('iptables-legacy-save'),
    mounts: mounts(),
    sysctls: SYSCTLS.map(
      (k) => `${k}=${fs.existsSync(`/proc/sys/${k}`) ? fs.readFileSync(`/proc/sys/${k}`, 'utf8').trim() : '-'}`,
    ).join(' '),
    engines: rootNsEngines(),
    cgroups: prefix ? labCgroups(prefix) : '',
  };
}

function inLabContainer(pid: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes('/meshbook-lab-');
  } catch {
    return false;
  }
}

/** Every process whose argv or environment contains `needle` (pid and where). */
export function processesContaining(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    for (const f of ['cmdline', 'environ']) {
      // a container started with --env-file has the file's values in its environment, as the
      // article intends (the lab VMs' Docker containers live under meshbook-lab-* cgroups)
      if (f === 'environ' && inLabContainer(pid)) continue;
      try {
        if (fs.readFileSync(`/proc/${pid}/${f}`).includes(needle)) hits.push(`${pid}:${f}`);
      } catch {
        /* gone */
      }
    }
  }
  return hits;
}

/** Samples /proc every few ms while a run goes on; returns what it saw. */
export function watchProcesses(needle: string, everyMs = 5) {
  const seen = new Set<string>();
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    for (const h of processesContaining(needle)) {
      if (Number(h.split(':')[0]) !== process.pid) seen.add(h);
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { seen: [...seen], samples };
    },
  };
}

/** Where a canary secret showed up after a run: processes seen by the watcher, captured
 *  outputs, files of a state directory (journal). Empty when it stayed secret. */
export function canaryLeaks(
  watcher: ReturnType<typeof watchProcesses>,
  canary: string,
  outputs: string[],
  stateDir: string,
) {
  const { seen, samples } = watcher.stop();
  const leaks = [...seen.map((p) => `process ${p}`)];
  outputs.forEach((o, i) => o.includes(canary) && leaks.push(`output #${i}`));
  for (const f of stateFiles(stateDir)) {
    if (fs.readFileSync(`${stateDir}/${f}`, 'utf8').includes(canary)) leaks.push(`state file ${f}`);
  }
  return { leaks, samples };
}

/** Every file under a state directory (journals per runbook, locks), relative paths. */
export function stateFiles(stateDir: string): string[] {
  if (!fs.existsSync(stateDir)) return [];
  return (fs.readdirSync(stateDir, { recursive: true }) as string[]).filter((f) =>
    fs.statSync(`${stateDir}/${f}`).isFile(),
  );
}

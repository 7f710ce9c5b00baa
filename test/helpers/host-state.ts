// Snapshots of the machine's own network and hosts state, to prove the lab and the
// runbooks leave it byte-identical.
import fs from 'node:fs';
import { $ } from 'zx';

export async function hostState(): Promise<Record<string, string>> {
  const q = $({ quiet: true, nothrow: true });
  return {
    hosts: fs.readFileSync('/etc/hosts', 'utf8'),
    routes: (await q`ip route show table all`).stdout,
    rules: (await q`ip rule show`).stdout,
    links: (await q`ip -o link show`).stdout.replace(/\s+link\/.*$/gm, ''),
    iptables: (await q`iptables-save`).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
  };
}

/** Every process whose argv or environment contains `needle` (pid and where). */
export function processesContaining(needle: string): string[] {
  const hits: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    for (const f of ['cmdline', 'environ']) {
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

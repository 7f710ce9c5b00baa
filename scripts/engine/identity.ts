// What a journal entry is about. A VM is known by its SSH host key as meshbook's own
// known_hosts holds it (ssh refuses a changed key under accept-new, so a key there is the
// key of the host that answered); a rebuilt VM or lab comes with a new key. The cluster is
// known by the lab's generation, or on a real cluster by the kube-system namespace's UID.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { LocalCmd, RemoteResult } from './types.ts';

/** The name ssh files a host under in known_hosts. */
const knownName = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

function nameMatches(field: string, name: string): boolean {
  for (const pat of field.split(',')) {
    if (pat.startsWith('|1|')) {
      const [, , salt, hash] = pat.split('|');
      if (!salt || !hash) continue;
      const mac = crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
      if (mac === hash) return true;
    } else if (pat === name) return true;
  }
  return false;
}

/** A hash of the host keys known for host:port, or undefined when none is known. */
export function hostKeyIdentity(knownHostsText: string, host: string, port: number): string | undefined {
  const name = knownName(host, port);
  const keys: string[] = [];
  for (const raw of knownHostsText.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [field, type, key] = line.split(/\s+/);
    if (field && type && key && nameMatches(field, name)) keys.push(`${type} ${key}`);
  }
  if (!keys.length) return undefined;
  return `hostkey:${crypto.createHash('sha256').update(keys.sort().join('\n')).digest('hex').slice(0, 16)}`;
}

export function readKnownHosts(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The command that reads a real cluster's identity (a read: it runs under --dry-run too). */
export const CLUSTER_ID_CMD: LocalCmd = {
  kind: 'probe',
  argv: ['kubectl', 'get', 'namespace', 'kube-system', '-o', 'jsonpath={.metadata.uid}'],
};

export function clusterIdentity(env: Record<string, string>, lab: boolean, r?: RemoteResult): string | undefined {
  if (lab) return env.LAB_GENERATION ? `lab:${env.LAB_GENERATION}` : undefined;
  const uid = r?.code === 0 ? r.stdout.trim() : '';
  return /^[0-9a-f-]{8,}$/i.test(uid) ? `kube-system:${uid}` : undefined;
}

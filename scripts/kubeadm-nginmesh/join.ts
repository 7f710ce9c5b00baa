// The join command `kubeadm token create --print-join-command` prints, taken apart so the
// workers join with a config file (the token never in an argument list) and kept as a
// Secret in the run's shared facts. Nothing here ever puts the token in a message.
import { Secret } from '../engine/sh.ts';
import { registerSecret } from '../engine/redact.ts';
import type { Facts } from '../engine/types.ts';

export interface JoinInfo {
  endpoint: string; // HOST:PORT of the API server
  token: Secret; // the bootstrap token
  caCertHashes: string[]; // sha256:<hex>
}

export const JOIN_FACT = 'kubeadmJoin';
export const JOIN_STATUS_FACT = 'kubeadmJoinStatus';

export interface JoinStatus {
  checked: string[];
  pending: string[];
}

/** `kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:...` */
export function parseJoinCommand(text: string): JoinInfo | { error: string } {
  const line = text
    .split('\n')
    .map((l) => l.trim().replace(/\s*\\$/, ''))
    .filter(Boolean)
    .join(' ');
  const words = line.split(/\s+/);
  const start = words.indexOf('join');
  const shape = 'kubeadm join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HEX';
  if (start < 1 || words[start - 1] !== 'kubeadm') return { error: `the output is not a join command (${shape})` };
  let endpoint: string | undefined;
  let token: string | undefined;
  const hashes: string[] = [];
  for (let i = start + 1; i < words.length; i++) {
    const w = words[i];
    if (w === '--token') token = words[++i];
    else if (w === '--discovery-token-ca-cert-hash') hashes.push(words[++i] ?? '');
    else if (w.startsWith('--token=')) token = w.slice(8);
    else if (w.startsWith('--discovery-token-ca-cert-hash=')) hashes.push(w.slice(31));
    else if (!w.startsWith('-') && endpoint === undefined) endpoint = w;
  }
  if (token) registerSecret(token);
  if (!endpoint || !/^[^\s:]+:\d+$/.test(endpoint))
    return { error: `the join command has no API server HOST:PORT (${shape})` };
  if (!token || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token))
    return { error: `the join command has no well-formed --token (${shape})` };
  if (!hashes.length || hashes.some((h) => !/^sha256:[0-9a-f]{64}$/.test(h)))
    return { error: `the join command has no well-formed --discovery-token-ca-cert-hash (${shape})` };
  return { endpoint, token: new Secret('JOIN_TOKEN', token), caCertHashes: hashes };
}

export function joinInfo(facts: Facts): JoinInfo | undefined {
  return facts[JOIN_FACT] as JoinInfo | undefined;
}

export function joinStatus(facts: Facts): JoinStatus | undefined {
  return facts[JOIN_STATUS_FACT] as JoinStatus | undefined;
}

/** A worker reports whether it has joined (step 06); the token step reads the tally. */
export function recordJoinStatus(facts: Facts, worker: string, joined: boolean): void {
  const s = (facts[JOIN_STATUS_FACT] ??= { checked: [], pending: [] }) as JoinStatus;
  if (!s.checked.includes(worker)) s.checked.push(worker);
  s.pending = s.pending.filter((w) => w !== worker);
  if (!joined) s.pending.push(worker);
}

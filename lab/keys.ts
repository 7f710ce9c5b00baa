// meshbook lab: its keys and secret - ssh key pairs (client, VM host keys), the lab's ACCESS_KEY_SECRET.
import path from 'node:path';
import { existsSync, promises as fsp } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import type { LabConfig } from './config.ts';
import { run, writeIfChanged } from './sys.ts';

/**
 * An ed25519 key pair at `key` and `key.pub`, made when either is missing: ssh-keygen writes
 * under a unique temp name, then the private key and the public key are renamed into place
 * (in that order: a pair cut short is made again, never half used).
 */
export async function ensureKey(key: string, comment: string): Promise<void> {
  if (existsSync(key) && existsSync(`${key}.pub`)) return;
  await fsp.rm(key, { force: true });
  await fsp.rm(`${key}.pub`, { force: true });
  const tmp = path.join(path.dirname(key), `.${path.basename(key)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', tmp]);
    await fsp.rename(tmp, key);
    await fsp.rename(`${tmp}.pub`, `${key}.pub`);
  } finally {
    await fsp.rm(tmp, { force: true });
    await fsp.rm(`${tmp}.pub`, { force: true });
  }
}

export async function ensureClientKey(cfg: LabConfig): Promise<string> {
  await ensureKey(cfg.keyFile, `meshbook-lab@${cfg.prefix}`);
  await fsp.chmod(cfg.keyFile, 0o600);
  return fsp.readFile(`${cfg.keyFile}.pub`, 'utf8');
}

export async function ensureSecret(cfg: LabConfig): Promise<string> {
  const cur = (await fsp.readFile(cfg.secretFile, 'utf8').catch(() => '')).trim();
  if (/^[A-Za-z0-9]{24}$/.test(cur)) return cur;
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const secret = Array.from({ length: 24 }, () => abc[randomInt(abc.length)]).join('');
  await writeIfChanged(cfg.secretFile, secret + '\n', 0o600);
  return secret;
}

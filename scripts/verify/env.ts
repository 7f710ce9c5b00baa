// Read what `verify traffic` needs from a traffic-shift env file, so that after a rebuild
// `meshbook verify traffic --env FILE` needs nothing else.
//
// Keys: WEIGHTS (e.g. v1=30,v2=60,v3=10), INGRESS_HOST (required), INGRESS_PORT (default
// 8004), VERIFY_PATH (default /hello/eric). Buckets are hello2's versions. Through the
// ingress every answer is the chain hello1 -> hello2 -> hello3, e.g.
// `Hello eric(172.18.0.230)<-Bonjour eric(192.168.0.171)<-Hello eric(172.18.1.36)`: hello1
// (always v1) answers first, so the version under test is the greeting right after the
// first `<-` (here Bonjour: v2).

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import dotenv from 'dotenv';
import { VerifyArgError } from './errors.ts';

/** The hello app's greeting per version (http_springboot_v1..v3). */
export const HELLO_GREETINGS: Readonly<Record<string, string>> = {
  v1: 'Hello',
  v2: 'Bonjour',
  v3: 'Hola',
};

export const ENV_DEFAULTS = { INGRESS_PORT: '8004', VERIFY_PATH: '/hello/eric' } as const;

export interface TrafficEnv {
  file: string;
  url: string;
  /** `v1=30,v2=60,v3=10` */
  expect: string;
  /** `v1=^[^<]*<-Hello,...`: hello2's greeting, after the first `<-` (only the versions in WEIGHTS) */
  classify: string;
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function readTrafficEnv(file: string): TrafficEnv {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new VerifyArgError('--env', `cannot read ${file} (${code})`);
  }
  const env = dotenv.parse(text);
  const where = (key: string) => `--env ${file}: ${key}`;

  const weights = (env.WEIGHTS ?? '').trim();
  if (weights === '') {
    throw new VerifyArgError(where('WEIGHTS'), 'missing (the split to verify, e.g. WEIGHTS=v1=30,v2=60,v3=10)');
  }
  const names = weights
    .split(',')
    .map((item) => item.split('=')[0].trim())
    .filter((n) => n !== '');
  for (const name of names) {
    if (!(name in HELLO_GREETINGS)) {
      throw new VerifyArgError(
        where('WEIGHTS'),
        `version "${name}" is not one of the hello app's (${Object.keys(HELLO_GREETINGS).join(', ')}); ` +
          'for other targets pass --url, --expect and --classify instead',
      );
    }
  }

  const host = (env.INGRESS_HOST ?? '').trim();
  if (host === '') {
    throw new VerifyArgError(
      where('INGRESS_HOST'),
      "missing (the ingress gateway's address, e.g. INGRESS_HOST=192.168.0.10)",
    );
  }
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (!isIP(bare) && !HOSTNAME_RE.test(bare)) {
    throw new VerifyArgError(where('INGRESS_HOST'), `"${host}" is not an IP address or host name`);
  }
  const port = (env.INGRESS_PORT ?? ENV_DEFAULTS.INGRESS_PORT).trim();
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new VerifyArgError(where('INGRESS_PORT'), `"${port}" is not a port from 1 to 65535`);
  }
  const path = (env.VERIFY_PATH ?? ENV_DEFAULTS.VERIFY_PATH).trim();
  if (!path.startsWith('/') || /\s/.test(path)) {
    throw new VerifyArgError(where('VERIFY_PATH'), `"${path}" must be a path starting with / (e.g. /hello/eric)`);
  }
  const hostPart = isIP(bare) === 6 ? `[${bare}]` : bare;
  return {
    file,
    url: `http://${hostPart}:${Number(port)}${path}`,
    expect: weights,
    classify: names.map((n) => `${n}=^[^<]*<-${HELLO_GREETINGS[n]} `).join(','),
  };
}

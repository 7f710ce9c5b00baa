// Input checks. Each returns undefined when the value is fine, or one sentence that says
// what is wrong and how to fix it (the caller prefixes the variable's name).
import type ipaddrTypes from 'ipaddr.js';
import { ipaddr } from './lazy.ts';

export const ASM_REGIONS = [
  'cn-hangzhou',
  'cn-shanghai',
  'cn-qingdao',
  'cn-beijing',
  'cn-zhangjiakou',
  'cn-huhehaote',
  'cn-shenzhen',
  'cn-chengdu',
  'cn-hongkong',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-5',
  'ap-northeast-1',
  'eu-central-1',
  'eu-west-1',
  'us-west-1',
  'us-east-1',
  'ap-south-1',
  'me-east-1',
] as const;

const show = (v: string) => JSON.stringify(v);

export function region(v: string): string | undefined {
  if ((ASM_REGIONS as readonly string[]).includes(v)) return undefined;
  return `${show(v)} is not one of the 20 regions ASM-VM-PROXY is published in; use one of ${ASM_REGIONS.join(', ')}`;
}

/** RFC 1123 label: Kubernetes namespaces and Service names. */
export function dnsLabel(v: string): string | undefined {
  if (v.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) return undefined;
  return (
    `${show(v)} is not a DNS-1123 label; use at most 63 lowercase ` +
    `letters, digits and '-', starting and ending with a letter or digit`
  );
}

/** RFC 1123 subdomain: ServiceAccount and Pod names. */
export function dnsSubdomain(v: string): string | undefined {
  const ok = v.length <= 253 && v.split('.').every((p) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p));
  if (ok) return undefined;
  return (
    `${show(v)} is not a DNS-1123 subdomain; use lowercase letters, digits, ` +
    `'-' and '.', each part starting and ending with a letter or digit`
  );
}

export function ipv4(v: string): string | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(v)) return undefined;
  return `${show(v)} is not an IPv4 address; write four decimal numbers such as 192.168.0.250`;
}

export function cidr(v: string): string | undefined {
  let parsed: [ipaddrTypes.IPv4 | ipaddrTypes.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(v);
  } catch {
    return `${show(v)} is not a CIDR; write an IPv4 network such as 172.19.0.0/20`;
  }
  const [addr, bits] = parsed;
  if (addr.kind() !== 'ipv4' || !ipaddr.IPv4.isValidFourPartDecimal(v.split('/')[0])) {
    return `${show(v)} is not an IPv4 CIDR; write an IPv4 network such as 172.19.0.0/20`;
  }
  const network = ipaddr.IPv4.networkAddressFromCIDR(v).toString();
  if (network !== addr.toString()) return `${show(v)} has host bits set; write ${network}/${bits}`;
  return undefined;
}

export function cidrList(v: string): string | undefined {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !p)) return `${show(v)} has an empty entry; write CIDRs separated by commas`;
  for (const p of parts) {
    const e = cidr(p);
    if (e) return e;
  }
  return undefined;
}

export function port(v: string | number): string | undefined {
  const s = String(v);
  if (/^\d+$/.test(s) && +s >= 1 && +s <= 65535) return undefined;
  return `${show(s)} is not a TCP port; use a whole number from 1 to 65535`;
}

/** Hostname or IPv4 for SSH. */
export function host(v: string): string | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(v)) return undefined;
  if (/^\d+(\.\d+)*$/.test(v)) return ipv4(v);
  if (v.length <= 253 && /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/.test(v))
    return undefined;
  return `${show(v)} is not a hostname or IPv4 address`;
}

export function posixUser(v: string): string | undefined {
  if (/^[a-z_][a-z0-9_-]{0,31}$/.test(v)) return undefined;
  return `${show(v)} is not a POSIX user name; use lowercase letters, digits, '_' and '-'`;
}

/** A value `docker --env-file` can carry as a plain KEY=value line: docker keeps quotes
 *  literally and has no escape for newlines, so such values are rejected, never quoted. */
export function envFileValue(v: string): string | undefined {
  if (v === '') return 'is empty; set a value';
  if (/[\r\n]/.test(v)) return 'contains a line break, which docker --env-file cannot carry; remove it';
  if (/\0/.test(v)) return 'contains a NUL byte; remove it';
  if (v !== v.trim()) return 'has leading or trailing white space, which docker --env-file would keep; remove it';
  return undefined;
}

export function asmVersion(v: string): string | undefined {
  if (/^v\d+\.\d+\.\d+$/.test(v)) return undefined;
  return `${show(v)} is not an ASM version; write it as the console shows it, e.g. v1.6.9`;
}

/** ASM mesh ids are lowercase letters and digits (e.g. c0a1b2c3d4...). */
export function meshId(v: string): string | undefined {
  if (/^[a-z0-9]{1,63}$/.test(v)) return undefined;
  return `${show(v)} is not a service mesh id; copy the id (lowercase letters and digits) from the ASM console`;
}

/** Kubernetes label key/value pairs used in the inventory. */
export function labelValue(v: string): string | undefined {
  if (v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) return undefined;
  return `${show(v)} is not a Kubernetes label value; use at most 63 letters, digits, '-', '_' and '.'`;
}

export function all(...checks: Array<(v: string) => string | undefined>) {
  return (v: string) => {
    for (const c of checks) {
      const e = c(v);
      if (e) return e;
    }
    return undefined;
  };
}

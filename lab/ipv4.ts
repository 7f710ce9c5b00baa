// meshbook lab: IPv4 addresses and CIDRs, parsed and compared by ipaddr.js; addresses are also
// 32-bit numbers here because the address plan counts hosts (base + n).
import ipaddr from 'ipaddr.js';

/** a.b.c.d (four decimal parts, 0-255, no leading zeros) as a 32-bit number, or null. */
export function parseIPv4(s: string): number | null {
  const t = s.trim();
  if (!ipaddr.IPv4.isValidFourPartDecimal(t)) return null;
  const [a, b, c, d] = ipaddr.IPv4.parse(t).toByteArray();
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function formatIPv4(n: number): string {
  return ipaddr.fromByteArray([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString();
}

export interface Cidr {
  /** normalized a.b.c.d/len */
  cidr: string;
  /** the network address as a number */
  base: number;
  len: number;
}

/** `a.b.c.d/len` split into the address (a number) and the prefix length, host bits allowed; null when malformed. */
export function parseAddressWithLength(s: string): { ip: number; len: number } | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  const ip = m ? parseIPv4(m[1]) : null;
  return m && ip !== null ? { ip, len: Number(m[2]) } : null;
}

export type CidrCheck = { ok: true; cidr: Cidr } | { ok: false; network?: string };

/**
 * A network CIDR with a prefix length in minLen..maxLen: ok, or not with `network` (the
 * CIDR it should be) when only host bits are set.
 */
export function checkCidr(s: string, minLen: number, maxLen: number): CidrCheck {
  const a = parseAddressWithLength(s.trim());
  if (!a || !(a.len >= minLen && a.len <= maxLen)) return { ok: false };
  const network = ipaddr.IPv4.networkAddressFromCIDR(`${formatIPv4(a.ip)}/${a.len}`).toString();
  const base = parseIPv4(network)!;
  if (base !== a.ip) return { ok: false, network: `${network}/${a.len}` };
  return { ok: true, cidr: { cidr: `${network}/${a.len}`, base, len: a.len } };
}

const asRange = (c: Cidr): [ipaddr.IPv4, number] => [ipaddr.IPv4.parse(formatIPv4(c.base)), c.len];

/** Do two CIDRs share an address (one holds the other)? */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const [wide, narrow] = a.len <= b.len ? [a, b] : [b, a];
  return asRange(narrow)[0].match(asRange(wide));
}

/** Is `ip` a host address of `c` (neither its network nor its broadcast address)? */
export function isHostOf(c: Cidr, ip: number): boolean {
  return ipaddr.IPv4.parse(formatIPv4(ip)).match(asRange(c)) && ip !== c.base && ip !== c.base + 2 ** (32 - c.len) - 1;
}

/** The address `n` hosts into `c` (no bounds check: the address plan knows its ranges). */
export const nthAddress = (c: Pick<Cidr, 'base'>, n: number): string => formatIPv4((c.base + n) >>> 0);

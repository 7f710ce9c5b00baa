// The NAT rules nginmesh's proxy_init (prepare_proxy.sh -p PORT -u UID [-i CIDRS]) installs
// in a pod's network namespace, as argument lists (what step 12 runs), as the lines
// `iptables -t nat -S` prints for them (what its check compares), and as a checker over
// parsed `iptables-save -t nat` output (what step 13 reports), one line per expected rule.
import type { Chains, Expectation, Rule } from '../engine/iptables.ts';

export interface ProxyInitSpec {
  port: number;
  uid: number;
  cidrs: string[];
}

export interface RuleSpec {
  chain: string;
  args: string[];
}

const comment = (c: string) => ['-m', 'comment', '--comment', c];

/** prepare_proxy.sh's rules, in its order; args in the order iptables -S prints them. */
export function proxyInitRules(s: ProxyInitSpec): { redirect: RuleSpec[]; output: RuleSpec[]; jumps: RuleSpec[] } {
  const redirect = [
    {
      chain: 'ISTIO_REDIRECT',
      args: ['-p', 'tcp', ...comment('istio/redirect-to-envoy-port'), '-j', 'REDIRECT', '--to-ports', String(s.port)],
    },
  ];
  const output: RuleSpec[] = [
    {
      chain: 'ISTIO_OUTPUT',
      args: [
        '!',
        '-d',
        '127.0.0.1/32',
        '-o',
        'lo',
        ...comment('istio/redirect-implicit-loopback'),
        '-j',
        'ISTIO_REDIRECT',
      ],
    },
    {
      chain: 'ISTIO_OUTPUT',
      args: ['-m', 'owner', '--uid-owner', String(s.uid), ...comment('istio/bypass-envoy'), '-j', 'RETURN'],
    },
    {
      chain: 'ISTIO_OUTPUT',
      args: ['-d', '127.0.0.1/32', ...comment('istio/bypass-explicit-loopback'), '-j', 'RETURN'],
    },
    ...s.cidrs.map((c) => ({
      chain: 'ISTIO_OUTPUT',
      args: ['-d', c, ...comment(`istio/redirect-ip-range-${c}`), '-j', 'ISTIO_REDIRECT'],
    })),
    s.cidrs.length
      ? { chain: 'ISTIO_OUTPUT', args: [...comment('istio/bypass-default-outbound'), '-j', 'RETURN'] }
      : { chain: 'ISTIO_OUTPUT', args: [...comment('istio/redirect-default-outbound'), '-j', 'ISTIO_REDIRECT'] },
  ];
  const jumps = [
    { chain: 'PREROUTING', args: [...comment('istio/install-istio-prerouting'), '-j', 'ISTIO_REDIRECT'] },
    { chain: 'OUTPUT', args: ['-p', 'tcp', ...comment('istio/install-istio-output'), '-j', 'ISTIO_OUTPUT'] },
  ];
  return { redirect, output, jumps };
}

/** The `iptables -t nat -S CHAIN` line of a rule (iptables quotes comments with "). */
export function sLine(r: RuleSpec): string {
  const out = ['-A', r.chain];
  for (let i = 0; i < r.args.length; i++) {
    out.push(r.args[i]);
    if (r.args[i] === '--comment') out.push(`"${r.args[++i]}"`);
  }
  return out.join(' ');
}

// ---- checking parsed rules ------------------------------------------------------------
const is = (r: Rule, want: Partial<Rule>) =>
  Object.entries(want).every(([k, v]) => (r as unknown as Record<string, unknown>)[k] === v);
const plain = (r: Rule) =>
  !r.proto && !r.src && !r.dst && !r.inIf && !r.outIf && r.dport === undefined && !r.uidOwner && !r.gidOwner;

/** Every rule prepare_proxy.sh -p PORT -u UID [-i CIDRS] installs, in order, one line each. */
export function expectProxyInit(chains: Chains, port: number, uid: number, cidrs: string[]): Expectation[] {
  const out: Expectation[] = [];
  const redirect = chains.get('ISTIO_REDIRECT');
  out.push({ what: 'chain ISTIO_REDIRECT exists', ok: !!redirect });
  out.push({
    what: `ISTIO_REDIRECT redirects tcp to port ${port} (-p tcp -j REDIRECT --to-ports ${port})`,
    ok:
      !!redirect &&
      redirect.length === 1 &&
      is(redirect[0], { proto: 'tcp', target: 'REDIRECT', toPorts: String(port) }),
  });
  out.push({
    what: 'PREROUTING sends inbound traffic to ISTIO_REDIRECT',
    ok: (chains.get('PREROUTING') ?? []).some((r) => r.target === 'ISTIO_REDIRECT' && plain(r)),
  });
  out.push({
    what: 'OUTPUT sends tcp to ISTIO_OUTPUT (-p tcp -j ISTIO_OUTPUT)',
    ok: (chains.get('OUTPUT') ?? []).some(
      (r) => r.target === 'ISTIO_OUTPUT' && r.proto === 'tcp' && !r.dst && !r.outIf,
    ),
  });

  const got = chains.get('ISTIO_OUTPUT');
  out.push({ what: 'chain ISTIO_OUTPUT exists', ok: !!got });
  const want: Array<{ what: string; match: (r: Rule) => boolean }> = [
    {
      what: 'loopback traffic to a non-127.0.0.1 address goes to ISTIO_REDIRECT (-o lo ! -d 127.0.0.1/32)',
      match: (r) => is(r, { outIf: 'lo', dst: '127.0.0.1/32', negDst: true, target: 'ISTIO_REDIRECT' }),
    },
    {
      what: `the proxy's own traffic returns (-m owner --uid-owner ${uid} -j RETURN)`,
      match: (r) => is(r, { uidOwner: String(uid), target: 'RETURN' }) && !r.negUid,
    },
    {
      what: 'traffic to 127.0.0.1 returns (-d 127.0.0.1/32 -j RETURN)',
      match: (r) => is(r, { dst: '127.0.0.1/32', target: 'RETURN' }) && !r.negDst && !r.outIf,
    },
    ...cidrs.map((c) => ({
      what: `traffic to ${c} goes to ISTIO_REDIRECT (-d ${c})`,
      match: (r: Rule) => is(r, { dst: c, target: 'ISTIO_REDIRECT' }) && !r.negDst && !r.outIf,
    })),
    cidrs.length
      ? {
          what: 'everything else returns (final -j RETURN, as with -i)',
          match: (r: Rule) => r.target === 'RETURN' && plain(r),
        }
      : {
          what: 'everything else goes to ISTIO_REDIRECT (final -j ISTIO_REDIRECT, no -i)',
          match: (r: Rule) => r.target === 'ISTIO_REDIRECT' && plain(r),
        },
  ];
  const rules = got ?? [];
  const matched = new Set<number>();
  let last = -1;
  want.forEach((w, k) => {
    const final = k === want.length - 1;
    const at = rules.findIndex((r, i) => i > last && w.match(r));
    const anywhere = rules.findIndex((r) => w.match(r));
    if (at >= 0 && (!final || at === rules.length - 1)) {
      out.push({ what: `ISTIO_OUTPUT #${at + 1}: ${w.what}`, ok: true });
      matched.add(at);
      last = at;
    } else if (anywhere >= 0) {
      matched.add(anywhere);
      const why = final
        ? `not the last rule (${rules.length - anywhere - 1} rule(s) after it are never reached)`
        : 'out of order';
      out.push({ what: `ISTIO_OUTPUT #${anywhere + 1}: ${w.what}: ${why}`, ok: false });
    } else out.push({ what: `ISTIO_OUTPUT: ${w.what}`, ok: false });
  });
  rules.forEach((r, i) => {
    if (!matched.has(i) && !want.some((w) => w.match(r)))
      out.push({
        what: `ISTIO_OUTPUT #${i + 1}: a rule prepare_proxy.sh does not install (${describeRule(r)})`,
        ok: false,
      });
  });
  return out;
}

/** A parsed rule back in iptables words, for messages. */
export function describeRule(r: Rule): string {
  const w: string[] = [];
  if (r.proto) w.push('-p', r.proto);
  if (r.src) w.push(...(r.negSrc ? ['!'] : []), '-s', r.src);
  if (r.dst) w.push(...(r.negDst ? ['!'] : []), '-d', r.dst);
  if (r.outIf) w.push('-o', r.outIf);
  if (r.uidOwner) w.push(...(r.negUid ? ['!'] : []), '--uid-owner', r.uidOwner);
  w.push('-j', r.target);
  if (r.toPorts) w.push('--to-ports', r.toPorts);
  return w.join(' ');
}

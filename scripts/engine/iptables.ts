// Reading NAT rules two ways (the article's `iptables -t nat -L -v` and the easier
// `iptables-save -t nat`) into one rule model, and checking them against what the
// mesh's proxy is expected to install.
export interface Rule {
  chain: string;
  target: string;
  proto?: string;
  src?: string;
  negSrc?: boolean;
  dst?: string;
  negDst?: boolean;
  inIf?: string;
  outIf?: string;
  dport?: number;
  toPorts?: string;
  uidOwner?: string;
  negUid?: boolean;
  gidOwner?: string;
  negGid?: boolean;
}
export type Chains = Map<string, Rule[]>;

const SERVICES: Record<string, number> = { ssh: 22, http: 80, https: 443, domain: 53 };
const num = (p: string) => (/^\d+$/.test(p) ? Number(p) : SERVICES[p]);
const host = (a: string) => (a.includes('/') ? a : `${a}/32`);

function words(line: string): string[] {
  return line.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

/** `iptables-save` text (any table; rules of the last table seen win on a name clash). */
export function parseSave(text: string): Chains {
  const chains: Chains = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (!chains.has(name)) chains.set(name, []);
      continue;
    }
    if (!line.startsWith('-A ')) continue;
    const w = words(line);
    const r: Rule = { chain: w[1], target: '' };
    let neg = false;
    for (let i = 2; i < w.length; i++) {
      const t = w[i];
      const next = () => w[++i];
      switch (t) {
        case '!':
          neg = true;
          continue;
        case '-p':
          r.proto = next();
          break;
        case '-s':
          r.src = next();
          r.negSrc = neg || undefined;
          break;
        case '-d':
          r.dst = next();
          r.negDst = neg || undefined;
          break;
        case '-i':
          r.inIf = next();
          break;
        case '-o':
          r.outIf = next();
          break;
        case '--dport':
          r.dport = num(next());
          break;
        case '-j':
          r.target = next();
          break;
        case '--to-ports':
          r.toPorts = next();
          break;
        case '--uid-owner':
          r.uidOwner = next();
          r.negUid = neg || undefined;
          break;
        case '--gid-owner':
          r.gidOwner = next();
          r.negGid = neg || undefined;
          break;
        default:
          break;
      }
      neg = false;
    }
    if (!chains.has(r.chain)) chains.set(r.chain, []);
    chains.get(r.chain)!.push(r);
  }
  return chains;
}

function addr(a: string): { v?: string; neg?: boolean } {
  const neg = a.startsWith('!');
  const s = neg ? a.slice(1) : a;
  if (s === 'anywhere' || s === '0.0.0.0/0') return {};
  if (s === 'localhost') return { v: '127.0.0.1/32', neg: neg || undefined };
  return { v: host(s), neg: neg || undefined };
}

/** `iptables -t nat -L -v` (or -L -v -n) text, as the article shows it. */
export function parseList(text: string): Chains {
  const chains: Chains = new Map();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = line.match(/^Chain (\S+)/);
    if (head) {
      current = head[1];
      chains.set(current, []);
      continue;
    }
    if (!current || /^\s*pkts\s+bytes/.test(line) || !line.trim()) continue;
    const w = line.trim().split(/\s+/);
    if (w.length < 9 || !/^\d+[KMG]?$/.test(w[0])) continue;
    const [, , target, prot, , inIf, outIf, src, dst, ...extra] = w;
    const r: Rule = { chain: current, target };
    if (prot !== 'all' && prot !== '0') r.proto = prot;
    if (inIf !== 'any' && inIf !== '*') r.inIf = inIf;
    if (outIf !== 'any' && outIf !== '*') r.outIf = outIf;
    const s = addr(src);
    if (s.v) {
      r.src = s.v;
      r.negSrc = s.neg;
    }
    const d = addr(dst);
    if (d.v) {
      r.dst = d.v;
      r.negDst = d.neg;
    }
    const ex = extra.join(' ');
    const dpt = ex.match(/dpt:(\S+)/);
    if (dpt) r.dport = num(dpt[1]);
    const redir = ex.match(/redir ports (\S+)/);
    if (redir) r.toPorts = redir[1];
    const uid = ex.match(/(!\s*)?owner UID match (\S+)/);
    if (uid) {
      r.uidOwner = uid[2];
      r.negUid = uid[1] ? true : undefined;
    }
    const gid = ex.match(/(!\s*)?owner GID match (\S+)/);
    if (gid) {
      r.gidOwner = gid[2];
      r.negGid = gid[1] ? true : undefined;
    }
    chains.get(current)!.push(r);
  }
  return chains;
}

export interface Expectation {
  what: string;
  ok: boolean;
}

function find(chains: Chains, chain: string, pred: (r: Rule) => boolean): number {
  return (chains.get(chain) ?? []).findIndex(pred);
}

/** What article 1 shows the ASM VM proxy installs (istio-iptables), one line each. */
export function expectAsmProxy(chains: Chains, serviceCidr: string): Expectation[] {
  const ret22 = find(chains, 'ISTIO_INBOUND', (r) => r.target === 'RETURN' && r.dport === 22);
  const ret15020 = find(chains, 'ISTIO_INBOUND', (r) => r.target === 'RETURN' && r.dport === 15020);
  const toRedirect = find(chains, 'ISTIO_INBOUND', (r) => r.target === 'ISTIO_IN_REDIRECT');
  const before = (i: number) => i >= 0 && (toRedirect < 0 || i < toRedirect);
  return [
    { what: 'chain ISTIO_INBOUND exists', ok: chains.has('ISTIO_INBOUND') },
    { what: 'ISTIO_INBOUND returns tcp dport 22 (ssh) before redirecting', ok: before(ret22) },
    { what: 'ISTIO_INBOUND returns tcp dport 15020 before redirecting', ok: before(ret15020) },
    { what: 'ISTIO_INBOUND sends the rest to ISTIO_IN_REDIRECT', ok: toRedirect >= 0 },
    {
      what: 'ISTIO_IN_REDIRECT redirects to port 15006',
      ok: find(chains, 'ISTIO_IN_REDIRECT', (r) => r.target === 'REDIRECT' && r.toPorts === '15006') >= 0,
    },
    {
      what: 'ISTIO_OUTPUT returns traffic from 127.0.0.6 on lo',
      ok: find(chains, 'ISTIO_OUTPUT', (r) => r.target === 'RETURN' && r.src === '127.0.0.6/32') >= 0,
    },
    {
      what: `ISTIO_OUTPUT redirects the Service CIDR ${serviceCidr} to ISTIO_REDIRECT`,
      ok: find(chains, 'ISTIO_OUTPUT', (r) => r.target === 'ISTIO_REDIRECT' && r.dst === serviceCidr && !r.negDst) >= 0,
    },
  ];
}

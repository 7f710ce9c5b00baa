// Reading what kubectl and istioctl return, and turning istioctl's generated files into
// what the VM gets (the article's NodePort fix). Pure functions: tested on fixtures.
import { YAML } from '../engine/lazy.ts';
import { ISTIOD_PORT, type IstiodAddress, type MeshValues, type VmFiles } from './common.ts';
import { validateIstioOperator } from './istio-operator.ts';
import type { Untyped } from '../engine/untyped.ts';

type Json = Record<string, Untyped>;
const parseJson = (text: string): Json | undefined => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

// ---- IstioOperator values -----------------------------------------------------------

/** The meshID / clusterName / network Istio runs with: from the istio-sidecar-injector
 *  ConfigMap's `values` (istioctl install; istioctl reads clusterName from there too) or
 *  from the in-cluster IstioOperator `istio` (operator-managed installs). */
export function parseMeshValues(stdout: string, mode: 'install' | 'patch'): MeshValues | { error: string } {
  const doc = parseJson(stdout);
  if (!doc) return { error: 'kubectl did not print JSON' };
  let global: Json | undefined;
  if (mode === 'install') {
    const values = parseJson(doc.data?.values ?? '');
    if (!values) return { error: 'ConfigMap istio-sidecar-injector has no JSON `values`' };
    global = values.global;
  } else global = doc.spec?.values?.global;
  return {
    meshID: String(global?.meshID ?? ''),
    clusterName: String(global?.multiCluster?.clusterName ?? ''),
    network: String(global?.network ?? ''),
  };
}

export const sameValues = (a: MeshValues, b: MeshValues) =>
  a.meshID === b.meshID && a.clusterName === b.clusterName && a.network === b.network;

// ---- the east-west gateway ----------------------------------------------------------

/** What gen-eastwest-gateway.sh printed: one IstioOperator with the 15012 port. */
export function checkEastWestIop(text: string): { lines: string[]; error?: string } {
  let docs: Json[];
  try {
    docs = YAML.parseAllDocuments(text)
      .map((d) => d.toJS())
      .filter(Boolean);
  } catch (e) {
    return {
      lines: [],
      error: `gen-eastwest-gateway.sh printed no valid YAML (${(e as Error).message.split('\n')[0]})`,
    };
  }
  if (docs.length !== 1)
    return { lines: [], error: `gen-eastwest-gateway.sh printed ${docs.length} documents, expected one IstioOperator` };
  try {
    validateIstioOperator('gen-eastwest-gateway.sh output', docs[0]);
  } catch (e) {
    return { lines: [], error: (e as Error).message };
  }
  const gw = (docs[0].spec?.components?.ingressGateways ?? []).find((g: Json) => g?.name === 'istio-eastwestgateway');
  const ports: number[] = (gw?.k8s?.service?.ports ?? []).map((p: Json) => Number(p.port));
  if (!gw) return { lines: [], error: 'the generated IstioOperator has no istio-eastwestgateway component' };
  if (!ports.includes(ISTIOD_PORT))
    return {
      lines: [],
      error: `the generated east-west gateway does not expose ${ISTIOD_PORT} (ports ${ports.join(', ')})`,
    };
  return {
    lines: [
      `generated IstioOperator ${docs[0].metadata?.name} (profile ${docs[0].spec?.profile ?? 'default'}): ` +
        `istio-eastwestgateway with ports ${ports.join(', ')}`,
    ],
  };
}

/** `kubectl -n istio-system get svc istio-eastwestgateway -o json`: the LoadBalancer
 *  address, else port 15012's nodePort. */
export function parseEastWestService(stdout: string): IstiodAddress & { type?: string; error?: string } {
  const svc = parseJson(stdout);
  if (!svc) return { error: 'kubectl did not print JSON for the istio-eastwestgateway Service' };
  const ingress: Json[] = svc.status?.loadBalancer?.ingress ?? [];
  const lbIp = ingress.find((i) => i.ip)?.ip as string | undefined;
  const lbHostname = ingress.find((i) => i.hostname)?.hostname as string | undefined;
  const port = (svc.spec?.ports ?? []).find((p: Json) => Number(p.port) === ISTIOD_PORT);
  const nodePort = port?.nodePort !== undefined ? Number(port.nodePort) : undefined;
  return { type: svc.spec?.type, lbIp, lbHostname: lbIp ? undefined : lbHostname, nodePort };
}

/** `kubectl get nodes -o json`: the InternalIP of the first Ready node. */
export function parseNodes(stdout: string): { ip: string; name: string } | { error: string } {
  const doc = parseJson(stdout);
  if (!doc) return { error: 'kubectl did not print JSON for the nodes' };
  const items: Json[] = doc.items ?? [];
  for (const n of items) {
    const ready = (n.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
    const ip = (n.status?.addresses ?? []).find(
      (a: Json) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address),
    )?.address;
    if (ready && ip) return { ip, name: n.metadata?.name ?? '?' };
  }
  return {
    error:
      `none of the ${items.length} node(s) is Ready with an IPv4 ` +
      `InternalIP; set NODE_IP to a node address the VMs can reach`,
  };
}

// ---- istioctl's generated files -----------------------------------------------------

/** cluster.env as istioctl writes it: KEY=value lines, values shell-quoted ('...', with
 *  '"'"' for a quote). Returns the values as the shell would see them. */
export function parseClusterEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = '';
    const s = m[2].trim();
    for (let i = 0; i < s.length;) {
      if (s[i] === "'") {
        const end = s.indexOf("'", i + 1);
        v += s.slice(i + 1, end < 0 ? s.length : end);
        i = end < 0 ? s.length : end + 1;
      } else if (s[i] === '"') {
        let j = i + 1;
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\\' && j + 1 < s.length) j++;
          v += s[j];
          j++;
        }
        i = j + 1;
      } else if (s[i] === '\\' && i + 1 < s.length) {
        v += s[i + 1];
        i += 2;
      } else if (/\s/.test(s[i]) || s[i] === '#') break;
      else {
        v += s[i];
        i++;
      }
    }
    out[m[1]] = v;
  }
  return out;
}

const shq = (v: string) => `'${v.replace(/'/g, `'"'"'`)}'`;

/** Set KEY in cluster.env text (replacing its line, or appending one). */
export function setClusterEnv(text: string, key: string, value: string): string {
  const line = `${key}=${shq(value)}`;
  const re = new RegExp(`^\\s*${key}=.*$`, 'm');
  if (re.test(text)) return text.replace(re, line);
  return `${text.replace(/\n*$/, '\n')}${line}\n`;
}

export function meshDiscovery(meshYaml: string): { host: string; port: number } | undefined {
  const doc = YAML.parse(meshYaml) as Json | null;
  const addr = doc?.defaultConfig?.discoveryAddress;
  const m = typeof addr === 'string' ? /^(.+):(\d+)$/.exec(addr) : null;
  return m ? { host: m[1], port: Number(m[2]) } : undefined;
}

export function setDiscovery(meshYaml: string, address: string): string {
  const doc = YAML.parseDocument(meshYaml);
  doc.setIn(['defaultConfig', 'discoveryAddress'], address);
  return doc.toString();
}

/** Seconds since the epoch when a Kubernetes token (a JWT) expires; undefined when it is not one. */
export function tokenExpiry(token: string): number | undefined {
  const part = token.trim().split('.')[1];
  if (!part) return undefined;
  try {
    const exp = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

export interface Generated {
  clusterEnv: string;
  meshYaml: string;
  hosts: string;
  rootCert: string;
}

/** The files as the VM must get them. Without a LoadBalancer address the east-west gateway
 *  is reached at NODE_IP:<nodePort of 15012>: port 15012 becomes that NodePort in
 *  mesh.yaml's discoveryAddress and in cluster.env's CA_ADDR, and the hosts line names the
 *  node (istioctl leaves `hosts` empty when it finds no gateway address). */
export function prepareVmFiles(
  g: Generated,
  o: { istiod: IstiodAddress; nodeIp?: string; ingressIp?: string },
): { files?: VmFiles; lines: string[]; error?: string } {
  const lines: string[] = [];
  const found = meshDiscovery(g.meshYaml);
  const disc = found ?? { host: 'istiod.istio-system.svc', port: ISTIOD_PORT };
  if (!found)
    lines.push(`mesh.yaml has no defaultConfig.discoveryAddress: istio-agent would use ${disc.host}:${disc.port}`);
  const hosts = g.hosts.trim();
  if (!hosts)
    lines.push(
      'istioctl wrote an EMPTY hosts file: it found no address for ' +
        'the east-west gateway (no LoadBalancer IP, no --ingressIP)',
    );

  let ip: string | undefined;
  let why: string;
  let port = disc.port;
  if (o.istiod.lbIp || o.istiod.lbHostname) {
    if (o.ingressIp) {
      ip = o.ingressIp;
      why = 'INGRESS_IP';
    } else if (o.istiod.lbIp) {
      ip = o.istiod.lbIp;
      why = 'the east-west gateway LoadBalancer IP';
    } else {
      return {
        lines,
        error:
          `the east-west gateway's LoadBalancer has a hostname (${o.istiod.lbHostname}), ` +
          `not an IP, and /etc/hosts needs an IP: set INGRESS_IP to an address it resolves to`,
      };
    }
  } else {
    if (o.istiod.nodePort === undefined) {
      return {
        lines,
        error:
          `istio-eastwestgateway has no LoadBalancer address and no nodePort ` +
          `for port ${ISTIOD_PORT}: make it type LoadBalancer or NodePort`,
      };
    }
    port = o.istiod.nodePort;
    ip = o.ingressIp ?? o.nodeIp;
    why = o.ingressIp ? 'INGRESS_IP' : 'the node IP (no LoadBalancer: NodePort)';
    if (!ip)
      return {
        lines,
        error: 'no LoadBalancer address and no node IP: set NODE_IP (or INGRESS_IP) to a node address the VMs reach',
      };
    lines.push(
      `east-west gateway has no LoadBalancer address: istiod is reached at ${ip}:${port} (nodePort of ${ISTIOD_PORT})`,
    );
  }
  const hostsLine = `${ip} ${disc.host}`;
  if (hosts && hosts !== hostsLine) lines.push(`hosts: istioctl wrote "${hosts}"; using "${hostsLine}" (${why})`);
  else if (!hosts) lines.push(`hosts: using "${hostsLine}" (${why})`);
  else lines.push(`hosts: "${hostsLine}" (from istioctl)`);

  let meshYaml = g.meshYaml;
  let clusterEnv = g.clusterEnv;
  const addr = `${disc.host}:${port}`;
  if (port !== disc.port || !found) {
    meshYaml = setDiscovery(meshYaml, addr);
    lines.push(`mesh.yaml: discoveryAddress ${found ? `${disc.host}:${disc.port}` : '(none)'} -> ${addr}`);
  }
  const ca = parseClusterEnv(clusterEnv).CA_ADDR;
  if (port !== disc.port && ca !== addr) {
    clusterEnv = setClusterEnv(clusterEnv, 'CA_ADDR', addr);
    lines.push(
      ca === undefined
        ? `cluster.env: CA_ADDR=${addr} added (the CA is reached through the same NodePort)`
        : `cluster.env: CA_ADDR ${ca} -> ${addr}`,
    );
  }
  return {
    files: { clusterEnv, meshYaml, rootCert: g.rootCert, hostsLine, istiodHost: disc.host, source: 'istioctl' },
    lines,
  };
}

// ---- WorkloadEntries ----------------------------------------------------------------

export interface WorkloadEntryInfo {
  name: string;
  address: string;
  healthy?: boolean;
  autoRegistered: boolean;
}

export function parseWorkloadEntries(stdout: string): WorkloadEntryInfo[] | { error: string } {
  const doc = parseJson(stdout);
  if (!doc) return { error: 'kubectl did not print JSON for the WorkloadEntries' };
  return (doc.items ?? []).map((i: Json) => {
    const cond = (i.status?.conditions ?? []).find((c: Json) => c.type === 'Healthy');
    return {
      name: `${i.metadata?.namespace}/${i.metadata?.name}`,
      address: String(i.spec?.address ?? ''),
      healthy: cond ? cond.status === 'True' : undefined,
      autoRegistered: !!i.metadata?.annotations?.['istio.io/autoRegistrationGroup'],
    };
  });
}

// meshbook lab cluster: the routes of one proxy, from the mesh (pure): per service port (a
// sidecar) or Gateway server (the gateway) a "vhost" with its routes in order, each a list
// of matches and weighted destination clusters (endpoints filtered by DestinationRule subset
// labels). nginx.ts renders them as NGINX configuration.
import { hostMatches, resolveHost, stripNsPrefix, aliases, type Mesh } from './mesh.ts';
import { isObj, selects, type KObject } from './kinds.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export interface ProxySpec {
  /** gateway | pod/<ns>/<name> | vm/<name>: shown in the config's first line */
  id: string;
  kind: 'gateway' | 'sidecar';
  /** the proxy's namespace (short names of services in it resolve) */
  namespace: string;
  /** absolute directory of pid file, logs and temp dirs, as the proxy sees it */
  dir: string;
  /** nginx `user` (workers): sidecars run as istio-proxy (uid 1337) so iptables lets them out */
  user?: string;
  /** sidecar: the workload's ports on 127.0.0.1 */
  inboundPorts?: number[];
  /** gateway: its pod labels, matched against Gateway selectors */
  labels?: Record<string, string>;
  /** write an access log (default off: the lab sends thousands of requests) */
  accessLog?: boolean;
}

// ---- quoting -------------------------------------------------------------------------------

/** A double-quoted NGINX string holding exactly `s` (nginx unescapes \\ and \"). */
export const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
/** PCRE-escape a literal. */
export const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
/** An NGINX variable name for a header (`end-user` -> $http_end_user). */
export const headerVar = (h: string) => `$http_${h.toLowerCase().replace(/-/g, '_')}`;
const safeName = (s: string) => s.toLowerCase().replace(/[^a-z0-9.-]/g, '-');

// ---- routes ---------------------------------------------------------------------------------

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface MatchBlock {
  uri?: StringMatch;
  ignoreUriCase?: boolean;
  headers: Record<string, StringMatch>;
  method?: StringMatch;
}

export interface Dest {
  cluster: string;
  weight: number;
}

export interface Route {
  /** null: matches everything */
  matches: MatchBlock[] | null;
  dests: Dest[];
  what: string;
}

export interface VHost {
  id: string;
  /** sidecar: exact Host header values; gateway: regexes over "port TAB host" */
  keys: string[];
  regexKeys: string[];
  routes: Route[];
  label: string;
}

export interface Cluster {
  name: string;
  servers: string[];
}

export class Builder {
  clusters = new Map<string, Cluster>();
  warnings: string[] = [];
  constructor(
    readonly mesh: Mesh,
    readonly proxy: ProxySpec,
  ) {}

  warn(s: string) {
    if (!this.warnings.includes(s)) this.warnings.push(s);
  }

  /** The upstream of (service host, port, subset): endpoints filtered by the subset's labels. */
  cluster(host: string, port: number, subset: string | undefined, vsWhere: string): string {
    const svc = this.mesh.services.get(host);
    const name = `outbound_${port}_${subset ? safeName(subset) : ''}_${safeName(host)}`;
    if (this.clusters.has(name)) return name;
    let servers: string[] = [];
    if (!svc)
      this.warn(
        `${vsWhere}: destination host ${host} is not a service the lab knows (no Service or ServiceEntry): 503`,
      );
    else {
      let eps = svc.endpoints.filter((e) => e.ports[port] !== undefined);
      if (subset) {
        const labels = this.subsetLabels(host, subset);
        if (!labels) {
          this.warn(`${vsWhere}: subset ${subset} of ${host} is not defined by any DestinationRule: 503`);
          eps = [];
        } else eps = eps.filter((e) => selects(labels, e.labels));
      }
      servers = [...new Set(eps.map((e) => `${e.address}:${e.ports[port]}`))].sort();
    }
    this.clusters.set(name, { name, servers });
    return name;
  }

  subsetLabels(host: string, subset: string): Record<string, string> | undefined {
    const svcNs = this.mesh.services.get(host)?.namespace;
    // exact hosts before wildcards; then a rule in the proxy's namespace, the service's, the rest
    const rank = (x: { d: KObject; host: string }) =>
      (x.host === host ? 0 : 10) +
      (x.d.metadata.namespace === this.proxy.namespace ? 0 : x.d.metadata.namespace === svcNs ? 1 : 2);
    const drs = this.mesh.destinationRules
      .map((d) => ({ d, host: resolveHost(String(d.spec?.host ?? ''), d.metadata.namespace ?? 'default') }))
      .filter((x) => hostMatches(x.host, host))
      .sort((a, b) => rank(a) - rank(b));
    for (const { d } of drs) {
      if (d.spec?.trafficPolicy !== undefined)
        this.warn(
          `DestinationRule ${d.metadata.namespace}/${d.metadata.name}: trafficPolicy is ignored by the lab data plane`,
        );
      const s = (d.spec?.subsets ?? []).find((x: Untyped) => x?.name === subset);
      if (s) return (s.labels ?? {}) as Record<string, string>;
    }
    return undefined;
  }

  /** The port of a destination: given, else the request's port when the service has it, else its only port. */
  destPort(host: string, given: unknown, requestPort: number | undefined): number | undefined {
    if (given !== undefined && given !== null) return Number(given);
    const svc = this.mesh.services.get(host);
    if (!svc) return requestPort;
    if (requestPort !== undefined && svc.ports.some((p) => p.number === requestPort)) return requestPort;
    if (svc.ports.length === 1) return svc.ports[0].number;
    return svc.ports[0]?.number ?? requestPort;
  }

  /** The routes of an http[] list (VirtualService) for a request port. */
  httpRoutes(vs: KObject, requestPort: number | undefined): Route[] {
    const ns = vs.metadata.namespace ?? 'default';
    const where = `VirtualService ${ns}/${vs.metadata.name}`;
    const out: Route[] = [];
    for (const [i, h] of ((vs.spec?.http ?? []) as Untyped[]).entries()) {
      for (const k of [
        'rewrite',
        'redirect',
        'fault',
        'mirror',
        'retries',
        'timeout',
        'corsPolicy',
        'headers',
        'delegate',
        'directResponse',
      ]) {
        if (h?.[k] !== undefined) this.warn(`${where} http[${i}]: ${k} is ignored by the lab data plane`);
      }
      let matches: MatchBlock[] | null = null;
      if (Array.isArray(h?.match) && h.match.length) {
        matches = [];
        for (const m of h.match) {
          if (m?.port !== undefined && requestPort !== undefined && Number(m.port) !== requestPort) continue;
          for (const k of [
            'queryParams',
            'withoutHeaders',
            'sourceLabels',
            'sourceNamespace',
            'scheme',
            'authority',
            'gateways',
          ]) {
            if (m?.[k] !== undefined) this.warn(`${where} http[${i}].match: ${k} is ignored by the lab data plane`);
          }
          matches.push({
            uri: m?.uri,
            ignoreUriCase: !!m?.ignoreUriCase,
            headers: isObj(m?.headers) ? m.headers : {},
            method: m?.method,
          });
        }
        if (!matches.length) continue; // every match block is for another port
      }
      const routes = (h?.route ?? []) as Untyped[];
      if (!routes.length) {
        this.warn(`${where} http[${i}]: no route (only route destinations are supported by the lab)`);
        continue;
      }
      const dests: Dest[] = [];
      for (const r of routes) {
        const host = resolveHost(String(r?.destination?.host ?? ''), ns);
        const port = this.destPort(host, r?.destination?.port?.number, requestPort);
        if (port === undefined) {
          this.warn(`${where}: destination ${host} has no port`);
          continue;
        }
        const weight = routes.length === 1 && r.weight === undefined ? 100 : Number(r.weight ?? 0);
        dests.push({ cluster: this.cluster(host, port, r?.destination?.subset, where), weight });
      }
      out.push({ matches, dests, what: `${where} http[${i}]` });
    }
    return out;
  }

  /** VirtualServices bound to the mesh (sidecars) whose hosts include `host`. */
  meshVs(host: string): KObject | undefined {
    const hits = this.mesh.virtualServices.filter((vs) => {
      const gws: string[] = vs.spec?.gateways ?? ['mesh'];
      if (!gws.includes('mesh')) return false;
      return (vs.spec?.hosts ?? []).some((h: string) =>
        hostMatches(resolveHost(String(h), vs.metadata.namespace ?? 'default'), host),
      );
    });
    if (hits.length > 1)
      this.warn(
        `VirtualServices ${hits.map((v) => `${v.metadata.namespace}/${v.metadata.name}`).join(', ')} ` +
          `all route ${host}: the lab uses the first`,
      );
    return hits[0];
  }

  sidecarVhosts(): VHost[] {
    const out: VHost[] = [];
    const seen = new Set<string>();
    const services = [...this.mesh.services.values()].sort((a, b) => a.host.localeCompare(b.host));
    for (const svc of services) {
      const vs = this.meshVs(svc.host);
      // a Host header without a port (the original port is lost in the redirect): port 80, else the lowest
      const sorted = [...svc.ports].sort((a, b) => a.number - b.number);
      const bare = (sorted.find((p) => p.number === 80) ?? sorted[0])?.number;
      for (const p of sorted) {
        if (!/^(http|http2|grpc|tcp)/i.test(p.protocol) && !/^(http|http2|grpc)/i.test(p.name)) {
          this.warn(`${svc.host}:${p.number}: protocol ${p.protocol} is proxied as HTTP by the lab data plane`);
        }
        const keys: string[] = [];
        for (const a of [...aliases(svc, this.proxy.namespace), ...svc.vips]) {
          for (const k of p.number === bare ? [`${a}:${p.number}`, a] : [`${a}:${p.number}`]) {
            if (!seen.has(k)) {
              seen.add(k);
              keys.push(k);
            }
          }
        }
        const routes = vs
          ? this.httpRoutes(vs, p.number)
          : [
              {
                matches: null,
                dests: [{ cluster: this.cluster(svc.host, p.number, undefined, svc.host), weight: 100 }],
                what: `${svc.host}:${p.number} (no VirtualService)`,
              },
            ];
        out.push({
          id: `vh${out.length + 1}`,
          keys,
          regexKeys: [],
          routes,
          label:
            `${svc.host}:${p.number}` +
            `${vs ? ` via VirtualService ${vs.metadata.namespace}/${vs.metadata.name}` : ''}`,
        });
      }
    }
    return out;
  }

  gatewayVhosts(): { vhosts: VHost[]; ports: number[] } {
    const labels = this.proxy.labels ?? {};
    const vhosts: VHost[] = [];
    const ports = new Set<number>();
    for (const gw of this.mesh.gateways) {
      const gns = gw.metadata.namespace ?? 'default';
      const sel = gw.spec?.selector as Record<string, string> | undefined;
      if (sel && !selects(sel, labels)) continue;
      for (const server of (gw.spec?.servers ?? []) as Untyped[]) {
        const port = Number(server?.port?.number);
        const proto = String(server?.port?.protocol ?? 'HTTP').toUpperCase();
        if (!Number.isInteger(port)) continue;
        if (!['HTTP', 'HTTP2', 'GRPC'].includes(proto)) {
          this.warn(
            `Gateway ${gns}/${gw.metadata.name} port ${port}: ` +
              `protocol ${proto} is not served by the lab gateway (HTTP only)`,
          );
          continue;
        }
        if (server?.tls)
          this.warn(`Gateway ${gns}/${gw.metadata.name} port ${port}: tls is ignored by the lab gateway`);
        ports.add(port);
        const gwHosts: string[] = (server?.hosts ?? ['*']).map((h: string) => stripNsPrefix(String(h)).toLowerCase());
        const bound = this.mesh.virtualServices.filter((vs) =>
          (vs.spec?.gateways ?? []).some(
            (g: string) =>
              g === `${gns}/${gw.metadata.name}` ||
              (g === gw.metadata.name && (vs.metadata.namespace ?? 'default') === gns),
          ),
        );
        for (const vs of bound) {
          const vsNs = vs.metadata.namespace ?? 'default';
          const hosts: string[] = (vs.spec?.hosts ?? []).map((h: string) =>
            String(h) === '*' ? '*' : resolveHost(String(h), vsNs),
          );
          const served = hosts.filter((h) => gwHosts.some((g) => hostMatches(g, h) || hostMatches(h, g)));
          if (!served.length) {
            this.warn(
              `VirtualService ${vsNs}/${vs.metadata.name}: none of its hosts ` +
                `is served by Gateway ${gns}/${gw.metadata.name} port ${port}`,
            );
            continue;
          }
          const routes = this.httpRoutes(vs, port);
          const regexKeys = served.map(
            (h) =>
              `^${port}\\t` +
              `${h === '*' ? '' : h.startsWith('*.') ? `[^\\t]*${reEscape(h.slice(1))}$` : `${reEscape(h)}$`}`,
          );
          vhosts.push({
            id: `vh${vhosts.length + 1}`,
            keys: [],
            regexKeys,
            routes,
            label:
              `${gns}/${gw.metadata.name}:${port} ${served.join(',')} ` +
              `via VirtualService ${vsNs}/${vs.metadata.name}`,
          });
        }
      }
    }
    // specific hosts before wildcards, as Envoy picks the most specific virtual host
    const spec = (v: VHost) => Math.max(...v.regexKeys.map((k) => (k.endsWith('\\t') ? 0 : k.includes('[^') ? 1 : 2)));
    vhosts.sort((a, b) => spec(b) - spec(a));
    return { vhosts, ports: [...ports].sort((a, b) => a - b) };
  }
}

// meshbook lab cluster: NGINX configuration of one proxy from the mesh (pure), in the
// spirit of nginmesh: the ingress gateway and every sidecar are NGINX programmed from the
// Istio objects the runbooks apply.
//
//   sidecar   listen 15001 (outbound: iptables sends the Service CIDR here): the Host
//             header (`hello2-svc.<ns>.svc.cluster.local:8001`, a short name, the VIP:port)
//             picks the service port (a "vhost"; NGINX cannot see the original destination
//             port, so a Host without a port means port 80, else the service's lowest
//             port); VirtualService routes pick a cluster;
//             listen 15006 (inbound: every other TCP port is sent here): the local app on
//             127.0.0.1:<port> (the port from the Host header when the workload has several)
//   gateway   one listener per Gateway server port; the Host header (without port) and
//             the VirtualServices bound to the Gateway pick the route
//
// Route choice, first match wins as in Envoy: one `map` over "vhost TAB uri TAB headers..."
// whose regexes are the VirtualService matches in order (uri exact/prefix/regex, headers
// exact/prefix/regex, method, port). Weighted destinations pick per request at random as
// Envoy does: `split_clients "${request_id}"` (a fresh random id per request).
// Clusters are upstreams named outbound_<port>_<subset>_<host> (Envoy's names, with _).
// A cluster without endpoints goes to a local listener that answers 503 "no healthy
// upstream", like Envoy.
// shape: over 400 lines, renderProxyConfig over 80 (one Mesh walk per proxy); routes/render split deferred (time)
import { hostMatches, resolveHost, stripNsPrefix, aliases, type Mesh } from './mesh.ts';
import { isObj, selects, type KObject } from './kinds.ts';
import type { Untyped } from '../../scripts/engine/untyped.ts';

export const OUTBOUND_PORT = 15001;
export const INBOUND_PORT = 15006;
export const BLACKHOLE_PORT = 15098;
export const GATEWAY_HEALTH_PORT = 15021;

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

export interface ProxyConfig {
  text: string;
  /** ports the proxy listens on (the lab waits for them after a start) */
  listen: number[];
  warnings: string[];
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

interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

interface MatchBlock {
  uri?: StringMatch;
  ignoreUriCase?: boolean;
  headers: Record<string, StringMatch>;
  method?: StringMatch;
}

interface Dest {
  cluster: string;
  weight: number;
}

interface Route {
  /** null: matches everything */
  matches: MatchBlock[] | null;
  dests: Dest[];
  what: string;
}

interface VHost {
  id: string;
  /** sidecar: exact Host header values; gateway: regexes over "port TAB host" */
  keys: string[];
  regexKeys: string[];
  routes: Route[];
  label: string;
}

interface Cluster {
  name: string;
  servers: string[];
}

class Builder {
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

// ---- rendering -------------------------------------------------------------------------------

function stringMatchRe(m: StringMatch | undefined, ci = false): string {
  let re: string;
  if (!m) re = '[^\\t]*';
  else if (m.exact !== undefined) re = reEscape(String(m.exact));
  else if (m.prefix !== undefined) re = `${reEscape(String(m.prefix))}[^\\t]*`;
  else if (m.regex !== undefined) re = `(?:${String(m.regex)})`;
  else re = '[^\\t]*';
  return ci && m ? `(?i:${re})` : re;
}

/** The regex of one match block over "vhost TAB uri TAB method TAB header1 TAB ...". */
function matchRegex(vh: string, m: MatchBlock | null, headers: string[], useMethod: boolean): string {
  const parts = [vh, stringMatchRe(m?.uri, m?.ignoreUriCase)];
  if (useMethod) parts.push(stringMatchRe(m?.method));
  for (const h of headers) {
    const hm = m?.headers[h] ?? Object.entries(m?.headers ?? {}).find(([k]) => k.toLowerCase() === h)?.[1];
    parts.push(stringMatchRe(hm));
  }
  return `^${parts.join('\\t')}$`;
}

function percent(weights: number[]): string[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => {
    const p = (w * 100) / total;
    return `${Number.isInteger(p) ? p : p.toFixed(2)}%`;
  });
}

export function renderProxyConfig(mesh: Mesh, proxy: ProxySpec): ProxyConfig {
  const b = new Builder(mesh, proxy);
  const dir = proxy.dir.replace(/\/+$/, '');
  let vhosts: VHost[];
  let listen: number[];
  let gatewayPorts: number[] = [];
  const inbound = [...new Set(proxy.inboundPorts ?? [])].sort((a, c) => a - c);
  if (proxy.kind === 'gateway') {
    const g = b.gatewayVhosts();
    vhosts = g.vhosts;
    gatewayPorts = g.ports;
    listen = [...gatewayPorts, GATEWAY_HEALTH_PORT];
  } else {
    vhosts = b.sidecarVhosts();
    listen = [OUTBOUND_PORT, INBOUND_PORT];
  }
  const headers = [
    ...new Set(
      vhosts.flatMap((v) =>
        v.routes.flatMap((r) => (r.matches ?? []).flatMap((m) => Object.keys(m.headers).map((h) => h.toLowerCase()))),
      ),
    ),
  ].sort();
  const useMethod = vhosts.some((v) => v.routes.some((r) => (r.matches ?? []).some((m) => m.method)));

  const L: string[] = [];
  L.push(`# generated by meshbook lab (lab/cluster/nginx.ts) for ${proxy.id}: rewritten on every change, do not edit`);
  if (proxy.user) L.push(`user ${proxy.user};`);
  L.push(
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 1024; }',
    '',
    'http {',
  );
  const I = (s = '') => L.push(s ? `  ${s}` : '');
  I(proxy.accessLog ? `access_log ${dir}/access.log;` : 'access_log off;');
  I('default_type text/plain;');
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) I(`${t}_temp_path ${dir}/${t}_temp;`);
  I('proxy_http_version 1.1;');
  I('proxy_set_header Connection "";');
  I('proxy_set_header Host $http_host;');
  I('proxy_connect_timeout 2s;');
  I('proxy_read_timeout 60s;');
  // small answers: never buffer to temp files (a sidecar's dir is not the workers' to write)
  I('proxy_max_temp_file_size 0;');
  I('client_body_buffer_size 1m;');
  I('server_tokens off;');
  I('map_hash_bucket_size 256;');
  I('map_hash_max_size 8192;');
  I();

  // routes -> one map (first match wins), weighted routes -> split_clients
  const routeEntries: string[] = [];
  const upstreamOf: string[] = [];
  const splits: string[] = [];
  for (const v of vhosts) {
    I(`# ${v.id}: ${v.label}`);
    v.routes.forEach((r, i) => {
      const rid = `${v.id}_r${i}`;
      const dests = r.dests.filter((d) => d.weight > 0);
      for (const m of r.matches ?? [null])
        routeEntries.push(`    ${q(`~${matchRegex(v.id, m, headers, useMethod)}`)} ${rid};  # ${r.what}`);
      if (dests.length === 0) upstreamOf.push(`    ${rid} blackhole;`);
      else if (dests.length === 1) upstreamOf.push(`    ${rid} ${dests[0].cluster};`);
      else {
        const pcts = percent(dests.map((d) => d.weight));
        splits.push(`  # ${r.what}: ${dests.map((d) => `${d.cluster} ${d.weight}`).join(', ')}`);
        splits.push(`  split_clients "\${request_id}" $lab_${rid} {`);
        dests.forEach((d, k) => splits.push(`    ${k === dests.length - 1 ? '*' : pcts[k]} ${d.cluster};`));
        splits.push('  }');
        upstreamOf.push(`    ${rid} $lab_${rid};`);
      }
    });
  }
  I();

  // upstreams
  const clusters = [...b.clusters.values()].sort((a, c) => a.name.localeCompare(c.name));
  for (const c of clusters) {
    if (!c.servers.length) continue;
    I(`upstream ${c.name} {`);
    for (const s of c.servers) I(`  server ${s} max_fails=0;`);
    I('  keepalive 16;');
    I('}');
  }
  I(`upstream blackhole { server 127.0.0.1:${BLACKHOLE_PORT}; }`);
  for (const p of inbound) I(`upstream inbound_${p} { server 127.0.0.1:${p} max_fails=0; keepalive 16; }`);
  I();
  // empty clusters answer like Envoy: 503 no healthy upstream
  const empty = clusters.filter((c) => !c.servers.length).map((c) => c.name);
  const fix = (s: string) => (empty.some((e) => s.endsWith(` ${e};`)) ? s.replace(/ [^ ]+;$/, ' blackhole;') : s);
  for (const s of splits) L.push(fix(s));
  I();

  // the vhost of a request
  if (proxy.kind === 'gateway') {
    I('map "$server_port\\t$host" $lab_vh {');
    for (const v of vhosts) for (const k of v.regexKeys) I(`  ${q(`~${k}`)} ${v.id};`);
  } else {
    I('map $http_host $lab_vh {');
    for (const v of vhosts) for (const k of v.keys) I(`  ${q(k.toLowerCase())} ${v.id};`);
  }
  I('  default "";');
  I('}');
  const source = ['$lab_vh', '$uri', ...(useMethod ? ['$request_method'] : []), ...headers.map(headerVar)].join('\\t');
  I(`map "${source}" $lab_route {`);
  for (const e of routeEntries) L.push(e);
  I('  default "";');
  I('}');
  I('map $lab_route $lab_upstream {');
  for (const e of upstreamOf) L.push(fix(e));
  I('  default "";');
  I('}');
  I();

  const proxyLocation = (noVhost: string) => [
    '    location / {',
    `      if ($lab_vh = "") { return ${noVhost}; }`,
    '      if ($lab_upstream = "") { return 404 "lab: no route ' +
      'matched (VirtualService) for $http_host$request_uri\\n"; }',
    '      proxy_pass http://$lab_upstream;',
    '    }',
  ];
  if (proxy.kind === 'gateway') {
    for (const p of gatewayPorts) {
      I(`server {`);
      I(`  listen ${p};`);
      for (const l of proxyLocation('404 "lab gateway: no VirtualService for host $host on port $server_port\\n"'))
        L.push(l);
      I('}');
    }
    I(
      `server { listen ${GATEWAY_HEALTH_PORT}; location /healthz/ready ` +
        `{ return 200 "ready\\n"; } location / { return 404; } }`,
    );
  } else {
    I('server {');
    I(`  listen ${OUTBOUND_PORT};`);
    for (const l of proxyLocation('502 "lab sidecar: no service for host $http_host\\n"')) L.push(l);
    I('}');
    I('map $http_host $lab_inbound {');
    for (const p of inbound) I(`  "~:${p}$" inbound_${p};`);
    I(`  default ${inbound.length ? `inbound_${inbound[0]}` : 'blackhole'};`);
    I('}');
    I('server {');
    I(`  listen ${INBOUND_PORT};`);
    I('  location / { proxy_pass http://$lab_inbound; }');
    I('}');
  }
  I(`server { listen 127.0.0.1:${BLACKHOLE_PORT}; location / { return 503 "no healthy upstream\\n"; } }`);
  L.push('}', '');
  return { text: L.join('\n'), listen, warnings: [...mesh.warnings, ...b.warnings] };
}

// Where the ingress gateway answers, from its Service's JSON (`kubectl -n istio-system get
// service istio-ingressgateway -o json`): the LoadBalancer's address and the ports named
// http2 and https, as the article's jsonpath commands read them; without a LoadBalancer
// address (no cloud, EXTERNAL-IP <pending>) a node's IP and those ports' NodePorts.
// Pure: also used by kubeadm-nginmesh's NodePort step.
import type { Untyped } from '../engine/untyped.ts';

export interface IngressAddress {
  via: 'LoadBalancer' | 'NodePort';
  host: string; // INGRESS_HOST
  port: number; // INGRESS_PORT (port named http2)
  securePort?: number; // SECURE_INGRESS_PORT (port named https)
  gatewayUrl: string; // GATEWAY_URL = host:port
  lines: string[]; // what to show
}

interface PortJson {
  name?: string;
  port?: number;
  nodePort?: number;
  protocol?: string;
}

const hostPort = (h: string, p: number) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`);

export function ingressAddress(
  json: string | object,
  opts: { nodeIp?: string } = {},
): IngressAddress | { error: string } {
  let svc: Untyped;
  try {
    svc = typeof json === 'string' ? JSON.parse(json) : json;
  } catch {
    return { error: 'the Service is not JSON (kubectl get service -o json)' };
  }
  if (svc?.kind !== 'Service' || !svc.spec) return { error: `expected a Service, got ${svc?.kind ?? 'nothing'}` };
  const name = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
  const ports: PortJson[] = Array.isArray(svc.spec.ports) ? svc.spec.ports : [];
  const http = ports.find((p) => p.name === 'http2');
  const https = ports.find((p) => p.name === 'https');
  if (!http)
    return {
      error:
        `Service ${name} has no port named http2 ` +
        `(ports: ${ports.map((p) => p.name ?? p.port).join(', ') || 'none'})`,
    };
  const lb = (svc.status?.loadBalancer?.ingress ?? [])[0] as { ip?: string; hostname?: string } | undefined;
  const lbHost = lb?.ip || lb?.hostname;
  const list = (use: (p: PortJson) => number | undefined, host: string) =>
    ports
      .filter((p) => use(p))
      .map(
        (p) =>
          `  ${p.name ?? '(unnamed)'}: ${hostPort(host, use(p)!)}` +
          `${use === nodePortOf ? ` (NodePort of port ${p.port})` : ''}`,
      );
  if (lbHost) {
    const r: IngressAddress = {
      via: 'LoadBalancer',
      host: lbHost,
      port: http.port!,
      securePort: https?.port,
      gatewayUrl: hostPort(lbHost, http.port!),
      lines: [],
    };
    r.lines = [`${name}: LoadBalancer ${lbHost}`, ...exports(r), ...list((p) => p.port, lbHost)];
    return r;
  }
  const pending =
    svc.spec.type === 'LoadBalancer'
      ? 'its LoadBalancer address is <pending> (no cloud load balancer)'
      : `it is type ${svc.spec.type ?? 'ClusterIP'}`;
  if (!http.nodePort)
    return {
      error:
        `Service ${name} has no LoadBalancer address and no ` +
        `NodePort: ${pending}; make it type NodePort or LoadBalancer`,
    };
  if (!opts.nodeIp)
    return {
      error:
        `Service ${name} has no LoadBalancer address (${pending}); ` +
        `set INGRESS_NODE_IP to a node's IP to use its NodePorts`,
    };
  const r: IngressAddress = {
    via: 'NodePort',
    host: opts.nodeIp,
    port: http.nodePort,
    securePort: https?.nodePort,
    gatewayUrl: hostPort(opts.nodeIp, http.nodePort),
    lines: [],
  };
  r.lines = [
    `${name}: no LoadBalancer address (${pending}); using node ${opts.nodeIp} and the NodePorts`,
    ...exports(r),
    ...list(nodePortOf, opts.nodeIp),
  ];
  return r;
}

function nodePortOf(p: PortJson): number | undefined {
  return p.nodePort;
}

function exports(r: IngressAddress): string[] {
  return [
    `INGRESS_HOST=${r.host}`,
    `INGRESS_PORT=${r.port}`,
    ...(r.securePort ? [`SECURE_INGRESS_PORT=${r.securePort}`] : []),
    `GATEWAY_URL=${r.gatewayUrl}`,
    `open http://${r.gatewayUrl}/productpage`,
  ];
}

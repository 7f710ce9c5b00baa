// meshbook lab cluster: the ports of the lab's istio-ingressgateway Service, as Istio's own
// gateway Service has them (the default and demo profiles): status-port 15021, http2 80 ->
// 8080, https 443 -> 8443, each with a NodePort. The runbooks read them the way the articles
// do (the port named http2, its NodePort); the node's kube-proxy rules make the Service
// ports on the LoadBalancer address (the node) and the NodePorts answer (kubeproxy.ts).
//
// Istio binds a Gateway server whose number is a Service port on that port's targetPort;
// the lab's NGINX binds the server's number itself, so a Service port whose number a
// Gateway uses keeps that number as its target (then both reach the same listener).
export interface IngressPort {
  name: string;
  port: number;
  targetPort: number;
  nodePort: number;
}

/** Istio's ports; the NodePorts are fixed in the lab (Istio's are random in 30000-32767;
 *  31380/31390 are the ones older Istio releases pinned for http2/https). */
export const ISTIO_INGRESS_PORTS: readonly IngressPort[] = [
  { name: 'status-port', port: 15021, targetPort: 15021, nodePort: 31021 },
  { name: 'http2', port: 80, targetPort: 8080, nodePort: 31380 },
  { name: 'https', port: 443, targetPort: 8443, nodePort: 31390 },
];

/** The status-port's NodePort: what answers on every lab node address (the gateway's health). */
export const STATUS_NODE_PORT = ISTIO_INGRESS_PORTS[0].nodePort;

/** The Service ports for the Gateway server ports the lab's NGINX listens on. */
export function ingressServicePorts(gatewayPorts: number[]) {
  const fixed = ISTIO_INGRESS_PORTS.map((p) => ({
    name: p.name,
    port: p.port,
    targetPort: gatewayPorts.includes(p.port) ? p.port : p.targetPort,
    nodePort: p.nodePort,
    protocol: 'TCP',
  }));
  const taken = new Set(fixed.flatMap((p) => [p.port, p.targetPort]));
  const extra = gatewayPorts
    .filter((p) => !taken.has(p))
    .map((p) => ({ name: `http-${p}`, port: p, targetPort: p, protocol: 'TCP' }));
  return [...fixed.filter((p) => p.name !== 'status-port'), ...extra, fixed[0]];
}

// Article "确定入站 IP 和端口": INGRESS_HOST, INGRESS_PORT, SECURE_INGRESS_PORT and
// GATEWAY_URL from the istio-ingressgateway Service: its LoadBalancer address and the
// ports named http2 and https (the article's three jsonpath commands), or, without a
// LoadBalancer address (kubeadm, bare metal), a node's IP and those ports' NodePorts. The
// article never shows how it sets GATEWAY_URL; here it is INGRESS_HOST:INGRESS_PORT.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { ingressAddress } from '../shared/ingress.ts';

const step: Step = {
  id: '10-ingress',
  title: 'INGRESS_HOST, INGRESS_PORT, SECURE_INGRESS_PORT, GATEWAY_URL',
  article: '确定入站 IP 和端口 (ingress host and ports)',
  notes: [
    'one read of the Service as JSON instead of three jsonpath calls; without a LoadBalancer ' +
      "address the NodePorts on a node IP (INGRESS_NODE_IP, else a Bookinfo pod's node)",
    'the article never shows how GATEWAY_URL is set: it is INGRESS_HOST:INGRESS_PORT',
  ],
  target: 'cluster',
  gathersFacts: true,
  cluster: (ctx) => ({
    probe: probeCmd(kubectl(ctx.env, '-n', 'istio-system', 'get', 'service', 'istio-ingressgateway', '-o', 'json')),
    interpret: (out) => {
      if (out.code !== 0)
        return {
          ok: false,
          lines: [`error: kubectl could not read Service istio-system/istio-ingressgateway (exit ${out.code})`],
        };
      const r = ingressAddress(out.stdout, {
        nodeIp: ctx.env.INGRESS_NODE_IP || (ctx.facts.nodeIp as string | undefined),
      });
      if ('error' in r) return { ok: false, lines: [`error: ${r.error}`] };
      Object.assign(ctx.facts, {
        ingressHost: r.host,
        ingressPort: r.port,
        secureIngressPort: r.securePort,
        gatewayUrl: r.gatewayUrl,
      });
      return { ok: true, lines: r.lines };
    },
  }),
};
export default step;

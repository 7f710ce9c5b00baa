// Article §3 "MESH驗證-全鏈路流量轉移" (first part): before requests go through the ingress,
// make sure istio-ingressgateway exposes port 8004, which hello-gateway listens on (the
// article reads ASM's IstioGateway `http-reciprocal` entry). Read-only; shows the load
// balancer address the article takes INGRESS_HOST from.
// Open-source Istio's default ingress Service exposes 80/443/15021 only: without port 8004
// the verification cannot pass, so this fails early with the fix.
import type { Step } from '../engine/types.ts';
import { kubectl, probeCmd } from '../engine/local.ts';
import { HELLO1_PORT } from './common.ts';

const JSONPATH =
  '{range .spec.ports[*]}port {.name} {.port} {.targetPort} ' +
  '{.nodePort}{"\\n"}{end}lb {.status.loadBalancer.ingress[*].ip}{"\\n"}';

/** The jsonpath output -> ok/lines (exported for tests). */
export function interpretIngress(stdout: string, env: Record<string, string>) {
  const ports = stdout
    .split('\n')
    .filter((l) => l.startsWith('port '))
    .map((l) => {
      const [, name, port, target, nodePort] = l.split(' ');
      return { name, port, target, nodePort };
    });
  const lb = /^lb (.*)$/m.exec(stdout)?.[1]?.trim() ?? '';
  const p = ports.find((x) => x.port === String(HELLO1_PORT) || x.target === String(HELLO1_PORT));
  const lines: string[] = [];
  if (!p) {
    return {
      ok: false,
      lines: [
        `error: istio-ingressgateway exposes no port ${HELLO1_PORT} ` +
          `(it has ${ports.map((x) => x.port).join(', ') || 'none'}); ` +
          `add ${HELLO1_PORT} to the ingress gateway (ASM: the IstioGateway's ports, the article's ` +
          `http-reciprocal entry; Istio: IstioOperator spec.components.ingressGateways[].k8s.service.ports)`,
      ],
    };
  }
  lines.push(
    `istio-ingressgateway port ${p.name || '(unnamed)'} ${p.port} ` +
      `-> ${p.target}${p.nodePort ? ` (nodePort ${p.nodePort})` : ''}`,
  );
  lines.push(lb ? `load balancer address: ${lb}` : 'no load balancer address (reach it at a node IP and the nodePort)');
  const port = env.INGRESS_PORT || String(HELLO1_PORT);
  if (port !== p.port && port !== p.nodePort)
    lines.push(`note: INGRESS_PORT=${port} is neither the port ${p.port} nor the nodePort ${p.nodePort || '-'}`);
  if (lb && env.INGRESS_HOST && !lb.split(' ').includes(env.INGRESS_HOST))
    lines.push(`note: INGRESS_HOST=${env.INGRESS_HOST} is not the load balancer address ${lb}`);
  return { ok: true, lines };
}

const step: Step = {
  id: '13-ingress-port',
  title: 'The ingress gateway exposes port 8004',
  article: '§3 MESH驗證-全鏈路流量轉移 (check the 8004 port)',
  notes: ["the article reads ASM's IstioGateway; here the istio-ingressgateway Service's ports (ASM and Istio alike)"],
  target: 'cluster',
  cluster: ({ env }) => ({
    probe: probeCmd(
      kubectl(env, '-n', 'istio-system', 'get', 'svc', 'istio-ingressgateway', '-o', `jsonpath=${JSONPATH}`),
    ),
    interpret: (out) =>
      out.code !== 0
        ? {
            ok: false,
            lines: [`error: cannot read istio-system/istio-ingressgateway: ${out.stderr.trim().split('\n')[0] ?? ''}`],
          }
        : interpretIngress(out.stdout, env),
  }),
};
export default step;

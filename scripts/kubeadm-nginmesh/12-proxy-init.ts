// Article "查看自动注入的sidecar" (the injected sidecar): proxy_init runs
// prepare_proxy.sh -p 15001 -u 1337 [-i CIDRS] to send the pod's TCP traffic through the
// NGINX proxy. This step installs the same NAT rules (PROXY_PORT, PROXY_UID, PROXY_CIDRS)
// for real. Where: prepare_proxy.sh runs inside a pod's network namespace (an init
// container). On a machine's own namespace its `PREROUTING -j ISTIO_REDIRECT` would send
// every inbound connection, SSH included, to the proxy port, so the rules go into a
// network namespace standing for the pod, PROXY_NETNS (created when missing), on each VM.
// Idempotent: both chains are rewritten whole when they differ (compared with what
// `iptables -t nat -S` prints), the PREROUTING and OUTPUT jumps are added only when missing.
import type { Step } from '../engine/types.ts';
import { probe, mutate } from '../engine/sh.ts';
import { proxyInitRules, sLine, type ProxyInitSpec } from './proxy-init-rules.ts';
import { commandLines } from './common.ts';

export function proxySpec(env: Record<string, string>): ProxyInitSpec {
  return {
    port: Number(env.PROXY_PORT),
    uid: Number(env.PROXY_UID),
    cidrs: env.PROXY_CIDRS ? env.PROXY_CIDRS.split(',').map((c) => c.trim()) : [],
  };
}

const step: Step = {
  id: '12-proxy-init',
  title: "proxy_init's interception rules (prepare_proxy.sh) in a pod network namespace",
  article: '查看自动注入的sidecar: proxy_init / prepare_proxy.sh',
  notes: [
    "prepare_proxy.sh runs in a pod's network namespace: on the VM's own namespace its " +
      'PREROUTING redirect would capture SSH too, so the rules go into the namespace PROXY_NETNS',
    'rerunnable: the ISTIO_REDIRECT and ISTIO_OUTPUT chains are rewritten whole, the jumps from ' +
      'PREROUTING and OUTPUT are added only when missing (prepare_proxy.sh appends duplicates on a rerun)',
    'sidecar injection itself is a MutatingAdmissionWebhook today (the ' +
      'Initializers the article relies on were removed in Kubernetes 1.14)',
  ],
  target: 'vm',
  vm: (ctx) => {
    const { redirect, output, jumps } = proxyInitRules(proxySpec(ctx.env));
    const ns = ctx.env.PROXY_NETNS;
    const want = (rules: typeof output) => rules.map(sLine).join('\n');
    const ipt = ['ip', 'netns', 'exec', ns, 'iptables', '-w', '-t', 'nat'];
    return {
      check: probe`
        if [ ! -e ${`/run/netns/${ns}`} ]; then echo ${`network namespace ${ns} is absent`}; exit 10; fi
        same() { [ "$(${ipt} -S "$1" 2>/dev/null | grep '^-A' || true)" = "$2" ]; }
        if ! same ISTIO_REDIRECT ${want(redirect)}; then echo ${`ISTIO_REDIRECT in ${ns} differs from prepare_proxy.sh's`}; exit 10; fi
        if ! same ISTIO_OUTPUT ${want(output)}; then echo ${`ISTIO_OUTPUT in ${ns} differs from prepare_proxy.sh's`}; exit 10; fi
        ${ipt} -C ${jumps[0].chain} ${jumps[0].args} 2>/dev/null || { echo 'PREROUTING does not jump to ISTIO_REDIRECT'; exit 10; }
        ${ipt} -C ${jumps[1].chain} ${jumps[1].args} 2>/dev/null || { echo 'OUTPUT does not jump to ISTIO_OUTPUT'; exit 10; }
        echo ${`proxy_init rules in place in network namespace ${ns}`}
      `,
      apply: mutate`
        [ -e ${`/run/netns/${ns}`} ] || ip netns add ${ns}
        ${ipt} -N ISTIO_REDIRECT 2>/dev/null || ${ipt} -F ISTIO_REDIRECT
        ${ipt} -N ISTIO_OUTPUT 2>/dev/null || ${ipt} -F ISTIO_OUTPUT
        ${ipt} -A ${redirect[0].chain} ${redirect[0].args}
        ${commandLines(
          output.map((r) => mutate`${ipt} -A ${r.chain} ${r.args}`),
          8,
        )}
        ${ipt} -C ${jumps[0].chain} ${jumps[0].args} 2>/dev/null || ${ipt} -A ${jumps[0].chain} ${jumps[0].args}
        ${ipt} -C ${jumps[1].chain} ${jumps[1].args} 2>/dev/null || ${ipt} -A ${jumps[1].chain} ${jumps[1].args}
        echo ${`installed prepare_proxy.sh -p ${ctx.env.PROXY_PORT} -u ${ctx.env.PROXY_UID}${ctx.env.PROXY_CIDRS ? ` -i ${ctx.env.PROXY_CIDRS}` : ''} rules in network namespace ${ns}`}
      `,
    };
  },
};
export default step;

// Article "proxy_init则用于配置iptable规则" (proxy_init configures the iptables rules): check
// the interception in the pod network namespace rule by rule, in order, from
// `iptables-save -t nat` (parsed by the engine's parseSave, checked by expectProxyInit).
// A legacy-only iptables leaves its rules where the nft iptables-save does not look, so
// the legacy view is read when the first shows none.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { parseSave } from '../engine/iptables.ts';
import { expectProxyInit } from './proxy-init-rules.ts';
import { proxySpec } from './12-proxy-init.ts';

const step: Step = {
  id: '13-check-interception',
  title: 'Check the interception rules, one by one and in order',
  article: '查看自动注入的sidecar: proxy_init / prepare_proxy.sh',
  notes: [
    'parses `iptables-save -t nat` of the pod network namespace ' +
      'and reports every rule prepare_proxy.sh installs, in its order',
  ],
  target: 'vm',
  vm: (ctx) => {
    const ns = ctx.env.PROXY_NETNS;
    const spec = proxySpec(ctx.env);
    return {
      probe: probe`
        if [ ! -e ${`/run/netns/${ns}`} ]; then echo ${`network namespace ${ns} is absent (step 12-proxy-init)`} >&2; exit 1; fi
        out=$(ip netns exec ${ns} iptables-save -t nat 2>/dev/null || true)
        if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(ip netns exec ${ns} iptables-legacy-save -t nat); fi
        printf '%s\n' "$out"
      `,
      interpret: (out) => {
        if (out.code !== 0)
          return { ok: false, lines: [`error: ${out.stderr.trim() || `could not read the NAT table of ${ns}`}`] };
        const exp = expectProxyInit(parseSave(out.stdout), spec.port, spec.uid, spec.cidrs);
        const lines = exp.map(
          (e) =>
            `${e.ok ? 'present' : /out of order|not the last/.test(e.what) ? 'wrong order' : 'missing'}: ${e.what}`,
        );
        const bad = exp.filter((e) => !e.ok).length;
        if (bad)
          lines.push(
            `error: ${bad} of ${exp.length} expected rule(s) missing or ` +
              `out of order in network namespace ${ns}; rerun 12-proxy-init`,
          );
        return { ok: bad === 0, lines };
      },
    };
  },
};
export default step;

// Article §5 "检测" (check): the proxy's iptables interception. The article greps
// `iptables -t nat -L -v`; `iptables-save -t nat` says the same and parses reliably.
// A proxy image whose iptables is the legacy backend leaves its rules where the nft
// `iptables-save` does not look, so the legacy view is read when the first shows none.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { parseSave, expectAsmProxy } from '../engine/iptables.ts';

const step: Step = {
  id: '05-check-interception',
  title: 'Check the iptables interception rules',
  article: '§5 检测 (check)',
  notes: ['reads `iptables-save -t nat` rather than grepping `iptables -t nat -L -v`'],
  target: 'vm',
  vm: () => ({
    probe: probe`
      out=$(iptables-save -t nat 2>/dev/null || true)
      if ! grep -q ISTIO_ <<<"$out" && command -v iptables-legacy-save >/dev/null 2>&1; then out=$(iptables-legacy-save -t nat); fi
      printf '%s\n' "$out"
    `,
    interpret: (out, ctx) => {
      const exp = expectAsmProxy(parseSave(out.stdout), ctx.env.SERVICE_CIDR);
      return { ok: exp.every((e) => e.ok), lines: exp.map((e) => `${e.ok ? 'present' : 'missing'}: ${e.what}`) };
    },
  }),
};
export default step;

// Article "验证 Istio 是否成功工作" (verify, on the VM): /var/log/istio/istio.log should show
// `SDS: PUSH` and the agent's `connected to upstream XDS server`. The article tails the log
// by eye; here it waits up to 60 s for a good line, then judges the log: connected when a
// good line comes after the last known failure. Known failures found in istio.log or
// istio.err.log are printed with cause and fix; the article's healthcheck
// warning (app not listening on the probe port) is a warning, not a failure.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { ERR_LOG, LOG } from './common.ts';
import { judgeLog } from './failures.ts';

export const WAIT_S = 60;

const step: Step = {
  id: '19-check-logs',
  title: 'Check istio.log: SDS push and the connection to istiod',
  article: '验证 Istio 是否成功工作 (verify: istio.log)',
  notes: ["the article reads `tail -f` by eye; the log is judged here, with the known failures' cause and fix"],
  target: 'vm',
  vm: () => ({
    probe: probe`
      log=${LOG}
      if [ ! -f "$log" ]; then echo "no $log on this VM (istio has not run here)"; exit 0; fi
      for _ in $(seq 1 ${WAIT_S / 2}); do
        if grep -qE 'SDS: ?PUSH|connected to (delta )?upstream XDS server' "$log"; then break; fi
        sleep 2
      done
      echo '--- istio.log'
      tail -n 300 "$log"
      echo '--- istio.err.log'
      tail -n 100 ${ERR_LOG} 2>/dev/null || true
    `,
    interpret: (out) => {
      const text = out.stdout;
      if (!text.includes('--- istio.log')) {
        const lines = text.trim().split('\n');
        return { ok: false, lines: [...lines, 'error: istio never wrote its log: is the istio service running (18)?'] };
      }
      const v = judgeLog(text);
      const lines: string[] = [];
      if (v.good) lines.push(`${v.connected ? 'connected' : 'last good line'}: ${v.good}`);
      for (const f of [...new Set(v.failures.map((m) => m.failure))]) {
        const example = v.failures.find((m) => m.failure === f)!.line;
        lines.push(`${f.fatal ? 'known failure' : 'warning'}: ${example}`, `  cause: ${f.cause}; fix: ${f.fix}`);
      }
      if (!v.connected)
        lines.push(
          `error: istio.log shows no 'SDS: PUSH' or 'connected to ` +
            `upstream XDS server' after its last failure (waited ${WAIT_S} s)`,
        );
      return { ok: v.connected, lines };
    },
  }),
};
export default step;

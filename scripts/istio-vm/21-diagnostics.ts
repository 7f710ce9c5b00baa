// Article "相关故障处理" (troubleshooting): on a VM where a step failed, the tails of
// istio.err.log and istio.log, the routes and the istiod hosts line, matched line by line
// against the known failures, each printed with its cause and fix.
import type { Step } from '../engine/types.ts';
import { probe } from '../engine/sh.ts';
import { ERR_LOG, LOG } from './common.ts';
import { explainText } from './failures.ts';

const step: Step = {
  id: '21-diagnostics',
  title: 'Diagnostics (only where a step failed)',
  article: '相关故障处理 (troubleshooting)',
  notes: [
    'the article greps err.log by hand; here the logs are matched ' +
      'against the known failures and each gets its cause and fix',
  ],
  target: 'vm',
  when: 'on-failure',
  vm: () => ({
    probe: probe`
      for f in ${ERR_LOG} ${LOG}; do
        if [ -f "$f" ]; then echo "--- $f (last 40 lines)"; tail -n 40 "$f"; else echo "--- $f: absent"; fi
      done
      echo '--- ip -4 route'
      ip -4 route
      echo '--- istiod in /etc/hosts'
      grep -E 'istiod' /etc/hosts || echo '(none)'
    `,
    interpret: (out) => {
      const lines = out.stdout.trim().split('\n');
      for (const f of explainText(out.stdout)) lines.push(`known cause: ${f.cause}; fix: ${f.fix}`);
      return { ok: true, lines };
    },
  }),
};
export default step;
